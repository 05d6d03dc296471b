"""new-version and reqcheck on the real example distro: a new upstream tag lands, the packaging follows.

The example's repositories are made once (from the cached PyPI sdists); each
test works on its own copies.  python-keystoneclient's distgit is put back to
5.0.0 (packaged in July 2022), so the real 5.0.1 tag is a new version; a
5.0.2 tag with changed requirements is added on stable/zed where a test needs
one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from debian.changelog import Changelog

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._pkgdb import loader
from ansible_collections.distroforge.openstack.plugins.module_utils._release import bump

from .ansible_run import run_playbook

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = TOP / "examples" / "distro"
GIT_ENV = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "TZ": "UTC", "LC_ALL": "C"}
IDENTITY = {
    "GIT_AUTHOR_NAME": "Packager",
    "GIT_AUTHOR_EMAIL": "packager@example.org",
    "GIT_COMMITTER_NAME": "Packager",
    "GIT_COMMITTER_EMAIL": "packager@example.org",
}


def _load_make_upstreams():
    spec = importlib.util.spec_from_file_location("make_upstreams_for_bump", EXAMPLE / "make_upstreams.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


make_upstreams = _load_make_upstreams()


def _cached() -> bool:
    cache = make_upstreams.DEFAULT_CACHE
    return all((cache / r.filename).is_file() for u in make_upstreams.load_pins() for r in u.releases)


pytestmark = pytest.mark.skipif(
    not _cached(), reason="the example sdists are not cached: run `python3 examples/distro/make_upstreams.py`"
)


def git(repo: Path, *args: str, when: int | None = None) -> str:
    env = {**os.environ, **GIT_ENV, **IDENTITY}
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True, text=True).stdout


def refs(repo: Path) -> dict[str, str]:
    lines = git(repo, "for-each-ref", "--format=%(refname) %(objectname)").splitlines()
    return dict(line.split() for line in lines)


JULY_2022 = 1_658_275_200  # Wed Jul 20 2022 00:00 UTC, before 5.0.1 (2022-09-02 09:48:05)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example repositories, keystoneclient's distgit packaged at 5.0.0 in July 2022."""
    target = tmp_path_factory.mktemp("example")
    make_upstreams.make_all(target, make_upstreams.DEFAULT_CACHE, echo=False)
    work = tmp_path_factory.mktemp("rewind") / "w"
    distgit = target / "distgit" / "keystoneclient-distgit"
    git(target, "clone", "-q", "-b", "zed-rdo", str(distgit), str(work))
    spec = work / "python-keystoneclient.spec"
    spec.write_text(spec.read_text().replace("Fri Apr 05 2024", "Wed Jul 20 2022").replace("1:5.0.1-1", "1:5.0.0-1"))
    changelog = work / "debian" / "changelog"
    changelog.write_text(
        changelog.read_text()
        .replace("1:5.0.1-1", "1:5.0.0-1")
        .replace("Fri, 05 Apr 2024 00:00:00 +0000", "Wed, 20 Jul 2022 00:00:00 +0000")
    )
    git(work, "commit", "-q", "-am", "Packaging of 5.0.0", when=JULY_2022)
    git(work, "push", "-q", "origin", "zed-rdo")
    return target


@pytest.fixture
def package(example, tmp_path):
    """python-keystoneclient from the example's database, with its own copies of the upstream and distgit."""
    upstream = tmp_path / "python-keystoneclient"
    distgit = tmp_path / "keystoneclient-distgit"
    shutil.copytree(example / "upstream" / "python-keystoneclient", upstream, symlinks=True)
    shutil.copytree(example / "distgit" / "keystoneclient-distgit", distgit, symlinks=True)
    db = loader.read(str(example / "rdoinfo" / "rdo-full.yml"), release="zed", names=["keystoneclient"])
    return {**db.packages[0], "upstream": f"file://{upstream}", "distgit": f"file://{distgit}"}


def _path(url: str) -> Path:
    return Path(url.removeprefix("file://"))


def new_tag(package, version: str, requirements: str, when: int) -> str:
    """A new upstream release ``version`` on stable/zed with ``requirements``: one commit, an annotated tag."""
    upstream = _path(package["upstream"])
    work = upstream.parent / f"tag-{version}"
    git(upstream.parent, "clone", "-q", "-b", "stable/zed", str(upstream), str(work))
    (work / "requirements.txt").write_text(requirements)
    git(work, "commit", "-q", "-am", f"Release {version}", when=when)
    git(work, "tag", "-a", "-m", f"python-keystoneclient {version}", version, when=when)
    git(work, "push", "-q", "origin", "stable/zed", version)
    return git(work, "rev-parse", "HEAD").strip()


def show(package, ref: str, path: str) -> str:
    return git(_path(package["distgit"]), "show", f"{ref}:{path}")


# -- new-version -------------------------------------------------------------------------------------


def test_new_tag_gives_a_bump_branch_with_spec_and_changelog(package):
    distgit = _path(package["distgit"])
    before = refs(distgit)
    result = bump.new_version(package, author="Release Team <release@example.org>")
    assert (result.status, result.tag, result.version, result.branch) == ("bumped", "5.0.1", "5.0.1", "zed-bump-5.0.1")
    assert result.old == {"rpm": "1:5.0.0-1", "deb": "1:5.0.0-1"}
    assert result.new == {"rpm": "1:5.0.1-1", "deb": "1:5.0.1-1"}
    after = refs(distgit)
    assert {k: v for k, v in after.items() if k != "refs/heads/zed-bump-5.0.1"} == before, "existing refs moved"
    assert after["refs/heads/zed-bump-5.0.1"] == result.distgit_commit
    # One commit on top of zed-rdo, dated at the tag, by the given author.
    log = git(distgit, "log", "--format=%P|%an <%ae>|%ad|%s", "--date=iso-strict", "-1", "zed-bump-5.0.1").strip()
    parent = before["refs/heads/zed-rdo"]
    assert log == f"{parent}|Release Team <release@example.org>|2022-09-02T09:48:05+00:00|Update to 5.0.1"
    spec = show(package, "zed-bump-5.0.1", "python-keystoneclient.spec")
    assert "\nVersion:    5.0.1\nRelease:    1%{?dist}\n" in spec
    assert (
        "%changelog\n* Fri Sep 02 2022 Release Team <release@example.org> - 1:5.0.1-1\n- Update to 5.0.1\n\n"
        "* Wed Jul 20 2022 distroforge example" in spec
    )
    entry = Changelog(show(package, "zed-bump-5.0.1", "debian/changelog"), max_blocks=1)
    assert (str(entry.version), entry.distributions, entry.author) == (
        "1:5.0.1-1",
        "bookworm",
        "Release Team <release@example.org>",
    )
    assert entry.date == "Fri, 02 Sep 2022 09:48:05 +0000"
    files = git(distgit, "diff", "--name-only", "zed-rdo", "zed-bump-5.0.1").split()
    assert files == ["debian/changelog", "python-keystoneclient.spec"]


@pytest.mark.skipif(shutil.which("rpmspec") is None, reason="rpmspec is not installed")
def test_rpm_reads_the_bumped_spec(package, tmp_path):
    bump.new_version(package)
    spec = tmp_path / "bumped.spec"
    spec.write_text(show(package, "zed-bump-5.0.1", "python-keystoneclient.spec"))
    out = subprocess.run(
        ["rpmspec", "-q", "--srpm", "--qf", "%{evr}\n", str(spec)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "1:5.0.1-1"


def test_a_changelog_newer_than_the_tag_dates_the_entry(package):
    """rpmbuild refuses a %changelog out of date order: the entry never goes below a newer one."""
    upstream = _path(package["upstream"])
    distgit = _path(package["distgit"])
    work = distgit.parent / "newer"
    git(distgit.parent, "clone", "-q", "-b", "zed-rdo", str(distgit), str(work))
    spec = work / "python-keystoneclient.spec"
    spec.write_text(spec.read_text().replace("Wed Jul 20 2022", "Fri Apr 05 2024"))
    git(work, "commit", "-q", "-am", "newer entry", when=1_712_275_200)
    git(work, "push", "-q", "origin", "zed-rdo")
    result = bump.new_version(package, tag="5.0.1")
    text = show(package, result.branch, "python-keystoneclient.spec")
    assert "%changelog\n* Fri Apr 05 2024 distroforge <builder@distroforge.invalid> - 1:5.0.1-1\n" in text
    assert upstream.is_dir()


def test_a_sources_file_is_left_with_a_warning(package):
    distgit = _path(package["distgit"])
    work = distgit.parent / "lookaside"
    git(distgit.parent, "clone", "-q", "-b", "zed-rdo", str(distgit), str(work))
    line = "SHA512 (python-keystoneclient-5.0.0.tar.gz) = " + "0" * 128 + "\n"
    (work / "sources").write_text(line)
    git(work, "add", "sources")
    git(work, "commit", "-q", "-m", "sources", when=JULY_2022)
    git(work, "push", "-q", "origin", "zed-rdo")
    result = bump.new_version(package, tag="5.0.1")
    assert result.warnings == [
        "package python-keystoneclient: sources names the 5.0.0 tarball; upload the 5.0.1 tarball to the lookaside "
        "and update sources (fedpkg new-sources)"
    ]
    assert show(package, result.branch, "sources") == line


def test_a_second_run_changes_nothing(package):
    first = bump.new_version(package, tag="5.0.1")
    distgit = _path(package["distgit"])
    before = refs(distgit)
    second = bump.new_version(package, tag="5.0.1")
    assert (second.status, second.changed, second.distgit_commit) == ("exists", False, first.distgit_commit)
    assert refs(distgit) == before


def test_the_bump_commit_is_the_same_everywhere(package, example, tmp_path):
    """Two distgits with the same history give the same commit: dates and identity come from the inputs."""
    other = tmp_path / "elsewhere"
    shutil.copytree(example / "distgit" / "keystoneclient-distgit", other)
    one = bump.new_version(package, tag="5.0.1")
    two = bump.new_version({**package, "distgit": str(other)}, tag="5.0.1")
    assert one.distgit_commit == two.distgit_commit


def test_check_mode_computes_the_bump_and_creates_nothing(package):
    distgit = _path(package["distgit"])
    before = refs(distgit)
    result = bump.new_version(package, commit=False)
    assert result.status == "bumped" and refs(distgit) == before
    diff = "".join(bump.unified_diff(d) for d in result.diff)
    assert "+Version:    5.0.1\n" in diff and "+python-keystoneclient (1:5.0.1-1) bookworm; urgency=medium\n" in diff


def files_state(root: Path) -> dict[str, tuple[int, str]]:
    """Every file under ``root``: mtime and content hash."""
    return {
        str(path.relative_to(root)): (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in root.rglob("*")
        if path.is_file()
    }


@pytest.mark.parametrize("commit", [False, True], ids=["check", "bump"])
def test_no_file_of_the_distgit_changes(package, commit):
    """Only new files (the branch, its objects) appear; git freshening hard-linked objects touched old ones."""
    distgit = _path(package["distgit"])
    before = files_state(distgit)
    bump.new_version(package, commit=commit)
    after = files_state(distgit)
    assert {path: after.get(path) for path in before} == before
    assert (set(after) - set(before) == set()) is (not commit)


def test_packaging_at_the_newest_tag_is_current(package, example):
    current = {**package, "distgit": str(example / "distgit" / "keystonemiddleware-distgit")}
    current["upstream"] = str(example / "upstream" / "keystonemiddleware")
    before = refs(example / "distgit" / "keystonemiddleware-distgit")
    result = bump.new_version(current)
    assert (result.status, result.changed, result.tag) == ("current", False, "")
    assert refs(example / "distgit" / "keystonemiddleware-distgit") == before


def test_the_newest_tag_on_the_branch_wins_and_prereleases_wait(package):
    new_tag(package, "5.0.2", "pbr>=2.0.0\n", 1_700_000_000)
    new_tag(package, "5.0.3.0rc1", "pbr>=3.0.0\n", 1_700_000_100)
    assert bump.new_version(package, commit=False).tag == "5.0.2"
    candidate = bump.new_version(package, commit=False, prerelease=True)
    assert (candidate.tag, candidate.version, candidate.branch) == ("5.0.3.0rc1", "5.0.3~rc1", "zed-bump-5.0.3~rc1")


# -- bad input: one line naming the package and what to do ---------------------------------------------


def one_line(call) -> str:
    with pytest.raises(InputError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message, message
    return message


def test_a_tag_that_does_not_exist(package):
    distgit = _path(package["distgit"])
    before = refs(distgit)
    message = one_line(lambda: bump.new_version(package, tag="9.9.9"))
    assert message.startswith("package python-keystoneclient: upstream ") and "has no tag '9.9.9'" in message
    assert "newest: 5.0.1" in message
    assert refs(distgit) == before


def test_a_version_lower_than_the_packaged_one(package, example):
    current = {**package, "distgit": str(example / "distgit" / "keystonemiddleware-distgit")}
    current["upstream"] = str(example / "upstream" / "keystonemiddleware")
    message = one_line(lambda: bump.new_version(current, tag="10.0.1"))
    assert message == (
        "package python-keystoneclient: tag 10.0.1 (10.0.1) sorts lower than the packaged rpm 10.1.1-1, "
        "deb 10.1.1-1; name a newer tag (vercmp)"
    )


def test_an_existing_branch_with_other_content_is_left_alone(package):
    distgit = _path(package["distgit"])
    git(distgit, "branch", "zed-bump-5.0.1", "zed-rdo")
    before = refs(distgit)
    message = one_line(lambda: bump.new_version(package, tag="5.0.1"))
    assert "branch zed-bump-5.0.1 of" in message and "exists and holds other changes" in message
    assert refs(distgit) == before


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"author": "nobody"}, "author 'nobody' is not 'Name <email>'"),
        ({"distgit_branch": "wallaby-rdo"}, "no branch wallaby-rdo"),
        ({"distgit": None}, "package python-keystoneclient: no 'distgit' in the package database entry"),
        ({"tag": "stable/zed"}, "has no tag 'stable/zed'"),
    ],
)
def test_bad_entries_are_one_line(package, change, expected):
    author = change.pop("author", bump.DEFAULT_AUTHOR)
    tag = change.pop("tag", None)
    assert expected in one_line(lambda: bump.new_version({**package, **change}, tag=tag, author=author))


def test_a_tag_that_is_not_a_version():
    assert "is not a version" in one_line(lambda: bump.distro_version("latest", "package x"))
    assert "is not a release version" in one_line(lambda: bump.distro_version("5.0.2.dev3", "package x"))


def test_a_broken_debian_changelog_is_one_line(package):
    distgit = _path(package["distgit"])
    work = distgit.parent / "broken"
    git(distgit.parent, "clone", "-q", "-b", "zed-rdo", str(distgit), str(work))
    (work / "debian" / "changelog").write_text("python-keystoneclient (1:5.0.0-1 bookworm; urgency=medium\n")
    git(work, "commit", "-q", "-am", "broken", when=JULY_2022)
    git(work, "push", "-q", "origin", "zed-rdo")
    message = one_line(lambda: bump.new_version(package, tag="5.0.1"))
    assert message.startswith("python-keystoneclient distgit zed-rdo: debian/changelog: does not parse")


# -- the modules ------------------------------------------------------------------------------------------


def test_the_modules_bump_then_fail_reqcheck_in_one_line(package, tmp_path):
    new_tag(package, "5.0.2", "pbr>=2.0.0\noslo.config>=5.2.0\ntenacity>=6.0.0\n", 1_700_000_000)
    overrides = tmp_path / "overrides.yml"
    overrides.write_text("ignore_build: [hacking, coverage]\n")
    results = tmp_path / "results.json"
    tasks = [
        {"name": "Bump", "distroforge.openstack.package_new_version": {"package": "{{ pkg }}"}, "register": "bump"},
        {
            "name": "Check",
            "distroforge.openstack.package_reqcheck": {
                "package": "{{ pkg }}",
                "tag": "{{ bump.tag }}",
                "check": ["runtime"],
                "formats": ["rpm"],
                "overrides": str(overrides),
                "fail_on": ["missing", "mismatch"],
            },
            "register": "check",
            "ignore_errors": True,
        },
        {
            "name": "Save",
            "ansible.builtin.copy": {"content": "{{ {'bump': bump, 'check': check} | to_json }}", "dest": str(results)},
        },
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    run_playbook(playbook, {"pkg": package}, timeout=300)
    out = json.loads(results.read_text())
    assert (out["bump"]["changed"], out["bump"]["status"], out["bump"]["branch"]) == (True, "bumped", "zed-bump-5.0.2")
    check = out["check"]
    assert check["failed"] and "\n" not in check["msg"]
    assert check["msg"] == (
        "python-keystoneclient 5.0.2: 1 finding(s) with a status in fail_on (missing python3-tenacity); "
        "fix the packaging or list them in the overrides file"
    )
    assert check["counts"]["excess"] == 9 and check["old_tag"] == "5.0.0"


# -- reqcheck on the real requirements --------------------------------------------------------------------


def test_reqcheck_of_the_real_requirements(package):
    report = bump.reqcheck_package(package, tag="5.0.1", kinds=("runtime",))
    rpm = {f.package: f.status for f in report.findings["rpm"]["runtime"]}
    deb = {f.package: f.status for f in report.findings["deb"]["runtime"]}
    # Every requirements.txt line of 5.0.1 is in the spec with upstream's minimum; importlib_metadata
    # (python_version<'3.8') is for no target.
    assert rpm == {
        name: "met"
        for name in [
            "python3-pbr",
            "python3-debtcollector",
            "python3-keystoneauth1",
            "python3-oslo-config",
            "python3-oslo-i18n",
            "python3-oslo-serialization",
            "python3-oslo-utils",
            "python3-requests",
            "python3-six",
            "python3-stevedore",
            "python3-packaging",
        ]
    }
    assert deb["python3-six"] == "met" and deb["python3-oslo.config"] == "any_version"
    assert {p for p, s in deb.items() if s == "excess"} == {"python3-keyring", "python3-lxml"}
    assert report.old_tag == "5.0.0" and report.counts()["removed"] == 0
    assert "python3-importlib-metadata" not in rpm and "python3-importlib-metadata" not in deb


def test_reqcheck_after_a_new_tag_with_changed_requirements(package):
    """5.0.2 drops six, raises oslo.config, adds tenacity and a Python >= 3.10 only requirement."""
    text = show(package, "zed-rdo", "python-keystoneclient.spec")
    assert "python3-six" in text
    requirements = (
        "pbr!=2.1.0,>=2.0.0 # Apache-2.0\ndebtcollector>=1.2.0\nkeystoneauth1>=3.4.0\noslo.config>=9.0.0\n"
        "oslo.i18n>=3.15.3\noslo.serialization!=2.19.1,>=2.18.0\noslo.utils>=3.33.0\nrequests>=2.14.2\n"
        "stevedore>=1.20.0\npackaging>=20.4\ntenacity>=6.0.0\nexceptiongroup>=1.0; python_version>='3.10'\n"
    )
    new_tag(package, "5.0.2", requirements, 1_700_000_000)
    result = bump.new_version(package)
    assert (result.tag, result.branch) == ("5.0.2", "zed-bump-5.0.2")
    report = bump.reqcheck_package(package, tag="5.0.2", kinds=("runtime",))
    rpm = {(f.status, f.package) for f in report.findings["rpm"]["runtime"] if f.status != "met"}
    deb = {(f.status, f.package) for f in report.findings["deb"]["runtime"] if f.status not in ("met", "any_version")}
    assert rpm == {
        ("mismatch", "python3-oslo-config"),
        ("missing", "python3-tenacity"),
        ("excess", "python3-six"),
        ("removed", "python3-six"),
    }
    # bookworm's Python 3.11 takes the exceptiongroup line, EL9's 3.9 does not.
    assert deb == {
        ("missing", "python3-tenacity"),
        ("missing", "python3-exceptiongroup"),
        ("excess", "python3-six"),
        ("excess", "python3-keyring"),
        ("excess", "python3-lxml"),
        ("removed", "python3-six"),
    }
    assert report.old_tag == "5.0.0"
    assert len(report.failing(["missing", "mismatch"])) == 4
    assert "MISMATCH:\n    python3-oslo-config: oslo.config>=9.0.0  (python3-oslo-config >= 2:5.2.0 packaged)" in (
        report.text()
    )


def test_reqcheck_of_a_broken_requirement_line_is_one_line(package):
    new_tag(package, "5.0.2", "pbr>=2.0.0\noslo.config>=>5\n", 1_700_000_000)
    message = one_line(lambda: bump.reqcheck_package(package, tag="5.0.2"))
    assert message.startswith("python-keystoneclient 5.0.2: requirements.txt line 2: 'oslo.config>=>5' is not")


def test_reqcheck_of_a_tag_that_does_not_exist(package):
    message = one_line(lambda: bump.reqcheck_package(package, tag="7.0.0"))
    assert message.startswith("package python-keystoneclient: upstream ") and "has no tag '7.0.0'" in message


# -- the peer: rdopkg reqcheck on the same spec and requirements ------------------------------------------

RDOPKG = """
import json, sys
from rdopkg.actionmods import reqs
found = reqs.reqcheck_spec(sys.argv[2], ref=sys.argv[1])
names = ("met", "any_version", "mismatch", "missing", "excess", "removed")
print(json.dumps({name: sorted(r.name for r in items) for name, items in zip(names, found)}))
"""


def rdopkg_reqcheck(package, tag: str, tmp_path: Path) -> dict[str, set[str]]:
    """``rdopkg reqcheck`` (its library: the command would fetch rdoinfo) in a clone of the distgit holding the tag."""
    work = tmp_path / "rdopkg"
    git(tmp_path, "clone", "-q", "-b", package["distgit_branch"], str(_path(package["distgit"])), str(work))
    git(work, "fetch", "-q", str(_path(package["upstream"])), "refs/tags/*:refs/tags/*")
    out = subprocess.run(
        [sys.executable, "-c", RDOPKG, tag, "3.9"], cwd=work, capture_output=True, text=True, check=True
    ).stdout
    found = json.loads(out.strip().splitlines()[-1])
    # rdopkg names python3-* packages python-*, and counts non-Python Requires (/bin/sh, shadow-utils) as
    # excess; ours leaves those out by design.
    return {status: {n for n in names if n.startswith(("python-", "openstack-"))} for status, names in found.items()}


def ours(package, tag: str) -> dict[str, set[str]]:
    report = bump.reqcheck_package(package, tag=tag, kinds=("runtime",), formats=("rpm",))
    out: dict[str, set[str]] = {status: set() for status in ("met", "any_version", "mismatch", "missing", "excess")}
    for finding in report.findings["rpm"]["runtime"]:
        if finding.status in out:
            out[finding.status].add(finding.package.replace("python3-", "python-", 1))
    return out


@pytest.mark.parametrize(
    "case",
    [("keystone", "keystone", "22.0.2"), ("keystoneclient", "python-keystoneclient", "5.0.1"),
     ("keystonemiddleware", "keystonemiddleware", "10.1.1")],
    ids=["keystone", "keystoneclient", "keystonemiddleware"],
)  # fmt: skip
def test_reqcheck_agrees_with_rdopkg_on_the_example(package, example, tmp_path, case):
    project, upstream, tag = case
    entry = {
        **package,
        "upstream": str(example / "upstream" / upstream),
        "distgit": str(example / "distgit" / f"{project}-distgit"),
    }
    theirs = rdopkg_reqcheck(entry, tag, tmp_path)
    mine = ours(entry, tag)
    assert {k: v for k, v in theirs.items() if k != "removed"} == mine
    assert sum(len(v) for v in mine.values()) > 10


def test_reqcheck_agrees_with_rdopkg_after_a_new_tag(package, tmp_path):
    """A raised minimum (mismatch), a new requirement (missing), a dropped one (excess) and a marker."""
    requirements = (
        "pbr!=2.1.0,>=2.0.0\ndebtcollector>=1.2.0\nkeystoneauth1>=3.4.0\noslo.config>=9.0.0\noslo.i18n>=3.15.3\n"
        "oslo.serialization!=2.19.1,>=2.18.0\noslo.utils>=3.33.0\nrequests>=2.14.2\nstevedore>=1.20.0\n"
        "packaging>=20.4\ntenacity>=6.0.0\nexceptiongroup>=1.0; python_version>='3.10'\n"
    )
    new_tag(package, "5.0.2", requirements, 1_700_000_000)
    theirs = rdopkg_reqcheck(package, "5.0.2", tmp_path)
    mine = ours(package, "5.0.2")
    assert {k: v for k, v in theirs.items() if k != "removed"} == mine
    assert (mine["mismatch"], mine["missing"], mine["excess"]) == (
        {"python-oslo-config"},
        {"python-tenacity"},
        {"python-six"},
    )
