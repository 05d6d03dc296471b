"""build_status through Ansible itself: argument spec, check mode, JSON result and a one-line failure."""

import json
from pathlib import Path

from ansible_collections.distroforge.openstack.plugins.module_utils._statedb import schema
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import NewCommit, StateDB

from .ansible_run import run_playbook

TOP = Path(__file__).resolve().parents[2]

PLAYBOOK = """\
- name: Query the state DB with build_status
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Show the last build of every package, in check mode
      distroforge.openstack.build_status:
        db: "{{ state_db }}"
        query: last
      check_mode: true
      register: last

    - name: List failures of master
      distroforge.openstack.build_status:
        db: "{{ state_db }}"
        query: failures
        release: master
      register: failures

    - name: Look up one commit by hash and distgit prefix
      distroforge.openstack.build_status:
        db: "{{ state_db }}"
        query: commit
        commit_hash: "{{ 'a' * 40 }}"
        distro_hash: dddddddd
      register: one

    - name: Recheck glance, whose newest build failed
      distroforge.openstack.package_recheck:
        db: "{{ state_db }}"
        project: glance
      register: recheck

    - name: Recheck glance again, now waiting for its rebuild
      distroforge.openstack.package_recheck:
        db: "{{ state_db }}"
        project: glance
      register: recheck_again

    - name: Recheck nova, which builds
      distroforge.openstack.package_recheck:
        db: "{{ state_db }}"
        package_name: nova
      register: recheck_nova

    - name: Recheck a package never built
      distroforge.openstack.package_recheck:
        db: "{{ state_db }}"
        project: cinder
      register: recheck_unknown
      ignore_errors: true

    - name: Query a DB that does not exist
      distroforge.openstack.build_status:
        db: "{{ state_db }}.missing"
      register: missing
      ignore_errors: true

    - name: Save the results for the test
      ansible.builtin.copy:
        content: "{{ {'last': last, 'failures': failures, 'one': one, 'missing': missing, 'recheck': recheck,
                      'recheck_again': recheck_again, 'recheck_nova': recheck_nova,
                      'recheck_unknown': recheck_unknown} | to_json }}"
        dest: "{{ results }}"
        mode: "0644"
"""


def test_module_runs_through_ansible(tmp_path):
    state_db = tmp_path / "state.db"
    with StateDB(state_db) as db:
        nova, glance, _keystone = db.queue(
            [
                NewCommit("nova", "master", "a" * 40, "d" * 40, 100),
                NewCommit("glance", "master", "b" * 40, "d" * 40, 100),
                NewCommit("keystone", "master", "c" * 40, "d" * 40, 100),
            ]
        )
        db.claim(nova.id, "builder-1")
        db.finish(nova.id, "SUCCESS", nvr="openstack-nova-1-1", artifacts=["openstack-nova-1-1.noarch.rpm"])
        db.claim(glance.id, "builder-1")
        db.finish(glance.id, "FAILED", notes="error: broken spec")
    playbook = tmp_path / "query.yml"
    playbook.write_text(PLAYBOOK)
    results = tmp_path / "results.json"
    run_playbook(playbook, {"state_db": str(state_db), "results": str(results)})
    out = json.loads(results.read_text())

    last = out["last"]
    assert last["changed"] is False
    assert [(build["project"], build["status"]) for build in last["builds"]] == [
        ("glance", "FAILED"),
        ("keystone", "QUEUED"),
        ("nova", "SUCCESS"),
    ]
    assert last["summary"] == {"QUEUED": 1, "BUILDING": 0, "SUCCESS": 1, "FAILED": 1, "RETRY": 0}
    assert last["schema_version"] == schema.SCHEMA_VERSION

    assert [(build["project"], build["notes"]) for build in out["failures"]["builds"]] == [
        ("glance", "error: broken spec")
    ]
    (ftbfs,) = out["failures"]["ftbfs"]
    assert (ftbfs["project"], ftbfs["failures"], ftbfs["error"], ftbfs["last_success"]) == (
        "glance",
        1,
        "error: broken spec",
        None,
    )

    # recheck: the failed build goes back to the builders once; a second run and a good package change nothing
    assert (out["recheck"]["changed"], out["recheck"]["reason"]) == (True, "rechecked")
    assert (out["recheck_again"]["changed"], out["recheck_again"]["reason"]) == (False, "pending")
    assert (out["recheck_nova"]["changed"], out["recheck_nova"]["reason"]) == (False, "succeeded")
    assert out["recheck_unknown"]["failed"] and "no build of cinder" in out["recheck_unknown"]["msg"]
    with StateDB(state_db) as db:
        assert db.get(glance.id).status == "RETRY"

    (one,) = out["one"]["builds"]
    assert one["nvr"] == "openstack-nova-1-1"
    assert one["artifacts"] == ["openstack-nova-1-1.noarch.rpm"]
    assert one["repo_path"] == f"aa/aa/{'a' * 40}_dddddddd"

    missing = out["missing"]
    assert missing["failed"] is True
    assert missing["msg"] == (
        f"state DB {state_db}.missing does not exist: it is created by the first poll "
        "(distroforge.openstack.source_poll)"
    )
    assert "\n" not in missing["msg"]
