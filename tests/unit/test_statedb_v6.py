"""State DB schema 6: the notifications record, and the build and label history notifications read."""

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._statedb import schema
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import NewCommit, StateDB

from .statedbs import at_version, index_names

T0 = 1_700_000_000


def _build(db, project, seq, status, *, release="master", notes=None, dt_build=None):
    (record,) = db.queue([NewCommit(project, release, f"{project}{seq:02d}".ljust(40, "0"), "d" * 40, T0 + seq * 100)])
    db.claim(record.id, "builder-1", now=T0 + seq * 100)
    return db.finish(record.id, status, notes=notes, dt_build=dt_build if dt_build is not None else T0 + seq * 100 + 50)


def test_version_5_migrates_to_6_with_an_empty_notifications_record(statedb_target):
    path = statedb_target
    at_version(
        path,
        5,
        (
            "INSERT INTO commits (project, release, commit_hash, distro_hash, dt_commit, status, dt_queued, dt_build)"
            " VALUES ('nova', 'master', ?, ?, 100, 'FAILED', 100, 150)",
            ("a" * 40, "b" * 40),
        ),
    )
    with StateDB(path) as db:
        assert db.schema_version == schema.SCHEMA_VERSION >= 6
        # the build recorded before the migration is a change (a first build that failed)
        assert [change.build.project for change in db.build_changes(0)] == ["nova"]
        assert db.notifications(["ftbfs/master/nova/x"]) == []
        assert db.claim_notification("ftbfs/master/nova/x", "email", kind="ftbfs", subject="s", now=200)
    assert "notifications_by_time" in index_names(path)


def test_build_changes_are_the_builds_whose_outcome_differs_from_the_one_before(statedb_target):
    with StateDB(statedb_target) as db:
        statuses = ["SUCCESS", "FAILED", "FAILED", "SUCCESS", "SUCCESS", "FAILED"]
        builds = [_build(db, "nova", seq, status) for seq, status in enumerate(statuses)]
        _build(db, "glance", 0, "FAILED")  # a first build that failed
        _build(db, "nova", 0, "FAILED", release="zed")  # another release is another history
        (retry,) = db.queue([NewCommit("nova", "master", "f" * 40, "d" * 40, T0 + 9000)])
        db.claim(retry.id, "builder-1")
        db.finish(retry.id, "RETRY")  # not a finished outcome
        changes = db.build_changes(0, release="master")
        assert [(c.build.project, c.build.status, c.previous and c.previous.id) for c in changes] == [
            ("glance", "FAILED", None),
            ("nova", "FAILED", builds[0].id),
            ("nova", "SUCCESS", builds[2].id),
            ("nova", "FAILED", builds[4].id),
        ]
        # since: the builds finished before are not asked about again
        assert [c.build.id for c in db.build_changes(T0 + 351, release="master")] == [builds[5].id]
        assert len(db.build_changes(0)) == 5
        assert [b.status for b in db.finished_builds("nova", "master")] == statuses


def test_label_heads_give_each_labels_newest_promotion(statedb_target):
    with StateDB(statedb_target) as db:
        one = _build(db, "nova", 1, "SUCCESS")
        two = _build(db, "nova", 2, "SUCCESS")
        db.record_promotion(one.repo_hash, "tripleo-ci-testing", timestamp=T0 + 1000)
        db.record_promotion(two.repo_hash, "tripleo-ci-testing", timestamp=T0 + 2000)
        db.record_promotion(one.repo_hash, "current-passed-ci", timestamp=T0 + 1500)
        heads = db.label_heads()
        assert [(h.label, h.ref_hash, h.timestamp) for h in heads] == [
            ("current-passed-ci", one.repo_hash, T0 + 1500),
            ("tripleo-ci-testing", two.repo_hash, T0 + 2000),
        ]
        assert [h.label for h in db.label_heads(["current-passed-ci", "never-promoted"])] == ["current-passed-ci"]
        assert db.label_heads([]) == []


def test_a_notification_is_claimed_once_confirmed_or_given_back(statedb_target):
    with StateDB(statedb_target) as db, StateDB(statedb_target) as other:
        args = {"kind": "ftbfs", "subject": "FTBFS: nova", "recipients": ["a@example.org"]}
        assert db.claim_notification("e1", "email", now=100, **args)
        # a second run (another connection) does not get it
        assert not other.claim_notification("e1", "email", now=101, **args)
        assert other.claim_notification("e1", "webhook", now=101, **args)
        db.confirm_notification("e1", "email", now=102)
        other.release_notification("e1", "webhook")
        (record,) = db.notifications(["e1", "e2"])
        assert (record.channel, record.state, record.recipients, record.dt_sent) == (
            "email",
            "SENT",
            ["a@example.org"],
            102,
        )
        # a SENT one is never given back nor taken over; a SENDING one is taken over only when asked
        db.release_notification("e1", "email")
        assert not db.claim_notification("e1", "email", retake=True, now=103, **args)
        assert db.claim_notification("e2", "email", now=104, **args)
        assert not db.claim_notification("e2", "email", now=105, **args)
        assert db.claim_notification("e2", "email", retake=True, now=106, **args)
        assert db.notified_events_since(100) == 2
        assert db.notified_events_since(105) == 1
        with pytest.raises(Exception, match="event_id must be a non-empty string"):
            db.claim_notification("", "email", **args)
