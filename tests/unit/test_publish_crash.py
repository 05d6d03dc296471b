"""SIGKILL the publisher at random instants: links always name complete, valid repos; the DB agrees."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._publish import rpmrepo
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.layout import FLAG_PUBLISHED
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.publisher import (
    Publisher,
    PublishOptions,
    dir_status,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB

from .pkgfactory import add_build, artifacts_dir, build_rpm

pytestmark = pytest.mark.slow
TRIALS = 200
PROJECTS = ("alpha", "beta", "gamma")


def check_tree(repos: Path, db_path: Path, deep: Path | None = None, full: bool = True) -> None:
    """Every link names a complete repository whose metadata validates; the state DB agrees.

    Every build directory must be complete (its commit.yaml, written last,
    says the DB's status); ``deep`` (or all, when None) also get their
    metadata validated.  ``full=False`` checks the links and ``deep`` only.
    """
    with StateDB(db_path, readonly=True) as db:
        assert db.integrity_check() == "ok"
        records = {(r.commit_hash, r.distgit_hash[:8]): r for r in db.commits(limit=None)}
        for name in ("current", "consistent"):
            link = repos / name
            if not link.is_symlink():
                continue
            target = link.resolve()
            assert dir_status(target) == "SUCCESS", f"{name} -> {target} is not a complete successful repo"
            assert rpmrepo.check_rpm_repo(target) == [], f"{name}: {rpmrepo.check_rpm_repo(target)}"
            assert {"versions.csv", "commit.yaml", "delorean.repo", "build.log"} <= {p.name for p in target.iterdir()}
            commit_hash, _sep, distgit8 = target.name.partition("_")
            assert records[(commit_hash, distgit8)].status == "SUCCESS"
        # Directories appear only complete (staging dirs are hidden, dot-named).
        paths = (
            repos.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/[0-9a-f]*")
            if full
            else [deep]
            if deep and deep.exists()
            else []
        )
        for path in paths:
            record = records[tuple(path.name.split("_"))]
            assert dir_status(path) == record.status, f"{path} is incomplete or disagrees with the DB"
            if record.status == "SUCCESS" and deep in (None, path):
                assert rpmrepo.check_rpm_repo(path) == []
        # What the DB calls published is there.
        for record in records.values() if full else []:
            if record.flags & FLAG_PUBLISHED:
                assert dir_status(repos / record.repo_path) == record.status


def _publish_in_child(options: PublishOptions, db_path: Path, commit_id: int, art: Path | None) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            with StateDB(db_path) as db:
                Publisher(options, db).publish(commit_id, art)
        except BaseException:
            code = 1
        os._exit(code)
    return pid


def test_sigkill_at_random_moments_never_breaks_a_link(tmp_path):
    rng = random.Random(20240607)
    rpms = {name: build_rpm(tmp_path, name) for name in PROJECTS}
    arts = {name: artifacts_dir(tmp_path, rpms[name]) for name in PROJECTS}
    db_path = tmp_path / "state.db"
    repos = tmp_path / "data" / "repos"
    options = PublishOptions(repos_dir=repos, sign=False)
    db = StateDB(db_path)
    publisher = Publisher(options, db)
    started = time.perf_counter()
    publisher.publish(add_build(db, "alpha", 0).id, arts["alpha"])
    duration = time.perf_counter() - started
    pending: dict[int, Path | None] = {}
    kills = completed_in_child = 0
    for seq in range(1, TRIALS + 1):
        project = PROJECTS[seq % len(PROJECTS)]
        status = "FAILED" if rng.random() < 0.2 else "SUCCESS"
        record = add_build(db, project, seq, status=status)
        pending[record.id] = arts[project] if status == "SUCCESS" else None
        # Usually the newest build; sometimes an older one left half-done by a kill.
        commit_id = record.id if rng.random() < 0.7 else rng.choice(list(pending))
        pid = _publish_in_child(options, db_path, commit_id, pending[commit_id])
        time.sleep(rng.uniform(0, duration * 1.2))
        os.kill(pid, signal.SIGKILL)
        _pid, wait_status = os.waitpid(pid, 0)
        # The kill window follows the publisher's real speed on this (shared,
        # noisy) machine: the window settles where about half the kills land
        # mid-way, so every stage of a publish gets killed, whatever the load.
        if os.WIFSIGNALED(wait_status):
            kills += 1
            duration *= 1.1
        else:
            assert os.WEXITSTATUS(wait_status) == 0, "the publisher failed on its own"
            completed_in_child += 1
            duration *= 0.9
        check_tree(repos, db_path, deep=repos / db.get(commit_id).repo_path, full=seq % 10 == 0)
        if db.get(commit_id).flags & FLAG_PUBLISHED:
            pending.pop(commit_id)
        if rng.random() < 0.3:  # the pipeline retries the publish
            publisher.publish(commit_id, pending.pop(commit_id, None))
            check_tree(repos, db_path, deep=repos / db.get(commit_id).repo_path, full=False)
    # Recovery: publishing what is left finishes the job, and again changes nothing.
    for commit_id, art in sorted(pending.items()):
        publisher = Publisher(options, db)
        assert publisher.publish(commit_id, art).changed or db.get(commit_id).flags & FLAG_PUBLISHED
    check_tree(repos, db_path)
    assert all(r.flags & FLAG_PUBLISHED for r in db.commits(limit=None))
    assert not Publisher(options, db).publish(commit_id, None).changed
    print(f"{TRIALS} trials: {kills} killed mid-way, {completed_in_child} completed; kill window {duration:.3f} s")
    assert kills >= TRIALS // 4, f"only {kills} of {TRIALS} publishers were killed mid-way"
