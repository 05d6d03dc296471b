"""State DB schema 4: the API's users table, votes by time, and one read snapshot per request."""

import sqlite3

from ansible_collections.distroforge.openstack.plugins.module_utils._statedb import schema
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import NewCommit, StateDB


def test_version_3_migrates_to_4_with_users_and_votes_by_time(tmp_path):
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    assert schema.migrate(conn, target=3) == (0, 3)
    conn.execute("COMMIT")
    conn.close()
    with StateDB(path) as db:
        assert db.schema_version >= 4
        with db.writer() as conn:
            conn.execute("INSERT INTO users (username, password, dt_updated) VALUES ('ci', 'hash', 1)")
    conn = sqlite3.connect(path)
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "votes_by_time" in indexes
    assert conn.execute("SELECT username FROM users").fetchall() == [("ci",)]
    plan = " ".join(
        str(row[-1])
        for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM votes WHERE timestamp > 5 AND aggregate = 0 ORDER BY timestamp DESC"
        )
    )
    assert "votes_by_time" in plan


def test_queries_inside_one_reader_share_its_snapshot(statedb_target):
    path = statedb_target
    with StateDB(path) as db:
        db.queue([NewCommit("nova", "master", "a" * 40, "b" * 40, 100)])
        with db.reader():
            # A method that reads on its own joins the open snapshot instead of failing to BEGIN again.
            first = db.commits()
            with StateDB(path) as other:
                other.queue([NewCommit("glance", "master", "c" * 40, "d" * 40, 100)])
            assert [c.project for c in db.commits()] == [c.project for c in first] == ["nova"]
        assert {c.project for c in db.commits()} == {"nova", "glance"}
