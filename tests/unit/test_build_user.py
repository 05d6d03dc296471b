"""Builds as an unprivileged build user: who owns the results, what the build can write."""

import hashlib
import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._build import privs
from ansible_collections.distroforge.openstack.plugins.module_utils._build.runner import (
    BuildJob,
    BuildSettings,
    build_as,
    build_one,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import DistroforgeError, InputError

from .buildfixtures import CHANGELOG, head, make_distgit, make_upstream
from .gitrepos import git

# `nobody` stands in for builder_setup's distroforge-build: any user without rights to root's files.
USER = "nobody"
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root (CI and make run as root)"),
    pytest.mark.skipif(not shutil.which("bwrap"), reason="needs bubblewrap (run `make`)"),
]


@pytest.fixture
def open_tmp():
    """A directory the build user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="df-build-user-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def job_for(up: Path, dg: Path) -> BuildJob:
    return BuildJob("hellodf", "python-hellodf", str(up), str(dg), head(up), head(dg))


def settings(tmp: Path, name: str, backend: str = "dpkg") -> BuildSettings:
    return BuildSettings(backend=backend, workdir=str(tmp / name), mirror_dir=str(tmp / name / "mirrors"))


def test_builds_run_as_the_build_user_own_their_results_and_match_roots(open_tmp):
    up, dg = make_upstream(open_tmp), make_distgit(open_tmp)
    uid = pwd.getpwnam(USER).pw_uid
    as_root = build_one(job_for(up, dg), settings(open_tmp, "root"))
    (as_user,) = build_as(USER, [job_for(up, dg)], settings(open_tmp, "user"))
    assert as_root.status == as_user["status"] == "SUCCESS", as_user["log_tail"]
    for path in [as_user["result_dir"], *as_user["files"]]:
        assert os.stat(path).st_uid == uid, path
    assert os.stat(open_tmp / "user" / "mirrors").st_uid == uid  # a new mirror dir is the user's too

    def debs(paths):
        return {Path(p).name: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths if p.endswith(".deb")}

    assert debs(as_user["artifacts"]) and debs(as_user["artifacts"]) == debs(as_root.artifacts)


def test_a_work_dir_used_by_root_before_is_handed_to_the_build_user(open_tmp):
    up, dg = make_upstream(open_tmp), make_distgit(open_tmp)
    first = build_one(job_for(up, dg), settings(open_tmp, "w", "rpmbuild"))  # as root
    assert first.status == "SUCCESS", first.log_tail
    (again,) = build_as(USER, [job_for(up, dg)], settings(open_tmp, "w", "rpmbuild"))
    assert again["status"] == "SUCCESS", again["log_tail"]  # replaced root's result in place
    assert os.stat(again["log"]).st_uid == pwd.getpwnam(USER).pw_uid


def test_code_run_as_the_build_user_cannot_write_outside_what_it_owns(open_tmp):
    victim = open_tmp / "victim"
    victim.mkdir()
    (victim / "keep").write_text("root's file\n")
    user = privs.lookup(USER)
    assert privs.run_as(user, os.getuid) == user.uid

    def overwrite():
        (victim / "keep").write_text("pwned\n")

    with pytest.raises(DistroforgeError, match=r"PermissionError: .*Permission denied"):
        privs.run_as(user, overwrite)
    assert (victim / "keep").read_text() == "root's file\n"


def test_a_distgit_symlink_out_of_the_tree_is_refused(open_tmp):
    # Without the check, the engine would prepend its changelog entry to the target: any file of the builder.
    victim = open_tmp / "changelog"
    victim.write_text(CHANGELOG)
    up, dg = make_upstream(open_tmp), make_distgit(open_tmp)
    (dg / "debian" / "changelog").unlink()
    (dg / "debian" / "changelog").symlink_to(victim)
    git(dg, "add", "-A")
    git(dg, "commit", "-q", "-m", "changelog elsewhere", when=1_700_100_000)
    for result in (
        build_one(job_for(up, dg), settings(open_tmp, "root")).as_dict(),
        build_as(USER, [job_for(up, dg)], settings(open_tmp, "user"))[0],
    ):
        assert result["status"] == "FAILED"
        assert result["error"] == (
            f"hellodf: distgit file 'debian/changelog' is a symlink to '{victim}', outside the distgit; "
            "packaging must be self-contained (commit the file instead)"
        )
    assert victim.read_text() == CHANGELOG


def test_an_unknown_build_user_is_named(open_tmp):
    with pytest.raises(InputError, match="build_user: there is no user 'df-no-such-user' on this builder"):
        build_as("df-no-such-user", [], settings(open_tmp, "w"))
