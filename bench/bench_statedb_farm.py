"""A farm's writes: 8 writer processes recording N builds in one state DB, PostgreSQL against SQLite.

Workload: N commits queued; 8 processes - builders, as build_queue hands
each its share of the jobs - each claim a build, record its result (NVR,
artifacts, log) and record a CI vote on it: three write transactions per
build, 3N in all, from 8 processes at once.  Ours: the state DB on
PostgreSQL (a throwaway cluster of Debian's server on a unix socket, fsync
on as a farm's server runs: tests/unit/pgserver.py). Peer: the same
workload on the embedded SQLite file (WAL, synchronous=FULL), in the same
run.  Both durable: every commit is on disk before it returns.
Environment: BENCH_STATEDB_BUILDS (default 1200).
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import TOP, report

sys.path.insert(0, str(TOP / ".venv" / "collections"))
sys.path.insert(0, str(TOP))

import psycopg

from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import NewCommit, StateDB
from tests.unit.pgserver import PgServer

BUILDS = int(os.environ.get("BENCH_STATEDB_BUILDS", "1200"))
WRITERS = 8
ROUNDS = 3
CTX = multiprocessing.get_context("fork")


def _writer(target: str, name: str, ids: list[int], start: multiprocessing.Barrier) -> None:
    with StateDB(target, lock_timeout=600) as db:
        start.wait()
        for commit_id in ids:
            assert db.claim(commit_id, name)
            record = db.finish(commit_id, "SUCCESS", nvr=f"pkg-{commit_id}-1", artifacts=[f"pkg-{commit_id}.rpm"])
            db.record_vote(record.repo_hash, f"ci-{name}", True, timestamp=record.dt_build, commit_id=record.id)


def farm(target: str) -> float:
    """Seconds for 8 writers to record BUILDS builds (claim, result, vote) in ``target``."""
    with StateDB(target) as db:
        queued = db.queue([NewCommit(f"p{n}", "master", f"{n:040x}", "d" * 40, n) for n in range(BUILDS)])
    ids = [record.id for record in queued]
    start = CTX.Barrier(WRITERS + 1)
    writers = [
        CTX.Process(target=_writer, args=(target, f"b{index}", ids[index::WRITERS], start)) for index in range(WRITERS)
    ]
    for writer in writers:
        writer.start()
    start.wait()
    started = time.perf_counter()
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    elapsed = time.perf_counter() - started
    with StateDB(target, readonly=True) as db:
        assert len(db.commits(status="SUCCESS", limit=None)) == BUILDS
        assert sum(len(db.votes(record.repo_hash)) for record in queued) == BUILDS
    return elapsed


def main() -> None:
    server = PgServer(durable=True).start()
    sqlite, postgresql = [], []
    try:
        # Alternated, medians of 3: the machine is shared, and one engine must not get all the quiet moments.
        for _round in range(ROUNDS):
            with tempfile.TemporaryDirectory(prefix="bench-statedb-") as tmp:
                sqlite.append(farm(str(Path(tmp) / "state.db")))
            postgresql.append(farm(server.new_db()))
    finally:
        server.stop()
    ours, peer = statistics.median(postgresql), statistics.median(sqlite)
    writes = 3 * BUILDS
    driver = f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__})"
    print(
        f"{WRITERS} writers, {BUILDS} builds ({writes} write transactions), medians of {ROUNDS}:"
        f" PostgreSQL {writes / ours:.0f} writes/s with {driver}, SQLite {writes / peer:.0f} writes/s"
    )
    report(f"{WRITERS} writers recording {BUILDS} builds", ours, peer, "SQLite")


if __name__ == "__main__":
    main()
