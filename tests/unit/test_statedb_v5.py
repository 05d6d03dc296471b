"""State DB schema 5: the packaging commit is ``distro_hash`` (DLRN's word), data kept across the rename."""

import json

from ansible_collections.distroforge.openstack.plugins.module_utils._reproduce import job_from_buildinfo
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import NewCommit, StateDB

from .statedbs import at_version


def test_version_4_db_keeps_its_builds_under_distro_hash(statedb_target):
    path = statedb_target
    at_version(
        path,
        4,
        (
            "INSERT INTO commits (project, release, commit_hash, distgit_hash, dt_commit, dt_distgit, status,"
            " dt_queued) VALUES ('nova', 'master', ?, ?, 100, 100, 'SUCCESS', 100)",
            ("a" * 40, "b" * 40),
        ),
    )
    with StateDB(path) as db:
        assert db.schema_version >= 5
        (old,) = db.commits()
        assert (old.commit_hash, old.distro_hash, old.repo_hash) == ("a" * 40, "b" * 40, "a" * 40 + "_bbbbbbbb")
        # the uniqueness of a build survived the rename: the same commit pair is not queued twice
        db.queue([NewCommit("nova", "master", "a" * 40, "b" * 40, 100)])
        assert len(db.commits()) == 1
        assert db.commits(distro_hash="bbbbbbbb")[0].id == old.id


def test_reproduce_reads_buildinfo_written_before_the_rename():
    old = json.loads(
        '{"project": "nova", "name": "openstack-nova", "inputs": {"upstream": "file:///u", "distgit": "file:///d",'
        ' "commit_hash": "' + "a" * 40 + '", "distgit_hash": "' + "b" * 40 + '"}}'
    )
    assert job_from_buildinfo(old, {})["distro_hash"] == "b" * 40
