"""State DB across processes: one writer at a time, readers never blocked, SIGKILL loses nothing committed.

Tests that take ``statedb_target`` run on SQLite and on PostgreSQL (tests/unit/conftest.py).
"""

import multiprocessing
import os
import random
import signal
import sqlite3
import time

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import (
    NewCommit,
    StateDB,
    StateDBBusy,
)

# fork: children inherit the test's import path and start in milliseconds.
CTX = multiprocessing.get_context("fork")
ROWS_PER_TRANSACTION = 3


def change(project, commit, *, dt_commit=100):
    return NewCommit(project, "master", commit.ljust(40, "0"), "d" * 40, dt_commit)


def _claim_all(path, builder, ids, barrier, results):
    with StateDB(path) as db:
        barrier.wait()
        won = [commit_id for commit_id in ids if db.claim(commit_id, builder)]
    results.put((builder, won))


def test_concurrent_claims_have_exactly_one_winner(statedb_target):
    path = statedb_target
    with StateDB(path) as db:
        ids = [record.id for record in db.queue([change(f"p{i}", f"{i:x}") for i in range(40)])]
    barrier, results = CTX.Barrier(2), CTX.Queue()
    workers = [CTX.Process(target=_claim_all, args=(path, name, ids, barrier, results)) for name in ("b1", "b2")]
    for worker in workers:
        worker.start()
    won = dict(results.get(timeout=20) for _worker in workers)
    for worker in workers:
        worker.join(timeout=20)
        assert worker.exitcode == 0
    assert sorted(won["b1"] + won["b2"]) == ids  # every commit claimed, none twice
    with StateDB(path, readonly=True) as db:
        for builder, claimed in won.items():
            assert {db.get(commit_id).builder for commit_id in claimed} <= {builder}
        assert db.pending() == []


def _hold_write_transaction(path, holding, release):
    with StateDB(path) as db, db.writer():
        db.queue([change("uncommitted", "b")])
        holding.set()
        release.wait(timeout=10)


def test_readers_are_not_blocked_by_a_writer(statedb_target):
    path = statedb_target
    with StateDB(path) as db:
        db.queue([change("committed", "a")])
    holding, release = CTX.Event(), CTX.Event()
    writer = CTX.Process(target=_hold_write_transaction, args=(path, holding, release))
    writer.start()
    try:
        assert holding.wait(timeout=10)
        started = time.monotonic()
        with StateDB(path, readonly=True) as reader:
            seen = [record.project for record in reader.last_builds()]
        assert time.monotonic() - started < 0.5
        assert seen == ["committed"]  # committed data, nothing of the open transaction
        # A reader-writer (the polling process) also reads instantly ...
        with StateDB(path, lock_timeout=0.3) as other:
            started = time.monotonic()
            assert [record.project for record in other.heads("master").values()] == ["committed"]
            assert time.monotonic() - started < 0.5
            # ... while a second writer waits, boundedly, with a clear error.
            with pytest.raises(StateDBBusy, match=r"another writer held .* for more than 0 s"):
                other.queue([change("second", "c")])
    finally:
        release.set()
        writer.join(timeout=10)
    assert writer.exitcode == 0
    with StateDB(path, readonly=True) as reader:
        assert [record.project for record in reader.last_builds()] == ["committed", "uncommitted"]


def _write_until_killed(path, report_fd, trial):
    """Queue transactions of ROWS_PER_TRANSACTION commits forever, reporting each BEGIN and COMMIT."""
    rng = random.Random(trial)
    db = StateDB(path)
    for number in range(1_000_000):
        tag = f"t{trial}-{number}"
        with db.writer():
            os.write(report_fd, f"B {tag}\n".encode())
            for row in range(ROWS_PER_TRANSACTION):
                db.queue([change(tag, f"{row:x}", dt_commit=number)])
                if trial % 2 == 0:
                    # Widen the window so many kills land inside the
                    # transaction; odd trials run flat out, so kills land
                    # in COMMIT and the WAL fsync too.
                    time.sleep(rng.uniform(0, 0.002))
        os.write(report_fd, f"C {tag}\n".encode())


def _drain(fd):
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode().splitlines()


def test_sigkill_mid_transaction_loses_nothing_committed(tmp_path):
    path = tmp_path / "state.db"
    rng = random.Random(20240601)
    committed: set[str] = set()
    killed_inside = 0
    trials = 50
    for trial in range(trials):
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        worker = CTX.Process(target=_write_until_killed, args=(path, write_fd, trial))
        worker.start()
        # The kill counts only once the writer runs: on a loaded machine starting it takes longer than the
        # random delay, and every kill would land before its first transaction.
        started = b""
        deadline = time.monotonic() + 60
        while b"B " not in started and time.monotonic() < deadline:
            try:
                started += os.read(read_fd, 65536)
            except BlockingIOError:
                time.sleep(0.001)
        time.sleep(rng.uniform(0.002, 0.04))
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(timeout=10)
        assert worker.exitcode == -signal.SIGKILL
        os.close(write_fd)
        lines = (started.decode() + "\n".join(_drain(read_fd))).splitlines()
        os.close(read_fd)
        committed |= {line[2:] for line in lines if line.startswith("C ")}
        begun = [line[2:] for line in lines if line.startswith("B ")]
        if begun and f"C {begun[-1]}" not in lines:
            killed_inside += 1

        # A kill releases the flock, so the next writer gets in at once.
        with StateDB(path, lock_timeout=2) as db:
            assert db.integrity_check() == "ok"
            rows = db.commits(limit=None)
            db.queue([change("probe", f"{trial:x}")])
        per_tag: dict[str, int] = {}
        for record in rows:
            per_tag[record.project] = per_tag.get(record.project, 0) + 1
        assert committed <= set(per_tag), f"trial {trial}: committed transactions lost"
        half = {tag: count for tag, count in per_tag.items() if tag != "probe" and count != ROWS_PER_TRANSACTION}
        assert not half, f"trial {trial}: half-written transactions visible: {half}"
    assert committed, "no transaction ever committed: the test did not exercise anything"
    assert killed_inside >= trials // 5, f"only {killed_inside} kills landed inside a transaction"
    # Projects are written in the same transactions: none without its commits.
    conn = sqlite3.connect(path)
    orphans = conn.execute("SELECT project FROM projects WHERE project NOT IN (SELECT project FROM commits)").fetchall()
    assert orphans == []
