"""Reading the state DB leaves no trace: no side file, no lock, nothing re-dated (check mode and queries)."""

import hashlib
import os
import sqlite3

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import (
    NewCommit,
    StateDB,
    StateDBBusy,
)


def change(project, commit):
    return NewCommit(project, "master", commit.ljust(40, "0"), "d" * 40, 100)


def tree(folder):
    """Every entry under ``folder`` with its size, mtime, mode and content hash."""
    out = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        out[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns, info.st_mode, digest)
    out["."] = folder.stat().st_mtime_ns
    return out


@pytest.fixture
def quiet_db(tmp_path):
    """A state DB with one commit, every writer gone (so its WAL is checkpointed and removed)."""
    path = tmp_path / "state.db"
    with StateDB(path) as db:
        db.queue([change("nova", "a")])
    assert sorted(os.listdir(tmp_path)) == ["state.db", "state.db.lock"]
    return path


def test_a_reader_leaves_the_folder_exactly_as_it_found_it(quiet_db):
    before = tree(quiet_db.parent)
    with StateDB(quiet_db, readonly=True) as db:
        assert [record.project for record in db.last_builds()] == ["nova"]
        assert db.integrity_check() == "ok"
    assert tree(quiet_db.parent) == before  # no -wal, no -shm, nothing re-dated


def test_sqlite_read_only_mode_alone_would_leave_side_files(quiet_db):
    """Why StateDB reads a quiet DB as immutable: plain mode=ro creates -wal and -shm and cannot remove them."""
    conn = sqlite3.connect(f"file:{quiet_db}?mode=ro", uri=True)
    conn.execute("SELECT count(*) FROM commits").fetchone()
    conn.close()
    assert {"state.db-wal", "state.db-shm"} <= set(os.listdir(quiet_db.parent))


def test_a_reader_beside_an_open_writer_sees_what_is_committed(quiet_db):
    with StateDB(quiet_db) as writer:
        writer.queue([change("glance", "b")])  # committed, still in the writer's WAL
        with StateDB(quiet_db, readonly=True) as reader:
            assert sorted(record.project for record in reader.last_builds()) == ["glance", "nova"]


def test_a_writer_that_rewrites_the_file_during_a_read_is_reported(quiet_db):
    reader = StateDB(quiet_db, readonly=True)
    assert [record.project for record in reader.last_builds()] == ["nova"]
    with StateDB(quiet_db) as writer:  # closing checkpoints into the file the reader reads
        writer.queue([change("glance", "b")])
    with pytest.raises(StateDBBusy, match=r"state.db: a writer changed it while it was being read; run the task again"):
        reader.close()


def test_the_block_error_wins_over_the_close_check(quiet_db):
    with pytest.raises(ZeroDivisionError), StateDB(quiet_db, readonly=True):
        with StateDB(quiet_db) as writer:
            writer.queue([change("glance", "b")])
        raise ZeroDivisionError
