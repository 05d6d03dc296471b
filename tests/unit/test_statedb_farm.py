"""A farm writing at once: 8 processes - builders, API workers, a promoter - on one state DB, and nothing lost.

Five builders claim and finish builds (some retried, some failing), two API
workers (the WSGI app, as gunicorn runs it) vote on every successful build
and recheck the failed ones, a promoter moves a label to each build both
workers voted on.  Each process reports what the DB acknowledged; afterwards
the DB holds exactly that: every build, vote, recheck and promotion, the
retry counters right, no id twice.  Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import collections
import multiprocessing
import time

from werkzeug.test import Client

from ansible_collections.distroforge.openstack.plugins.module_utils._api import passwords
from ansible_collections.distroforge.openstack.plugins.module_utils._api.config import ApiConfig
from ansible_collections.distroforge.openstack.plugins.module_utils._api.wsgi import create_app
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import NewCommit, StateDB

from .apisite import basic

# fork: children inherit the test's import path and start in milliseconds.
CTX = multiprocessing.get_context("fork")
BUILDS = 40
BUILDERS = ("builder-1", "builder-2", "builder-3", "builder-4", "builder-5")
API_WORKERS = ("api-1", "api-2")
PASSWORD = "farm-secret"
LABEL = "tested"
DEADLINE = 120.0


def outcome(number: int, retries: int, notes: str | None) -> str:
    """What builder work gives for build ``number`` in its present state (read once it is claimed).

    Every 7th needs a retry first (a mirror blip), every 5th fails until it is
    rechecked, the rest succeed; the 35th does all three.
    """
    if number % 7 == 0 and retries == 0 and notes is None:
        return "RETRY"
    if number % 5 == 0 and notes != "FAILED":
        return "FAILED"
    return "SUCCESS"


def _all_built(db: StateDB) -> bool:
    return len(db.commits(status="SUCCESS", limit=None)) == BUILDS


def _builder(target, name, results):
    finished = []
    deadline = time.monotonic() + DEADLINE
    with StateDB(target, lock_timeout=60) as db:
        while time.monotonic() < deadline and not _all_built(db):
            waiting = db.pending(limit=4)
            for record in waiting:
                if not db.claim(record.id, name):
                    continue  # another builder won it
                claimed = db.get(record.id)  # BUILDING: only this builder may change it now
                status = outcome(int(claimed.project[1:]), claimed.retries, claimed.notes)
                db.finish(
                    record.id, status, nvr=f"{claimed.project}-1-1", artifacts=[f"{claimed.project}.rpm"], notes=status
                )
                finished.append((record.id, status))
            if not waiting:
                time.sleep(0.01)
    results.put((name, finished, time.monotonic() < deadline))


def _api_worker(config, name, results):
    client = Client(create_app(config))
    auth = basic(name, PASSWORD)
    voted, rechecked = set(), []
    deadline = time.monotonic() + DEADLINE
    with StateDB(config.db) as db:  # not readonly: an SQLite reader opened between writes would read a still image
        while time.monotonic() < deadline and len(voted) < BUILDS:
            for failed in db.failures():
                response = client.post("/api/recheck_package", json={"package_name": failed.project}, headers=auth)
                if response.status_code == 201:
                    rechecked.append(failed.id)
                else:  # the other worker rechecked it first
                    assert response.status_code in (400, 409), response.json
            todo = [record for record in db.commits(status="SUCCESS", limit=None) if record.id not in voted]
            for record in todo:
                body = {
                    "job_id": name,
                    "commit_hash": record.commit_hash,
                    "distro_hash": record.distro_hash,
                    "url": f"https://ci.example/{name}/{record.id}",
                    "timestamp": 1_700_000_000 + record.id,
                    "success": "true",
                }
                response = client.post("/api/report_result", json=body, headers=auth)
                assert response.status_code == 201, response.json
                voted.add(record.id)
            if not todo:
                time.sleep(0.01)
    results.put((name, (sorted(voted), rechecked), time.monotonic() < deadline))


def _promoter(target, results):
    promoted = {}
    deadline = time.monotonic() + DEADLINE
    with StateDB(target, lock_timeout=60) as db:
        while time.monotonic() < deadline and len(promoted) < BUILDS:
            ready = [
                record
                for record in db.commits(status="SUCCESS", limit=None)
                if record.id not in promoted
                and {vote.job_id for vote in db.votes(record.repo_hash)} >= set(API_WORKERS)
            ]
            for record in ready:
                promoted[record.id] = db.record_promotion(record.repo_hash, LABEL, "promoter").id
            if not ready:
                time.sleep(0.01)
    results.put(("promoter", promoted, time.monotonic() < deadline))


def test_eight_writers_at_once_lose_nothing(tmp_path, statedb_target):
    target = statedb_target
    with StateDB(target) as db:
        queued = db.queue([NewCommit(f"p{n}", "master", f"{n:040x}", "d" * 40, 1000 + n) for n in range(1, BUILDS + 1)])
        for name in API_WORKERS:
            db.store_user(name, passwords.hash_password(PASSWORD, log_n=4))
    config = ApiConfig(db=target, repos_dir=tmp_path / "repos", baseurl="http://repo.example/repos", lock_timeout=60)
    results = CTX.Queue()
    workers = [CTX.Process(target=_builder, args=(target, name, results)) for name in BUILDERS]
    workers += [CTX.Process(target=_api_worker, args=(config, name, results)) for name in API_WORKERS]
    workers.append(CTX.Process(target=_promoter, args=(target, results)))
    for worker in workers:
        worker.start()
    reports = {}
    for _worker in workers:
        name, report, in_time = results.get(timeout=DEADLINE + 60)
        assert in_time, f"{name} did not finish its work in {DEADLINE:.0f} s"
        reports[name] = report
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0

    number = {record.id: int(record.project[1:]) for record in queued}
    finishes = collections.Counter((commit_id, status) for name in BUILDERS for commit_id, status in reports[name])
    expected = collections.Counter({(commit_id, "SUCCESS"): 1 for commit_id in number})
    expected.update((commit_id, "FAILED") for commit_id, n in number.items() if n % 5 == 0)
    expected.update((commit_id, "RETRY") for commit_id, n in number.items() if n % 7 == 0)
    assert finishes == expected  # every build done once per attempt: no claim won twice
    rechecks = collections.Counter(commit_id for name in API_WORKERS for commit_id in reports[name][1])
    assert rechecks == {commit_id: 1 for commit_id, n in number.items() if n % 5 == 0}

    with StateDB(target, readonly=True) as db:
        commits = db.commits(limit=None)
        assert sorted(record.id for record in commits) == sorted(number)
        for record in commits:
            n = number[record.id]
            assert (record.status, record.notes) == ("SUCCESS", "SUCCESS")
            assert record.retries == (1 if n % 7 == 0 and n % 5 != 0 else 0), record
            assert record.builder in BUILDERS and record.artifacts == [f"{record.project}.rpm"]
            votes = db.votes(record.repo_hash)
            assert sorted(vote.job_id for vote in votes) == sorted(API_WORKERS)
            assert all(vote.user == vote.job_id and vote.timestamp == 1_700_000_000 + record.id for vote in votes)
        all_votes = [vote for record in commits for vote in db.votes(record.repo_hash)]
        assert len({vote.id for vote in all_votes}) == len(all_votes) == BUILDS * len(API_WORKERS)
        for name in API_WORKERS:
            assert reports[name][0] == sorted(number)
        promotions = db.promotions(LABEL, limit=None)
        promoted = reports["promoter"]
        assert sorted(p.id for p in promotions) == sorted(promoted.values())
        assert len({p.id for p in promotions}) == len({p.commit_id for p in promotions}) == BUILDS
        assert db.label_heads([LABEL])[0].id == max(promoted.values())
        assert db.integrity_check() == "ok"
