"""Tagged builds of the example distro: final versions, bit-identical rebuilds, immutable NVRs."""

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._build.runner import BuildSettings, build_one
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._release import tagged

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "distro"
sys.path.insert(0, str(EXAMPLE))

import make_upstreams  # pylint: disable=wrong-import-position
import new_commit  # pylint: disable=wrong-import-position

GIT_ENV = {**make_upstreams.GIT_ENV, **make_upstreams.commit_env(1_712_275_200), "PATH": "/usr/bin:/bin"}

pytestmark = [
    pytest.mark.skipif(not shutil.which("bwrap") or not shutil.which("rpmbuild"), reason="needs bwrap and rpmbuild"),
    pytest.mark.skipif(
        not all(
            (make_upstreams.DEFAULT_CACHE / r.filename).is_file()
            for u in make_upstreams.load_pins()
            if u.project == "keystonemiddleware"
            for r in u.releases
        ),
        reason="the example sdists are not cached: run `python3 examples/distro/make_upstreams.py`",
    ),
]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The example repositories and database, made once (from the sdist cache)."""
    target = tmp_path_factory.mktemp("made") / "example"
    make_upstreams.make_all(target, make_upstreams.DEFAULT_CACHE, echo=False)
    return target


@pytest.fixture
def example(made, tmp_path):
    """A copy of the example for one test, whose database names the copy."""
    target = tmp_path / "example"
    shutil.copytree(made, target, symlinks=True)
    make_upstreams.write_pkgdb(target)
    return target


def settings(tmp: Path, backend: str, name: str) -> BuildSettings:
    return BuildSettings(backend=backend, workdir=str(tmp / name), mirror_dir=str(tmp / name / "git"))


def middleware_job(example: Path):
    pkgdb = str(example / "rdoinfo" / "rdo-full.yml")
    [job] = tagged.plan(pkgdb, "zed", str(example / "git"), names=["keystonemiddleware"])
    return job


def digests(paths, suffix):
    return {Path(p).name: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths if p.endswith(suffix)}


def edit_distgit(example: Path, project: str, edit) -> None:
    """Commit an edit of the packaging on zed-rdo, as a packager would."""
    bare = example / "distgit" / f"{project}-distgit"
    work = example / f"{project}-work-{len(list(example.glob(f'{project}-work-*')))}"
    subprocess.run(["git", "clone", "-q", "-b", "zed-rdo", str(bare), str(work)], check=True, env=GIT_ENV)
    edit(work)
    subprocess.run(["git", "-C", str(work), "commit", "-qam", "packaging change"], check=True, env=GIT_ENV)
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "zed-rdo"], check=True, env=GIT_ENV)


def test_the_example_pins_real_tags_and_keystone_has_a_newer_one(example):
    pins = {pin.project: pin for pin in tagged.pins(str(example / "rdoinfo" / "rdo-full.yml"), "zed")}
    assert {name: pin.ref for name, pin in pins.items()} == {
        "keystone": "22.0.1",
        "keystoneclient": "5.0.1",
        "keystonemiddleware": "10.1.1",
    }
    assert tagged.newer_tags(str(example / "upstream" / "keystone"), "22.0.1") == ["22.0.2"]
    assert tagged.newer_tags(str(example / "upstream" / "keystonemiddleware"), "10.1.1") == []


@pytest.mark.parametrize(
    ("backend", "nvr", "suffix"),
    [
        ("rpmbuild", "python-keystonemiddleware-10.1.1-1", ".rpm"),
        ("dpkg", "python-keystonemiddleware_10.1.1-1", ".deb"),
    ],
)
def test_a_tag_build_gets_the_final_version_and_rebuilds_bit_identically(example, tmp_path, backend, nvr, suffix):
    if backend == "dpkg" and not shutil.which("dpkg-buildpackage"):
        pytest.skip("needs dpkg-buildpackage")
    job = middleware_job(example)
    first = build_one(job, settings(tmp_path, backend, "a"))
    second = build_one(job, settings(tmp_path, backend, "elsewhere/b"))
    assert first.status == second.status == "SUCCESS", first.log_tail
    assert first.nvr == second.nvr == nvr  # no snapshot suffix, Release from the packaging
    assert first.version["upstream_version"] == "10.1.1" and first.version["tag"] == "10.1.1"
    one, two = digests(first.artifacts, suffix), digests(second.artifacts, suffix)
    assert one and one == two
    store = tmp_path / "store"
    assert tagged.record(store, first).state == "new"
    assert tagged.record(store, second).state == "unchanged"
    path, info = tagged.stored(store, "keystonemiddleware", nvr)
    assert info["inputs"]["release_build"] is True
    assert {p.name for p in tagged.package_files(path, info)} >= set(one)


def test_a_released_nvr_is_immutable_and_a_release_bump_builds(example, tmp_path):
    store = tmp_path / "store"
    build = build_one(middleware_job(example), settings(tmp_path, "rpmbuild", "a"))
    assert tagged.record(store, build).state == "new"
    spec = "python-keystonemiddleware.spec"

    def reword(work: Path) -> None:
        text = (work / spec).read_text()
        (work / spec).write_text(text.replace("Summary:", "Summary:        (packaging fix)\n#", 1))

    edit_distgit(example, "keystonemiddleware", reword)
    changed = build_one(middleware_job(example), settings(tmp_path, "rpmbuild", "b"))
    assert changed.status == "SUCCESS" and changed.nvr == build.nvr
    with pytest.raises(InputError) as refused:
        tagged.record(store, changed)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("keystonemiddleware: python-keystonemiddleware-10.1.1-1 is already released")
    assert "packaging " in message and "bump the Release" in message
    assert tagged.record(store, build).state == "unchanged"  # the released one is untouched

    def bump(work: Path) -> None:
        text = (work / spec).read_text()
        (work / spec).write_text(re.sub(r"(?m)^Release:\s+XXX$", "Release: 2%{?dist}", text, count=1))

    edit_distgit(example, "keystonemiddleware", bump)
    bumped = build_one(middleware_job(example), settings(tmp_path, "rpmbuild", "c"))
    assert bumped.nvr == "python-keystonemiddleware-10.1.1-2", bumped.log_tail
    assert tagged.record(store, bumped).state == "new"


def test_a_missing_tag_and_an_untagged_head_are_one_line_each(example, tmp_path):
    pkgdb = example / "rdoinfo" / "tags" / "zed.yml"
    pkgdb.write_text(pkgdb.read_text().replace("source-branch: 10.1.1", "source-branch: 10.9.9"))
    with pytest.raises(InputError) as missing:
        middleware_job(example)
    assert str(missing.value).startswith("keystonemiddleware: source-branch '10.9.9' is no tag or branch")
    assert "\n" not in str(missing.value)
    pkgdb.write_text(pkgdb.read_text().replace("source-branch: 10.9.9", "source-branch: stable/zed"))
    new_commit.add_commit(example / "upstream" / "keystonemiddleware")
    result = build_one(middleware_job(example), settings(tmp_path, "rpmbuild", "a"))
    assert result.status == "FAILED"
    assert "carries no version tag (pbr version 10.1.2.dev1)" in result.error
