"""The repository of a test-bisect state: the good repository with the changed packages replaced, signed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._publish import debrepo
from ansible_collections.distroforge.openstack.plugins.module_utils._release import stages
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB
from ansible_collections.distroforge.openstack.plugins.module_utils._triage import state_repo
from ansible_collections.distroforge.openstack.plugins.module_utils._triage.bisect import Bisect, Candidate

from .pkgfactory import add_build, build_deb, hexhash, make_signing_key, stop_gpg_agent

pytestmark = pytest.mark.skipif(
    not shutil.which("dpkg-deb") or not shutil.which("apt-ftparchive"), reason="needs dpkg-deb and apt-ftparchive"
)


@pytest.fixture(scope="module")
def gnupg(tmp_path_factory):
    home = tmp_path_factory.mktemp("gnupg")
    make_signing_key(home)
    yield home
    stop_gpg_agent(home)


@pytest.fixture
def world(tmp_path, gnupg):
    """alpha and beta published as the build publisher lays them out: alpha's repository links to beta's build."""
    repos = tmp_path / "repos"
    with StateDB(tmp_path / "state.db") as db:
        alpha = add_build(db, "alpha", 0)
        beta = add_build(db, "beta", 0)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    beta_dir = repos / beta.repo_path
    beta_dir.mkdir(parents=True)
    shutil.copy2(build_deb(scratch, "python3-beta", "1.0-1"), beta_dir)
    good_dir = repos / alpha.repo_path
    good_dir.mkdir(parents=True)
    shutil.copy2(build_deb(scratch / "old", "python3-alpha", "1.0-1"), good_dir)
    (good_dir / "python3-beta_1.0-1_all.deb").symlink_to(
        Path("..") / ".." / ".." / beta.repo_path / "python3-beta_1.0-1_all.deb"
    )
    (good_dir / "build.log").write_text("not a package\n")
    plan = Bisect(
        kind="test",
        release="master",
        good={
            "alpha": {"commit_hash": alpha.commit_hash, "distro_hash": alpha.distro_hash},
            "beta": {"commit_hash": beta.commit_hash, "distro_hash": beta.distro_hash},
        },
        good_repo_hash=alpha.repo_hash,
        bad_repo_hash="f" * 40 + "_ffffffff",
        candidates=[
            Candidate("alpha", "distgit", hexhash("d", n), 100 + n, "Test Bot", f"change {n}") for n in range(3)
        ],
        tests=["tempest.api.identity.v3.test_x"],
    )
    # the state's build of alpha: same version (a packaging change), other content
    new = scratch / "new"
    new.mkdir()
    (new / "marker").write_text("state 1")
    built = build_deb(new, "python3-alpha", "1.0-1")
    options = stages.PublishOptions(repos_dir=repos, gpg_home=gnupg, reponame="delorean")
    return tmp_path / "state.db", plan, built, options


def published_names_and_sizes(link: Path) -> dict:
    packages = (link / "Packages").read_text()
    return {
        block["Package"]: int(block["Size"])
        for block in (
            dict(line.split(": ", 1) for line in chunk.splitlines() if ": " in line) for chunk in packages.split("\n\n")
        )
        if block
    }


def test_the_state_repository_replaces_only_the_changed_package_and_is_signed(world):
    db_path, plan, built, options = world
    with StateDB(db_path) as db:
        repo = state_repo.publish_state(db, plan, 1, [str(built)], rel="bisect/t/state-1", options=options)
        link = Path(repo.path)
        assert debrepo.check_deb_repo(link) == []
        assert (link / "InRelease").is_file() and (options.repos_dir / "RPM-GPG-KEY-delorean").is_file()
        assert repo.key_fingerprint and repo.replaced == ["alpha"] and repo.changed
        sizes = published_names_and_sizes(link)
        assert set(sizes) == {"python3-alpha", "python3-beta"}  # beta from the good repository, no build.log
        assert (
            link / "python3-alpha_1.0-1_all.deb"
        ).read_bytes() == built.read_bytes()  # the state's, not the good one
        # publishing the same state again changes nothing
        again = state_repo.publish_state(db, plan, 1, [str(built)], rel="bisect/t/state-1", options=options)
        assert not again.changed and again.snapshot == repo.snapshot


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("no-artifacts", "artifacts: state 1 changes alpha but no built package was given"),
        ("missing-artifact", "does not exist; build the state's jobs again"),
        ("good-purged", "is not there (purged?)"),
    ],
)
def test_bad_inputs_are_one_line(world, damage, message):
    db_path, plan, built, options = world
    artifacts = [str(built)]
    if damage == "no-artifacts":
        artifacts = []
    elif damage == "missing-artifact":
        artifacts = [str(built.parent / "gone_1.0_all.deb")]
    else:
        shutil.rmtree(options.repos_dir / plan.good_repo_hash[:2])
    with StateDB(db_path) as db, pytest.raises(InputError) as error:
        state_repo.publish_state(db, plan, 1, artifacts, rel="bisect/t/state-1", options=options)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not (options.repos_dir / "bisect").exists()
