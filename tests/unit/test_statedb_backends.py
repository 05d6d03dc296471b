"""The state DB's engines: the db value chooses one, the schema is the same on both, PostgreSQL's locks and secrets.

Tests that take ``statedb_target`` run on SQLite and on PostgreSQL; those that
take ``pg_server`` are about what only PostgreSQL has (its writers run at once,
a URL may carry a password).
"""

from __future__ import annotations

import json
import sqlite3

import psycopg
import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb import backends, schema
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.backends.postgresql import (
    masked,
    to_format,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import (
    NewCommit,
    StateDB,
    StateDBBusy,
    StateDBUnavailable,
)

from .apisite import Site
from .statedbs import raw

# What each engine says a table's columns are: name, type, NOT NULL (a primary key's too), has a default
# (an identity column has none: the engine numbers rows as SQLite numbers an INTEGER PRIMARY KEY).
_COLUMNS = {
    "sqlite": (
        'SELECT name, type, "notnull" OR pk > 0, dflt_value IS NOT NULL FROM pragma_table_info(?) ORDER BY cid',
        {"INTEGER": "bigint", "TEXT": "text"},
    ),
    "postgresql": (
        "SELECT column_name, data_type, is_nullable = 'NO', column_default IS NOT NULL"
        " FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?"
        " ORDER BY ordinal_position",
        {"bigint": "bigint", "text": "text"},
    ),
}


def change(project, commit, *, dt_commit=100):
    return NewCommit(project, "master", commit.ljust(40, "0"), "d" * 40, dt_commit)


# -- which engine ----------------------------------------------------------------------------------


def test_the_db_value_chooses_the_engine():
    assert backends.for_target("/var/lib/distroforge/state.db").engine == "sqlite"
    assert backends.for_target("state.db").engine == "sqlite"
    for url in ("postgresql://df@db.example/statedb", "postgres://db.example/statedb?sslmode=require"):
        assert backends.for_target(url).engine == "postgresql"


def test_a_password_in_the_url_is_never_shown():
    assert (
        masked("postgresql://df:s3cr%40t@db.example:5432/statedb") == "postgresql://df:********@db.example:5432/statedb"
    )
    assert masked("postgresql:///statedb?host=/run/pg&password=s3cret&user=df") == (
        "postgresql:///statedb?host=/run/pg&password=********&user=df"
    )
    assert masked("postgresql://df@db.example/statedb") == "postgresql://df@db.example/statedb"
    assert set(backends.secrets("postgresql://df:s3cr%40t@db.example/statedb")) == {"s3cr%40t", "s3cr@t"}
    assert backends.secrets("postgresql://db.example/statedb?password=p%26w") == ["p%26w", "p&w"]
    assert backends.secrets("/srv/state.db") == []


def test_qmark_sql_means_the_same_to_psycopg_as_to_sqlite3(pg_server):
    """The hand-written placeholder translation, checked against both drivers on the same statement."""
    sql = "SELECT ?, '?', 'a%b', ? || '%?', \"?\".x FROM (SELECT 1 AS x) AS \"?\" WHERE 1 = ?"
    assert to_format(sql) == ("SELECT %s, '?', 'a%%b', %s || '%%?', \"?\".x FROM (SELECT 1 AS x) AS \"?\" WHERE 1 = %s")
    args = ("one", "two", 1)
    expected = tuple(sqlite3.connect(":memory:").execute(sql, args).fetchone())
    with psycopg.connect(pg_server.url()) as conn:
        assert tuple(conn.execute(to_format(sql), args).fetchone()) == expected == ("one", "?", "a%b", "two%?", 1)


# -- the same schema and behaviour on both ---------------------------------------------------------


def test_both_engines_hold_the_same_schema(tmp_path, pg_server):
    found = {}
    for target in (tmp_path / "state.db", pg_server.new_db()):
        StateDB(target).close()
        with raw(target) as backend:
            sql, types = _COLUMNS[backend.engine]
            found[backend.engine] = {
                table: [
                    (name, types.get(str(kind), str(kind)), bool(notnull), bool(default))
                    for name, kind, notnull, default in backend.conn.execute(sql, (table,))
                ]
                for table in schema.tables()
            }
    assert found["sqlite"] == found["postgresql"]
    assert [column[0] for column in found["postgresql"]["votes"]][-2:] == ["user", "timestamp"]


def test_text_sorts_byte_wise_and_times_outlive_2038(statedb_target):
    names = ["nova", "Nova", "_tools", "aodh", "Zaqar", "éclair"]
    far = 2**33  # the year 2242
    with StateDB(statedb_target) as db:
        for name in names:
            db.upsert_project(name, now=far)
        assert [project.project for project in db.projects()] == sorted(names)
        assert {project.dt_added for project in db.projects()} == {far}
        (record,) = db.queue([change("nova", "a", dt_commit=far)])
        assert db.get(record.id).dt_commit == far


def test_exists_tells_a_new_db_from_one_in_use(statedb_target):
    assert not StateDB.exists(statedb_target)
    StateDB(statedb_target).close()
    assert StateDB.exists(statedb_target)


def test_integrity_check_is_ok_on_a_healthy_db(statedb_target):
    with StateDB(statedb_target) as db:
        assert db.integrity_check() == "ok"


# -- PostgreSQL ------------------------------------------------------------------------------------


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path):
    url = f"postgresql://df:Hunter2-secret@/statedb?host={tmp_path}"
    with pytest.raises(StateDBUnavailable) as caught:
        StateDB(url)
    message = str(caught.value)
    assert message.startswith("state DB postgresql://df:********@/statedb?host=")
    assert "cannot connect" in message and "~/.pgpass" in message
    assert "Hunter2" not in message and "\n" not in message


def test_readonly_refuses_a_database_without_the_schema(pg_server):
    url = pg_server.new_db()
    with pytest.raises(InputError, match=r"schema version 0, this collection needs \d+: run a poll"):
        StateDB(url, readonly=True)
    with StateDB(url) as db:
        db.queue([change("nova", "a")])
    with StateDB(url, readonly=True) as db, pytest.raises(InputError, match="read-only"):
        db.queue([change("nova", "b")])


def test_shared_writers_run_beside_each_other_and_exclusive_ones_alone(pg_server):
    url = pg_server.new_db()
    with StateDB(url) as first, StateDB(url, lock_timeout=0.2) as second:
        one, two = (record.id for record in first.queue([change("nova", "a"), change("glance", "b")]))
        with first.writer(shared=True):
            assert first.claim(one, "b1")  # holds row `one` until the block ends
            assert second.claim(two, "b2")  # another row: no wait
            with pytest.raises(StateDBBusy, match=r"another writer held a lock .* lock_timeout"):
                second.finish(one, "SUCCESS")  # the same row waits for the first writer
        assert second.finish(one, "FAILED").status == "FAILED"
        with first.writer(), pytest.raises(StateDBBusy, match=r"another writer held its writer lock for more than 0 s"):
            second.record_vote(first.get(one).repo_hash, "job", True)
        assert second.votes(first.get(one).repo_hash) == []
        with first.writer(shared=True), pytest.raises(RuntimeError, match="cannot nest in a shared one"):  # noqa: SIM117
            with first.writer():
                pass


def test_a_module_never_shows_a_password_written_in_db(pg_server, capsys):
    url = pg_server.url("statedb", password="Hunter2-secret")  # the server trusts the socket: a password is unused

    def work(module):
        with module.state_db() as db:
            return {"changed": False, "name": db.name, "engine": db.engine}

    def failing(module):
        with module.state_db():
            raise InputError(f"could not read {module.params['db']} (password Hunter2-secret)")

    results = []
    for task in (work, failing):
        with patch_module_args({"db": url}), pytest.raises(SystemExit):
            DistroforgeModule(argument_spec={}, state_db=True, supports_check_mode=True).run(task)
        out = capsys.readouterr().out
        assert "Hunter2" not in out
        results.append(json.loads(out))
    done, failed = results
    assert done["engine"] == "postgresql" and "password=********" in done["name"]
    assert failed["msg"] == "could not read ******** (password ********)"


def test_the_api_answers_503_while_the_server_is_away_then_connects_again(tmp_path, pg_server):
    site = Site(tmp_path, db=pg_server.new_db())
    site.build()
    assert site.get("/api/health") == (200, {"result": "ok"})
    with pg_server.admin() as admin:  # what a server restart does to every open connection
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'distroforge'")
    status, answer = site.get("/api/health")
    assert status == 503 and "lost the server" in answer["message"] and "try again" in answer["message"]
    assert site.get("/api/health") == (200, {"result": "ok"})
