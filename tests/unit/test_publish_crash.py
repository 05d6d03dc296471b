"""SIGKILL publishers at random instants: every link names a complete, valid repo; the DB agrees.

Four variants share one loop: one unsigned publisher at a time (RPM);
signed publishing, RPM (repomd.xml.asc, signed packages) and a flat Debian
repository (InRelease, Release.gpg), with a key the test makes; and two
publishers started at once that race for the publish lock (with
components, so the aggregate links move too), each killed at its own
random instant.  After every round every symlink a client follows
(``current``, ``consistent``, promotion labels and ``previous-*``, the
component links and the aggregate files) resolves to a complete repository
whose metadata matches its packages and, when signed, whose signatures
verify with the published key.  The DB agrees: what it flags published is
there, every linked build is flagged published or was being published by a
killed publisher, and of two repositories published in one round the later
has the earlier's package (the lock serialises publishers; without it one
misses the other's build).  A last test kills a publisher just before each
of its write steps in turn (:mod:`.faultfs`), so no step depends on luck.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import os
import random
import signal
import time
import traceback
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common.files import swap_symlink
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.layout import FLAG_PUBLISHED
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.publisher import Publisher, PublishOptions
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB

from .faultfs import WriteFaults, tmpfs
from .pkgfactory import add_build, artifacts_dir, build_deb, build_rpm, make_signing_key, stop_gpg_agent
from .repocheck import RepoChecker

pytestmark = pytest.mark.slow
PROJECTS = ("alpha", "beta", "gamma")
# Racers get two packages of one component each round, so one repository can show a lost update.
RACING_PROJECTS = ("alpha", "beta", "gamma", "delta")
COMPONENTS = {"alpha": "common", "beta": "common", "gamma": "network", "delta": "network"}
LABELS = ("current-passed-ci", "previous-current-passed-ci")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One way of publishing under fire."""

    name: str
    trials: int  # rounds; each starts ``racers`` publishers and kills them
    fmt: str = "rpm"
    sign: bool = False
    racers: int = 1
    use_components: bool = False
    projects: tuple[str, ...] = PROJECTS


VARIANTS = [
    Variant("unsigned", trials=200),
    Variant("signed-rpm", trials=40, sign=True),
    Variant("signed-deb", trials=24, fmt="deb", sign=True),
    Variant("two-racing", trials=64, racers=2, use_components=True, projects=RACING_PROJECTS),
]


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory):
    """A fresh signing key in a GnuPG home of the test's own; its fingerprint."""
    home = tmp_path_factory.mktemp("gnupg")
    yield home, make_signing_key(home)
    stop_gpg_agent(home)


@pytest.fixture
def fast_dir(tmp_path):
    """A tmpfs when one can be mounted, else ``tmp_path``: a kill loses no page cache, so fsync only costs time."""
    with tmpfs(tmp_path / "fast", "256m") as why_not:
        yield tmp_path if why_not else tmp_path / "fast"


# -- the loop -------------------------------------------------------------------------------------


def _publish_in_child(
    options: PublishOptions,
    db_path: Path,
    commit_id: int,
    art: Path | None,
    errors: Path,
    *,
    kill_at: int | None = None,
) -> int:
    """Fork a publisher; with ``kill_at`` it SIGKILLs itself just before its ``kill_at``-th write step."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            with StateDB(db_path) as db, WriteFaults(kill_at, action="kill").installed():
                Publisher(options, db).publish(commit_id, art)
        except BaseException:
            (errors / f"{os.getpid()}.txt").write_text(traceback.format_exc())
            code = 1
        os._exit(code)
    return pid


def _promote(repos: Path, rng: random.Random) -> None:
    """What a promoter does between publishes: label the current repo, keep the old one as previous-*.

    With components every component's links are labelled.
    """
    bases = sorted((repos / "component").glob("*")) or [repos]
    for base in bases:
        label, previous = base / LABELS[0], base / LABELS[1]
        if label.is_symlink():
            swap_symlink(previous, os.readlink(label))
        source = base / ("consistent" if rng.random() < 0.5 else "current")
        if source.is_symlink():
            swap_symlink(label, os.readlink(source))


def _artifacts(tmp_path: Path, variant: Variant) -> dict[str, Path]:
    if variant.fmt == "rpm":
        return {name: artifacts_dir(tmp_path, build_rpm(tmp_path, name)) for name in variant.projects}
    return {name: artifacts_dir(tmp_path, [build_deb(tmp_path, f"python3-{name}")]) for name in variant.projects}


def _newest_key(record) -> tuple[int, int, int]:
    return (record.dt_commit, record.dt_distgit or 0, record.id)  # the publisher's order for "newer"


def _assert_no_lost_update(db: StateDB, check: RepoChecker, fresh: list[int]) -> None:
    """Of two builds of one repository published in the same round, the later one's repo has the earlier's package.

    The lock makes the second publisher start after the first marked its
    build published, so it links that build (or a newer one of the package).
    ``fresh``: builds published in the round whose directories did not exist before it.
    """
    records = {(r.project, r.commit_hash): r for r in db.commits(limit=None)}
    builds = [db.get(cid) for cid in fresh]

    def has(container, build) -> bool:
        rows = list(csv.reader(io.StringIO((check.build_dir(container) / "versions.csv").read_text())))[1:]
        shas = [row[2] for row in rows if row[0] == build.project]
        return bool(shas) and _newest_key(records[(build.project, shas[0])]) >= _newest_key(build)

    for first, second in itertools.combinations(builds, 2):
        if first.project != second.project and first.component == second.component:
            assert has(first, second) or has(second, first), (
                f"lost update: neither {first.repo_hash} ({first.project}) nor {second.repo_hash} ({second.project})"
                " includes the other although both were published in one round"
            )


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_sigkill_at_random_moments_never_breaks_a_link(tmp_path, fast_dir, variant, request):
    gpg_home, gpg_key = request.getfixturevalue("signing_key") if variant.sign else (None, None)
    rng = random.Random(f"20240607-{variant.name}")
    arts = _artifacts(tmp_path, variant)
    db_path = fast_dir / "state.db"
    repos = fast_dir / "data" / "repos"
    errors = tmp_path / "child-errors"
    errors.mkdir()
    options = PublishOptions(
        repos_dir=repos, sign=variant.sign, gpg_home=gpg_home, gpg_key=gpg_key, use_components=variant.use_components
    )
    check = RepoChecker(options, db_path, variant.fmt, variant.sign)
    db = StateDB(db_path)
    publisher = Publisher(options, db)

    def new_build(seq: int, status: str) -> int:
        project = variant.projects[seq % len(variant.projects)]
        component = COMPONENTS[project] if variant.use_components else None
        record = add_build(db, project, seq, status=status, component=component)
        pending[record.id] = arts[project] if status == "SUCCESS" else None
        return record.id

    pending: dict[int, Path | None] = {}
    started = time.perf_counter()
    for seq in range(-len(variant.projects), 0):  # every package once, so the repos are consistent from the start
        commit_id = new_build(seq, "SUCCESS")
        publisher.publish(commit_id, pending.pop(commit_id))
    duration = (time.perf_counter() - started) / len(variant.projects)
    _promote(repos, rng)
    _promote(repos, rng)
    kills = completed_in_child = rounds_all_killed = both_published = 0
    for seq in range(variant.trials):
        commit_ids = []
        for racer in range(variant.racers):
            commit_id = new_build(variant.racers * seq + racer, "FAILED" if rng.random() < 0.2 else "SUCCESS")
            # Usually the newest build; sometimes an older one left half-done by a kill (racers may share one).
            commit_ids.append(commit_id if rng.random() < 0.7 else rng.choice(list(pending)))
        there_before = {cid for cid in commit_ids if check.build_dir(db.get(cid)).exists()}
        begin = time.monotonic()
        pids = [_publish_in_child(options, db_path, cid, pending[cid], errors) for cid in commit_ids]
        # Each racer dies at its own instant; the one waiting for the lock needs the other's time too.
        for instant, pid in sorted((rng.uniform(0, duration * variant.racers * 1.2), pid) for pid in pids):
            time.sleep(max(0.0, begin + instant - time.monotonic()))
            os.kill(pid, signal.SIGKILL)
        killed_now = 0
        for pid in pids:
            _pid, wait_status = os.waitpid(pid, 0)
            if os.WIFSIGNALED(wait_status):
                killed_now += 1
                # The kill window follows the publisher's real speed on this
                # (shared, noisy) machine: it settles where about half the
                # kills land mid-way, so every stage of a publish gets killed.
                duration *= 1.1
            else:
                failure = errors / f"{pid}.txt"
                assert os.WEXITSTATUS(wait_status) == 0, f"a publisher failed on its own: {failure.read_text()}"
                duration *= 0.9
        kills += killed_now
        completed_in_child += len(pids) - killed_now
        rounds_all_killed += killed_now == len(pids)
        fresh = sorted(
            cid
            for cid in set(commit_ids) & set(pending) - there_before
            if db.get(cid).flags & FLAG_PUBLISHED and db.get(cid).status == "SUCCESS"
        )
        if variant.racers > 1:
            _assert_no_lost_update(db, check, fresh)
            both_published += len(fresh) == variant.racers
        for cid in commit_ids:
            if db.get(cid).flags & FLAG_PUBLISHED:
                pending.pop(cid, None)
        check(set(pending), deep=[check.build_dir(db.get(cid)) for cid in commit_ids], full=seq % 10 == 0)
        retry = sorted(set(pending) & set(commit_ids))
        if retry and rng.random() < 0.3:  # the pipeline retries a publish
            cid = rng.choice(retry)
            publisher.publish(cid, pending.pop(cid))
            check(set(pending), deep=[check.build_dir(db.get(cid))], full=False)
        if rng.random() < 0.2:
            _promote(repos, rng)
    # Recovery: publishing what is left finishes the job, and again changes nothing.
    for commit_id, art in sorted(pending.items()):
        publisher = Publisher(options, db)
        assert publisher.publish(commit_id, art).changed or db.get(commit_id).flags & FLAG_PUBLISHED
    check(set())
    assert all(r.flags & FLAG_PUBLISHED for r in db.commits(limit=None))
    assert not Publisher(options, db).publish(commit_id, None).changed
    attempts = variant.trials * variant.racers
    compared = f", {both_published} with two new repos to compare" if variant.racers > 1 else ""
    print(
        f"{variant.name}: {variant.trials} rounds x {variant.racers} publisher(s): {kills} of {attempts} killed"
        f" mid-way ({rounds_all_killed} rounds with all killed{compared}), {completed_in_child} completed;"
        f" kill window {duration * variant.racers * 1.2:.3f} s"
    )
    assert kills >= attempts // 4, f"only {kills} of {attempts} publishers were killed mid-way"


def test_sigkill_at_every_write_step_never_breaks_a_link(tmp_path, fast_dir):
    """Deterministic kill points: each write step of a publish (SUCCESS, then FAILED) is the last one once.

    Then the retry starts from what the killed publisher left (staging
    directory, temporary files).  With components the same states are
    checked by the full-disk test, which fails at every write step too.
    """
    use_components = False
    variant = Variant("steps", trials=0)
    arts = _artifacts(tmp_path, variant)
    db_path, repos, errors = fast_dir / "state.db", fast_dir / "data" / "repos", tmp_path / "child-errors"
    errors.mkdir()
    options = PublishOptions(repos_dir=repos, sign=False, use_components=use_components)
    check = RepoChecker(options, db_path, "rpm", False)
    db = StateDB(db_path)
    seq = 0

    def publish_new(status: str, kill_at: int | None) -> tuple[int, bool]:
        nonlocal seq
        project = PROJECTS[seq % len(PROJECTS)]
        component = COMPONENTS[project] if use_components else None
        record = add_build(db, project, seq, status=status, component=component)
        seq += 1
        art = arts[project] if status == "SUCCESS" else None
        pid = _publish_in_child(options, db_path, record.id, art, errors, kill_at=kill_at)
        _pid, wait_status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(wait_status)
        assert killed or os.WEXITSTATUS(wait_status) == 0, (errors / f"{pid}.txt").read_text()
        if killed:
            check({record.id}, deep=[check.build_dir(record)], full=False)
            Publisher(options, db).publish(record.id, art)  # the retry finishes it
        assert db.get(record.id).flags & FLAG_PUBLISHED
        return record.id, killed

    for _project in PROJECTS:
        publish_new("SUCCESS", None)
    kill_points = {}
    for status in ("SUCCESS",) if use_components else ("SUCCESS", "FAILED"):
        step = 1
        while publish_new(status, step)[1]:
            step += 1
        kill_points[status] = step - 1
    check(set())
    print(f"kill at every write step: {kill_points}")
    assert kill_points["SUCCESS"] > 40
