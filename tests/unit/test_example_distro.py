"""The bundled example distro: packaging, package database and the repository maker."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from debian import changelog, deb822

from ansible_collections.distroforge.openstack.plugins.module_utils._pkgdb import loader
from ansible_collections.distroforge.openstack.plugins.module_utils._versions import pbr

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "distro"
PACKAGING = EXAMPLE / "packaging"

# project: (spec, sdist name, Debian source, binaries, Debian epoch, rpm Epoch)
PACKAGES = {
    "keystone": ("openstack-keystone.spec", "keystone", "keystone", ["python3-keystone", "keystone"], 2, 1),
    "keystoneclient": (
        "python-keystoneclient.spec",
        "python-keystoneclient",
        "python-keystoneclient",
        ["python3-keystoneclient"],
        1,
        1,
    ),
    "keystonemiddleware": (
        "python-keystonemiddleware.spec",
        "keystonemiddleware",
        "python-keystonemiddleware",
        ["python3-keystonemiddleware"],
        None,
        None,
    ),
}


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


make_upstreams = _load("make_upstreams")
new_commit = _load("new_commit")


def _spec_macros(text: str) -> dict:
    """Expand the %global/%define names a spec's tags use (one level, enough here)."""
    return dict(re.findall(r"^%(?:global|define)\s+(\w+)\s+(\S+)\s*$", text, re.MULTILINE))


@pytest.mark.parametrize("project", sorted(PACKAGES))
def test_debian_packaging_parses(project):
    source, binaries, epoch = PACKAGES[project][2:5]
    debian = PACKAGING / project / "debian"
    paragraphs = list(deb822.Deb822.iter_paragraphs((debian / "control").read_text()))
    assert paragraphs[0]["Source"] == source
    assert [p["Package"] for p in paragraphs[1:]] == binaries
    assert all(p["Architecture"] == "all" for p in paragraphs[1:])
    log = changelog.Changelog((debian / "changelog").read_text())
    assert log.package == source
    assert log.version.epoch == (str(epoch) if epoch is not None else None)
    assert log.version.debian_revision == "1"
    assert (debian / "source" / "format").read_text().strip() in ("3.0 (quilt)", "3.0 (native)")
    rules = debian / "rules"
    assert os.access(rules, os.X_OK), f"{rules} must be executable"
    text = rules.read_text()
    assert "dh $@ --with python3 --buildsystem=pybuild" in text
    assert re.search(r"^export PBR_VERSION :?= .*DEB_VERSION_UPSTREAM", text, re.MULTILINE)
    assert re.search(r"^override_dh_auto_test:", text, re.MULTILINE)
    assert "License: Apache-2.0" in (debian / "copyright").read_text()


def test_keystone_binaries_match_what_debian_dependents_expect():
    paragraphs = list(deb822.Deb822.iter_paragraphs((PACKAGING / "keystone/debian/control").read_text()))
    keystone = next(p for p in paragraphs if p.get("Package") == "keystone")
    assert "python3-keystone (= ${binary:Version})" in keystone["Depends"]
    postinst = (PACKAGING / "keystone/debian/keystone.postinst").read_text()
    for needed in ("adduser", "/var/lib/keystone", "/var/log/keystone", "#DEBHELPER#"):
        assert needed in postinst
    # One keystone.conf for both formats: the spec's Source1 and debian/.
    assert (PACKAGING / "keystone/keystone.conf").read_text() == (
        PACKAGING / "keystone/debian/keystone.conf"
    ).read_text()


@pytest.mark.parametrize("project", sorted(PACKAGES))
def test_spec_is_dlrn_ready_and_needs_no_fedora_macros(project):
    spec_name, sdist = PACKAGES[project][:2]
    rpm_epoch = PACKAGES[project][5]
    text = (PACKAGING / project / spec_name).read_text()
    assert re.search(r"^Version:\s+XXX$", text, re.MULTILINE)
    assert re.search(r"^Release:\s+XXX$", text, re.MULTILINE)
    assert "%{!?upstream_version: %global upstream_version %{version}%{?milestone}}" in text
    assert re.search(r"^BuildArch:\s+noarch$", text, re.MULTILINE)
    macros = _spec_macros(text)
    source0 = re.search(r"^Source0:\s+(\S+)$", text, re.MULTILINE).group(1)
    setup = re.search(r"^%setup .*-n (\S+)$", text, re.MULTILINE).group(1)
    for name, value in macros.items():
        source0 = source0.replace(f"%{{{name}}}", value)
        setup = setup.replace(f"%{{{name}}}", value)
    name = re.search(r"^Name:\s+(\S+)$", text, re.MULTILINE).group(1).replace("%{sname}", macros.get("sname", ""))
    source0 = source0.replace("%{name}", name)
    setup = setup.replace("%{name}", name)
    assert source0.rsplit("/", 1)[-1] == f"{sdist}-%{{upstream_version}}.tar.gz"
    assert setup == f"{sdist}-%{{upstream_version}}"
    assert "export PBR_VERSION=%{upstream_version}" in text
    assert not re.search(r"%\{?py3_(build|install)|%pyproject_", text), "Fedora python macros do not exist on Debian"
    epoch = re.search(r"^Epoch:\s+(\d+)$", text, re.MULTILINE)
    assert (int(epoch.group(1)) if epoch else None) == rpm_epoch


def test_package_database_loads():
    db = loader.read(str(EXAMPLE / "rdo-full.yml"), release="zed")
    packages = {p["project"]: p for p in db.packages}
    assert sorted(packages) == sorted(PACKAGES)
    assert packages["keystone"]["name"] == "openstack-keystone"
    assert (
        packages["keystoneclient"]["upstream"] == "file:///var/lib/distroforge/example/upstream/python-keystoneclient"
    )
    for project, pkg in packages.items():
        assert pkg["distgit_branch"] == "zed-rdo"
        assert pkg["source_branch"] == "stable/zed"
        assert pkg["distgit"] == f"file:///var/lib/distroforge/example/distgit/{project}-distgit"


def test_written_database_names_the_target(tmp_path):
    entry = make_upstreams.write_pkgdb(tmp_path)
    db = loader.read(str(entry), release="zed")
    assert {p["upstream"] for p in db.packages} == {
        f"file://{tmp_path}/upstream/{repo}" for repo in ("keystone", "python-keystoneclient", "keystonemiddleware")
    }


def test_release_list_is_ordered_by_upload_time():
    for upstream in make_upstreams.load_pins():
        assert len(upstream.releases) >= 2
        times = [r.timestamp for r in upstream.releases]
        assert times == sorted(times), f"{upstream.repo}: releases must be in upload order (commit times grow)"
        assert (PACKAGING / upstream.project).is_dir()


def _cached() -> bool:
    cache = make_upstreams.DEFAULT_CACHE
    return all(
        (cache / r.filename).is_file() and (cache / r.filename).stat().st_size == r.size
        for u in make_upstreams.load_pins()
        for r in u.releases
    )


needs_sdists = pytest.mark.skipif(
    not _cached(),
    reason=f"the example sdists are not in {make_upstreams.DEFAULT_CACHE}: "
    "run `python3 examples/distro/make_upstreams.py` (`make example` and `make unit` do) to download them",
)


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    """The example repositories made twice, in two directories, from the cache only."""
    results = []
    for name in ("one", "two"):
        target = tmp_path_factory.mktemp(name)
        results.append((target, make_upstreams.make_all(target, make_upstreams.DEFAULT_CACHE, echo=False)))
    return results


@pytest.mark.slow
@needs_sdists
def test_make_upstreams_is_deterministic(two_builds):
    (first, one), (second, two) = two_builds
    assert {path.replace(str(first), str(second)): refs for path, refs in one.items()} == two
    for path in one:
        refs = [
            subprocess.run(["git", "-C", repo, "show-ref"], capture_output=True, text=True, check=True).stdout
            for repo in (path, path.replace(str(first), str(second)))
        ]
        assert refs[0] == refs[1], f"{path}: branches or tags differ between two runs"


@pytest.mark.slow
@needs_sdists
def test_tags_give_the_pypi_versions_and_new_commit_a_dev_version(two_builds):
    target = two_builds[0][0]
    for upstream in make_upstreams.load_pins():
        repo = target / "upstream" / upstream.repo
        for release in upstream.releases:
            version = pbr.package_version(repo, release.version)
            assert version.upstream_version == release.version
            assert version.tag == release.version
            assert version.rpm_version == release.version
            assert version.commit_time == release.timestamp
            assert version.deb_version == f"{release.version}-1"
        assert pbr.package_version(repo, "stable/zed").commit_hash == pbr.package_version(repo, "master").commit_hash
    keystone = target / "upstream" / "keystone"
    commit = new_commit.add_commit(keystone)
    again = new_commit.add_commit(two_builds[1][0] / "upstream" / "keystone")
    assert commit == again
    version = pbr.package_version(keystone, "stable/zed", epoch=2)
    assert (version.commit_hash, version.upstream_version) == (commit, "22.0.3.dev1")
    assert version.deb_version.startswith("2:22.0.3~~git")
    assert pbr.package_version(keystone, "master").commit_hash == commit
    # Made again, the repository keeps the commit on top.
    make_upstreams.make_all(target, make_upstreams.DEFAULT_CACHE, echo=False)
    assert pbr.package_version(keystone, "stable/zed").commit_hash == commit
