"""FTBFS lifecycle and recheck in the state DB: what the status page, notifications and the API read."""

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import (
    NewCommit,
    RecheckRefused,
    StateDB,
)


def _build(db, project, number, status, *, release="master", notes=None):
    """Queue commit ``number`` of ``project`` and finish its build with ``status`` at time 1000 * number."""
    (record,) = db.queue([NewCommit(project, release, f"{number:040x}", "d" * 40, 100 * number)])
    assert db.claim(record.id, "b1", now=1000 * number - 10)
    db.finish(record.id, status, notes=notes, dt_build=1000 * number)
    return db.get(record.id)


@pytest.fixture()
def db(statedb_target):
    with StateDB(statedb_target) as opened:
        opened.upsert_project("nova", maintainers=["nova-core@example.org"])
        yield opened


def test_ftbfs_names_first_failure_count_telling_line_and_maintainers(db):
    _build(db, "nova", 1, "SUCCESS")
    good = _build(db, "nova", 2, "SUCCESS")
    first = _build(db, "nova", 3, "FAILED", notes="error: Installed (but unpackaged) file(s) found")
    _build(db, "nova", 4, "RETRY")
    last = _build(db, "nova", 5, "FAILED", notes="E: Build killed with signal TERM")
    _build(db, "glance", 6, "FAILED", notes="ImportError: no module named oslo")
    _build(db, "keystone", 7, "SUCCESS")

    found = {item.project: item for item in db.ftbfs()}
    assert set(found) == {"nova", "glance"}  # keystone builds; a RETRY is not a failure
    nova = found["nova"]
    assert (nova.last_success.id, nova.first_failed.id, nova.last_failed.id) == (good.id, first.id, last.id)
    assert nova.failures == 2 and nova.since == 3000
    assert nova.as_dict()["error"] == "E: Build killed with signal TERM"
    assert nova.maintainers == ["nova-core@example.org"]
    glance = found["glance"]
    assert glance.last_success is None and glance.failures == 1 and glance.maintainers == []
    # longest failing first
    assert [item.project for item in db.ftbfs()] == ["nova", "glance"]
    # a success ends it
    _build(db, "nova", 8, "SUCCESS")
    assert [item.project for item in db.ftbfs()] == ["glance"]


def test_recheck_makes_the_failed_build_pending_again_and_forgets_its_votes(db):
    _build(db, "nova", 1, "SUCCESS")
    failed = _build(db, "nova", 2, "FAILED", notes="error: boom")
    db.record_vote(failed.repo_hash, "ci", False, timestamp=5000)
    before = db.recheck("nova")
    assert before.id == failed.id and before.status == "FAILED"
    again = db.get(failed.id)
    assert again.status == "RETRY" and again.retries == 0
    assert [record.id for record in db.pending()] == [failed.id]
    assert db.votes(failed.repo_hash) == []
    # a second recheck reaches the last processed build, which succeeded: refused, nothing changes
    with pytest.raises(RecheckRefused) as refused:
        db.recheck("nova")
    assert refused.value.reason == "succeeded" and "only a failed build" in str(refused.value)
    assert db.get(failed.id).status == "RETRY"


def test_recheck_refuses_unknown_and_in_progress_packages(db):
    with pytest.raises(RecheckRefused) as unknown:
        db.recheck("nope")
    assert unknown.value.reason == "none" and "nope" in str(unknown.value)
    (queued,) = db.queue([NewCommit("nova", "master", "a" * 40, "d" * 40, 100)])
    with pytest.raises(RecheckRefused) as waiting:
        db.recheck("nova")
    assert waiting.value.reason == "building" and "QUEUED" in str(waiting.value)
    # another release of the package is not touched
    _build(db, "nova", 3, "FAILED", release="zed")
    assert db.recheck("nova", release="zed").release == "zed"
    assert db.get(queued.id).status == "QUEUED"
