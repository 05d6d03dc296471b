"""State DB: schema and migrations, polling, the build lifecycle, queries, votes and promotions.

Tests that take ``db`` or ``statedb_target`` run on SQLite and on PostgreSQL (tests/unit/conftest.py).
"""

import os
import sqlite3

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb import schema
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import (
    NewCommit,
    StateDB,
    summarize,
)

from .statedbs import at_version, index_names, set_version, version_of


def change(project, commit, distgit="d" * 40, *, release="master", dt_commit=100, **extra):
    """A poll result; hashes are padded to 40 characters like git's."""
    return NewCommit(
        project=project,
        release=release,
        commit_hash=commit.ljust(40, "0"),
        distro_hash=distgit.ljust(40, "0"),
        dt_commit=dt_commit,
        **extra,
    )


@pytest.fixture
def db(statedb_target):
    with StateDB(statedb_target) as opened:
        yield opened


def build(db, record, status, **kwargs):
    assert db.claim(record.id, "builder-1")
    return db.finish(record.id, status, **kwargs)


# -- schema -------------------------------------------------------------------------


def test_new_db_is_created_at_the_current_version_in_wal_mode(tmp_path):
    path = tmp_path / "sub" / "state.db"
    with StateDB(path) as db:
        assert db.schema_version == schema.SCHEMA_VERSION
        assert db.integrity_check() == "ok"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"projects", "commits", "votes", "promotions"} <= tables


def test_db_and_its_wal_are_private_whatever_the_umask(tmp_path):
    path = tmp_path / "state.db"
    old_umask = os.umask(0o022)
    try:
        with StateDB(path) as opened:
            opened.queue([change("p", "a")])
            modes = {f.name: f.stat().st_mode & 0o777 for f in tmp_path.glob("state.db*") if f.name != "state.db.lock"}
    finally:
        os.umask(old_umask)
    assert modes["state.db"] == 0o600
    assert all(mode == 0o600 for mode in modes.values()), modes


def test_a_world_readable_db_is_made_private(tmp_path):
    path = tmp_path / "state.db"
    StateDB(path).close()
    path.chmod(0o644)
    StateDB(path).close()
    assert path.stat().st_mode & 0o777 == 0o600


def test_connections_write_with_synchronous_full(tmp_path):
    # 2 == FULL: every commit is fsynced before it returns.
    with StateDB(tmp_path / "state.db") as db:
        assert db._conn.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_version_1_db_with_data_migrates_forward_and_keeps_it(statedb_target):
    path = statedb_target
    at_version(
        path,
        1,
        (
            "INSERT INTO projects (project, upstream, maintainers, dt_added, dt_updated)"
            " VALUES ('nova', 'https://opendev.org/openstack/nova', '[\"a@example.org\"]', 10, 10)",
            (),
        ),
        (
            "INSERT INTO commits (project, release, commit_hash, distgit_hash, dt_commit, status, dt_queued, dt_build,"
            " nvr, artifacts, builder) VALUES ('nova', 'master', 'abc1230000', 'def4560000', 100, 'SUCCESS', 110,"
            " 120, 'openstack-nova-1-1', '[\"openstack-nova-1-1.noarch.rpm\"]', 'b1')",
            (),
        ),
        (
            "INSERT INTO commits (project, release, commit_hash, distgit_hash, dt_commit, status, dt_queued)"
            " VALUES ('nova', 'master', 'abc7890000', 'def4560000', 200, 'QUEUED', 210)",
            (),
        ),
    )

    with StateDB(path) as db:
        assert db.schema_version == schema.SCHEMA_VERSION
        built = db.commit("abc1230000")
        assert built.status == "SUCCESS"
        assert built.nvr == "openstack-nova-1-1"
        assert built.artifacts == ["openstack-nova-1-1.noarch.rpm"]
        assert built.retries == 0  # added by migration 2 with its default
        assert [record.commit_hash for record in db.pending()] == ["abc7890000"]
        assert db.projects()[0].maintainers == ["a@example.org"]
        # Tables of version 2 work on the old rows.
        vote = db.record_vote("abc1230000_def45600", "tempest-full", True, timestamp=300)
        assert vote.commit_id == built.id
    with StateDB(path) as db:  # reopening does not migrate again
        assert db.schema_version == schema.SCHEMA_VERSION
        assert len(db.commits()) == 2


def test_version_2_votes_and_promotions_migrate_to_version_3(statedb_target):
    path = statedb_target
    at_version(
        path,
        2,
        (
            "INSERT INTO commits (project, release, commit_hash, distgit_hash, dt_commit, status, dt_queued)"
            " VALUES ('nova', 'master', 'abc1230000', 'def4560000', 100, 'SUCCESS', 110)",
            (),
        ),
        (
            "INSERT INTO votes (ref_hash, commit_id, job_id, success, timestamp)"
            " VALUES ('abc1230000_def45600', 1, 'tempest-full', 1, 300)",
            (),
        ),
        (
            'INSERT INTO promotions (ref_hash, commit_id, label, "user", timestamp)'
            " VALUES ('abc1230000_def45600', 1, 'puppet-passed-ci', 'alice', 400)",
            (),
        ),
    )

    with StateDB(path) as db:
        assert db.schema_version == schema.SCHEMA_VERSION >= 3
        (old,) = db.promotions("puppet-passed-ci")
        # Rows from before the migration have no component and no aggregate hash.
        assert (old.ref_hash, old.user, old.timestamp, old.component, old.aggregate_hash) == (
            "abc1230000_def45600",
            "alice",
            400,
            None,
            None,
        )
        assert [vote.job_id for vote in db.job_votes("tempest-full")] == ["tempest-full"]
        new = db.record_promotion(
            "abc1230000_def45600", "puppet-passed-ci", "bob", 500, component="common", aggregate_hash="a" * 32
        )
        assert (new.component, new.aggregate_hash) == ("common", "a" * 32)
        assert [p.user for p in db.promotions(aggregate_hash="a" * 32)] == ["bob"]
        assert [p.user for p in db.promotions_after(old.id)] == ["bob"]
    assert {"promotions_by_aggregate_hash", "votes_by_job"} <= index_names(path)


def test_db_newer_than_the_collection_is_refused_untouched(statedb_target):
    path = statedb_target
    StateDB(path).close()
    set_version(path, 99)
    for readonly in (False, True):
        with pytest.raises(InputError, match=r"schema version 99 .* upgrade the distroforge.openstack collection"):
            StateDB(path, readonly=readonly)
    assert version_of(path) == 99


def test_readonly_refuses_a_missing_or_outdated_db(tmp_path):
    missing = tmp_path / "none.db"
    with pytest.raises(InputError, match=r"none.db does not exist: it is created by the first poll"):
        StateDB(missing, readonly=True)
    assert not missing.exists()
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old, isolation_level=None)
    schema.migrate(conn, target=1)
    conn.close()
    with pytest.raises(InputError, match=r"schema version 1, .* run a poll"):
        StateDB(old, readonly=True)
    with StateDB(old) as db:  # a writer migrates it
        assert db.schema_version == schema.SCHEMA_VERSION
    assert StateDB(old, readonly=True).schema_version == schema.SCHEMA_VERSION


def test_not_a_database_is_a_one_line_error(tmp_path):
    path = tmp_path / "state.db"
    path.write_text("hello, I am not SQLite\n" * 100)
    with pytest.raises(InputError, match="is not an SQLite database"):
        StateDB(path)


def test_readonly_db_refuses_writes(statedb_target):
    StateDB(statedb_target).close()
    with StateDB(statedb_target, readonly=True) as ro, pytest.raises(InputError, match="read-only"):
        ro.queue([change("nova", "a")])


def test_writer_rolls_back_everything_on_error(db):
    with pytest.raises(RuntimeError), db.writer():
        db.queue([change("nova", "a")])
        db.upsert_project("keystone")
        raise RuntimeError("boom")
    assert db.commits() == []
    assert db.projects() == []


# -- projects and polling -----------------------------------------------------------------


def test_upsert_project_reports_change(db):
    record, changed = db.upsert_project("nova", upstream="https://x/nova", maintainers=["a@x"], now=10)
    assert changed
    assert (record.dt_added, record.dt_updated) == (10, 10)
    assert db.upsert_project("nova", upstream="https://x/nova", maintainers=["a@x"], now=20)[1] is False
    record, changed = db.upsert_project("nova", upstream="https://y/nova", maintainers=["a@x"], now=30)
    assert changed
    assert (record.upstream, record.dt_added, record.dt_updated) == ("https://y/nova", 10, 30)
    with pytest.raises(InputError, match="project name"):
        db.upsert_project("")


def test_queue_is_idempotent_and_returns_only_new_commits(db):
    first = db.queue([change("nova", "a", commit_branch="master", author="Ann", subject="Fix"), change("glance", "b")])
    assert [(record.project, record.status) for record in first] == [("nova", "QUEUED"), ("glance", "QUEUED")]
    assert first[0].author == "Ann"
    assert first[0].dt_queued > 0
    # Same poll again, plus one new distgit commit for nova and a duplicate inside the batch.
    again = db.queue([change("nova", "a"), change("glance", "b"), change("nova", "a", "e"), change("nova", "a", "e")])
    assert [(record.project, record.distro_hash[:1]) for record in again] == [("nova", "e")]
    # Another release is another build of the same commit.
    assert len(db.queue([change("nova", "a", release="zed")])) == 1
    assert len(db.commits()) == 4
    assert {project.project for project in db.projects()} == {"nova", "glance"}


def test_queue_accepts_mappings_and_names_bad_fields(db):
    new = db.queue(
        [{"project": "nova", "release": "master", "commit_hash": "a" * 40, "distro_hash": "b" * 40, "dt_commit": 5}]
    )
    assert new[0].dt_commit == 5
    with pytest.raises(InputError, match=r"queued commit #0 \(nova\): commit_hash must be a non-empty string"):
        db.queue([NewCommit("nova", "master", "", "d", 1)])
    with pytest.raises(InputError, match="dt_commit must be epoch seconds"):
        db.queue([NewCommit("nova", "master", "a", "d", "yesterday")])
    with pytest.raises(InputError, match=r"unknown field.*sha"):
        db.queue([{"project": "nova", "sha": "a"}])
    with pytest.raises(InputError, match="incomplete"):
        db.queue([{"project": "nova"}])
    assert len(db.commits()) == 1


def test_heads_are_the_newest_known_commit_per_project(db):
    db.queue(
        [
            change("nova", "n1", dt_commit=100),
            change("nova", "n2", dt_commit=300),
            change("nova", "n3", dt_commit=200),  # older commit polled later: not the head
            change("glance", "g1", dt_commit=100),
            change("glance", "g1", "e", dt_commit=100, dt_distgit=150),  # packaging change: new head
            change("nova", "z1", release="zed", dt_commit=999),
        ]
    )
    heads = db.heads("master")
    assert {project: record.commit_hash[:2] for project, record in heads.items()} == {"nova": "n2", "glance": "g1"}
    assert heads["glance"].distro_hash.startswith("e")
    # A failed or retried head is still known: polling must not queue it again.
    build(db, heads["nova"], "FAILED")
    assert db.heads("master")["nova"].commit_hash.startswith("n2")
    assert db.heads("ocata") == {}


# -- build lifecycle --------------------------------------------------------------------


def test_claim_finish_retry_and_success(db):
    (record,) = db.queue([change("nova", "a")])
    assert db.claim(record.id, "builder-1", now=500)
    assert not db.claim(record.id, "builder-2")
    claimed = db.get(record.id)
    assert (claimed.status, claimed.builder, claimed.dt_started) == ("BUILDING", "builder-1", 500)
    assert db.pending() == []

    retried = db.finish(record.id, "RETRY", notes="Could not resolve host", dt_build=600)
    assert (retried.status, retried.retries, retried.notes) == ("RETRY", 1, "Could not resolve host")
    assert [item.id for item in db.pending()] == [record.id]

    assert db.claim(record.id, "builder-2")
    done = db.finish(
        record.id,
        "SUCCESS",
        nvr="openstack-nova-27.0.0-0.20230101000000.a000000",
        artifacts=["openstack-nova-27.0.0-0.20230101000000.a000000.noarch.rpm"],
        log_url="https://repo/aa/00/a_d/build.log",
        dt_build=700,
    )
    data = done.as_dict()
    assert data["status"] == "SUCCESS"
    assert data["builder"] == "builder-2"
    assert data["retries"] == 1
    assert data["dt_build"] == 700
    assert data["artifacts"] == ["openstack-nova-27.0.0-0.20230101000000.a000000.noarch.rpm"]
    assert data["repo_hash"] == "a" + "0" * 39 + "_dddddddd"
    assert data["repo_path"] == "a0/00/" + data["repo_hash"]
    assert not db.claim(record.id, "builder-3")  # final


def test_lifecycle_errors_name_the_commit_and_the_fix(db):
    (record,) = db.queue([change("nova", "a")])
    with pytest.raises(InputError, match=r"commit \d+ \(nova a000000\) is QUEUED, not BUILDING: claim it"):
        db.finish(record.id, "SUCCESS")
    db.claim(record.id, "b1")
    with pytest.raises(InputError, match="must be SUCCESS, FAILED or RETRY"):
        db.finish(record.id, "BUILDING")
    with pytest.raises(InputError, match="artifacts must be a list of strings"):
        db.finish(record.id, "SUCCESS", artifacts=[1])
    with pytest.raises(InputError, match="no commit with id 999"):
        db.claim(999, "b1")
    with pytest.raises(InputError, match="builder must be"):
        db.claim(record.id, "")
    assert db.get(record.id).status == "BUILDING"


def test_pending_is_oldest_first(db):
    db.queue([change("nova", "n2", dt_commit=200, dt_queued=50), change("nova", "n1", dt_commit=100, dt_queued=50)])
    db.queue([change("glance", "g1", dt_commit=10, dt_queued=60), change("glance", "g9", release="zed", dt_queued=40)])
    assert [record.commit_hash[:2] for record in db.pending()] == ["g9", "n1", "n2", "g1"]
    assert [record.commit_hash[:2] for record in db.pending(release="master", limit=2)] == ["n1", "n2"]


def test_unpublished_count_is_what_is_left_to_publish(db):
    ok, failed, no_log, queued = db.queue([change(p, p) for p in ("nova", "glance", "cinder", "swift")])
    build(db, ok, "SUCCESS", log_url="/r/nova/build.log")
    build(db, failed, "FAILED", log_url="/r/glance/build.log")
    build(db, no_log, "SUCCESS")  # nothing to publish from: to_publish skips it too
    assert db.unpublished_count() == 2
    db.mark_published(ok.id)
    db.mark_purged(failed.id)
    assert db.unpublished_count() == 0
    assert queued.status == "QUEUED"


# -- queries ---------------------------------------------------------------------------


@pytest.fixture
def history(db):
    """nova: SUCCESS then FAILED; keystone: FAILED then QUEUED; glance: FAILED then SUCCESS; nova zed: SUCCESS."""
    n1, n2, k1, _k2, g1, g2, z1 = db.queue(
        [
            change("nova", "n1", dt_commit=100),
            change("nova", "n2", dt_commit=200),
            change("keystone", "k1", dt_commit=100),
            change("keystone", "k2", dt_commit=200),
            change("glance", "g1", dt_commit=100),
            change("glance", "g2", dt_commit=200),
            change("nova", "z1", release="zed", dt_commit=100),
        ]
    )
    build(db, n1, "SUCCESS", dt_build=1000)
    build(db, n2, "FAILED", dt_build=2000)
    build(db, k1, "FAILED", dt_build=1500)
    build(db, g1, "FAILED", dt_build=1000)
    build(db, g2, "SUCCESS", dt_build=1100)
    build(db, z1, "SUCCESS", dt_build=1000)
    return db


def test_last_builds_are_per_package_and_release(history):
    last = {
        (record.release, record.project): (record.commit_hash[:2], record.status) for record in history.last_builds()
    }
    assert last == {
        ("master", "glance"): ("g2", "SUCCESS"),
        ("master", "keystone"): ("k2", "QUEUED"),
        ("master", "nova"): ("n2", "FAILED"),
        ("zed", "nova"): ("z1", "SUCCESS"),
    }
    assert [record.project for record in history.last_builds(release="zed")] == ["nova"]
    assert summarize(history.last_builds()) == {"QUEUED": 1, "BUILDING": 0, "SUCCESS": 2, "FAILED": 1, "RETRY": 0}


def test_failures_are_packages_whose_latest_finished_build_failed(history):
    assert [(record.project, record.commit_hash[:2]) for record in history.failures()] == [
        ("keystone", "k1"),
        ("nova", "n2"),
    ]
    assert [record.project for record in history.failures(since=1600)] == ["nova"]
    assert history.failures(release="zed") == []


def test_commit_and_commits_lookups(history):
    record = history.commit("n1".ljust(40, "0"))
    assert (record.project, record.status) == ("nova", "SUCCESS")
    assert history.commit("n1".ljust(40, "0"), "dddd").id == record.id
    assert history.commit("n1".ljust(40, "0"), "eeee") is None
    assert history.commit("f" * 40) is None
    assert [item.commit_hash[:2] for item in history.commits(project="nova")] == ["z1", "n2", "n1"]
    assert [item.commit_hash[:2] for item in history.commits(project="nova", release="master", limit=1)] == ["n2"]
    assert {item.project for item in history.commits(status="FAILED")} == {"nova", "keystone", "glance"}
    with pytest.raises(InputError, match="status must be one of"):
        history.commits(status="DONE")


# -- votes and promotions ----------------------------------------------------------------


def test_votes_on_commit_repos_and_aggregates(history):
    n1 = history.commit("n1".ljust(40, "0"))
    history.record_vote(n1.repo_hash, "tempest-full", False, url="https://ci/1", notes="flaky", timestamp=10)
    history.record_vote(n1.commit_hash, "tempest-full", True, url="https://ci/2", timestamp=20)
    votes = history.votes(n1.commit_hash)
    assert [(vote.ref_hash, vote.success, vote.url, vote.commit_id) for vote in votes] == [
        (n1.repo_hash, False, "https://ci/1", n1.id),
        (n1.repo_hash, True, "https://ci/2", n1.id),
    ]
    assert votes[0].as_dict()["notes"] == "flaky"
    agg = history.record_vote("0a1b2c3d", "puppet-scenario001", True, timestamp=30, aggregate=True, user="ci")
    assert (agg.aggregate, agg.commit_id, agg.user) == (True, None, "ci")
    assert [vote.job_id for vote in history.votes("0a1b2c3d", aggregate=True)] == ["puppet-scenario001"]
    with pytest.raises(InputError, match="no commit ffff: name a built commit"):
        history.record_vote("ffff", "job", True)
    with pytest.raises(InputError, match="job_id"):
        history.record_vote(n1.repo_hash, "", True)


def test_promotions_newest_first_per_label(history):
    n1 = history.commit("n1".ljust(40, "0"))
    g2 = history.commit("g2".ljust(40, "0"))
    history.record_promotion(n1.repo_hash, "current-passed-ci", "alice", 100)
    history.record_promotion(g2.repo_hash, "current-passed-ci", "bob", 200)
    history.record_promotion("0a1b2c3d", "current-tripleo", "bob", 150, aggregate=True)
    assert [(p.ref_hash, p.user) for p in history.promotions("current-passed-ci")] == [
        (g2.repo_hash, "bob"),
        (n1.repo_hash, "alice"),
    ]
    assert [p.label for p in history.promotions()] == ["current-passed-ci", "current-tripleo", "current-passed-ci"]
    assert history.promotions(limit=1)[0].as_dict()["timestamp"] == 200
    for label in ("current", "consistent", "../x", ""):
        with pytest.raises(InputError, match="promotion label"):
            history.record_promotion(n1.repo_hash, label, "alice", 300)
