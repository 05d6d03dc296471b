"""ci_vote, repo_promote and playbooks/promote.yml through ansible-playbook: check mode, idempotency, errors."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.distroforge.openstack.plugins.module_utils._publish.publisher import Publisher, PublishOptions
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB

from .ansible_run import run_playbook
from .pkgfactory import add_build, artifacts_dir, build_rpm

TOP = Path(__file__).resolve().parents[2]
JOB = "distroforge-pipeline-scenario001"
pytestmark = pytest.mark.slow  # builds tiny RPMs with rpmbuild

PLAYBOOK = """\
- name: Vote and promote with the modules
  hosts: localhost
  gather_facts: false
  vars:
    build: &build
      commit_hash: "{{ alpha.commit_hash }}"
      distro_hash: "{{ alpha.distro_hash }}"
    criteria:
      candidate_label: consistent
      criteria: [JOB]
  tasks:
    - name: Vote in check mode
      distroforge.openstack.ci_vote:
        db: "{{ state_db }}"
        job_id: JOB
        success: true
        timestamp: 1000
        <<: *build
      check_mode: true
      register: vote_check

    - name: Promote by criteria before any vote
      distroforge.openstack.repo_promote: &promote
        db: "{{ state_db }}"
        repos_dir: "{{ repos_dir }}"
        label: puppet-passed-ci
        criteria: "{{ criteria }}"
        user: ci
      register: promote_none

    - name: Promote one build whose votes do not meet the criteria
      distroforge.openstack.repo_promote:
        <<: [*promote, *build]
      register: promote_unmet
      ignore_errors: true

    - name: Vote
      distroforge.openstack.ci_vote: &vote
        db: "{{ state_db }}"
        job_id: JOB
        success: true
        timestamp: 1000
        url: https://ci.example.org/1
        user: ci
        <<: *build
      register: vote

    - name: Vote again
      distroforge.openstack.ci_vote: *vote
      register: vote_again

    - name: Vote on both a build and an aggregate
      distroforge.openstack.ci_vote:
        <<: *vote
        aggregate_hash: "{{ 'a' * 32 }}"
      register: vote_both
      ignore_errors: true

    - name: Vote on an unknown build
      distroforge.openstack.ci_vote:
        <<: *vote
        commit_hash: "{{ 'f' * 40 }}"
      register: vote_unknown
      ignore_errors: true

    - name: Promote by criteria in check mode
      distroforge.openstack.repo_promote: *promote
      check_mode: true
      register: promote_check

    - name: Promote by criteria
      distroforge.openstack.repo_promote: *promote
      register: promote_done

    - name: Promote by criteria again
      distroforge.openstack.repo_promote: *promote
      register: promote_again

    - name: Promote to current
      distroforge.openstack.repo_promote:
        <<: *promote
        label: current
      register: promote_current
      ignore_errors: true

    - name: Save the results for the test
      ansible.builtin.copy:
        content: "{{ {'vote_check': vote_check, 'vote': vote, 'vote_again': vote_again, 'vote_both': vote_both,
                      'vote_unknown': vote_unknown, 'promote_none': promote_none, 'promote_unmet': promote_unmet,
                      'promote_check': promote_check, 'promote_done': promote_done, 'promote_again': promote_again,
                      'promote_current': promote_current} | to_json }}"
        dest: "{{ results }}"
        mode: "0644"
""".replace("JOB", JOB)


@pytest.fixture(scope="module")
def rpms(tmp_path_factory):
    work = tmp_path_factory.mktemp("rpms")
    return {name: build_rpm(work, name) for name in ("alpha", "beta")}


def _published(workdir: Path, rpms) -> dict:
    """A workdir as build.yml leaves it: state.db and repos/ with two consistent builds."""
    with StateDB(workdir / "state.db") as db:
        publisher = Publisher(PublishOptions(repos_dir=workdir / "repos", sign=False, report=False), db)
        records = {}
        for seq, name in enumerate(("alpha", "beta")):
            record = add_build(db, name, seq)
            publisher.publish(record.id, artifacts_dir(workdir, rpms[name]))
            records[name] = db.get(record.id)
    return records


def test_modules_vote_and_promote_idempotently_through_ansible(tmp_path, rpms):
    records = _published(tmp_path, rpms)
    alpha = records["alpha"]
    playbook = tmp_path / "promote_test.yml"
    playbook.write_text(PLAYBOOK)
    results = tmp_path / "results.json"
    extra = {
        "state_db": str(tmp_path / "state.db"),
        "repos_dir": str(tmp_path / "repos"),
        "results": str(results),
        "alpha": {"commit_hash": alpha.commit_hash, "distro_hash": alpha.distro_hash},
    }
    run_playbook(playbook, extra)
    out = json.loads(results.read_text())

    assert out["vote_check"]["changed"] is True and out["vote_check"]["vote"]["job_id"] == JOB
    assert out["promote_none"]["changed"] is False
    assert out["promote_none"]["summary"].startswith("puppet-passed-ci: none of 2 newer consistent hash(es)")
    assert out["promote_unmet"]["failed"] is True
    assert out["promote_unmet"]["msg"] == f"{alpha.repo_hash} cannot become puppet-passed-ci: no vote: {JOB}"
    assert out["vote"]["changed"] is True and out["vote"]["vote"]["user"] == "ci"
    assert out["vote_again"]["changed"] is False
    assert out["vote_both"]["failed"] is True and "mutually exclusive" in out["vote_both"]["msg"]
    assert out["vote_unknown"]["failed"] is True and "not found in the state DB" in out["vote_unknown"]["msg"]
    for failed in ("promote_unmet", "vote_unknown", "promote_current"):
        assert "\n" not in out[failed]["msg"] and "Traceback" not in json.dumps(out[failed])
    check = out["promote_check"]
    assert check["changed"] is True and check["promoted_hash"] == alpha.repo_hash and check["previous_hash"] is None
    done = out["promote_done"]
    assert done["changed"] is True and done["summary"] == f"puppet-passed-ci: unset -> {alpha.repo_hash}"
    assert done["dlrn"]["promote_name"] == "puppet-passed-ci" and done["dlrn"]["user"] == "ci"
    assert [c["status"] for c in done["decision"]["candidates"]] == ["criteria not met", "chosen"]
    assert out["promote_again"]["changed"] is False and out["promote_again"]["promoted_hash"] == alpha.repo_hash
    assert re.search(r"'current' is moved by every build", out["promote_current"]["msg"])
    assert os.readlink(tmp_path / "repos" / "puppet-passed-ci").endswith(alpha.repo_hash)
    with StateDB(tmp_path / "state.db", readonly=True) as db:
        assert [(p.label, p.ref_hash, p.user) for p in db.promotions()] == [("puppet-passed-ci", alpha.repo_hash, "ci")]
        assert [v.job_id for v in db.votes(alpha.repo_hash) if v.job_id == JOB] == [JOB]


def _recap_changed(stdout: str) -> int:
    return sum(int(n) for n in re.findall(r"changed=(\d+)", stdout))


def test_promote_playbook_moves_labels_by_the_criteria_file(tmp_path, rpms):
    records = _published(tmp_path, rpms)
    beta = records["beta"]
    criteria = tmp_path / "promotion.yml"
    data = yaml.safe_load((TOP / "examples" / "distro" / "promotion.yml").read_text())
    data["promotions"]["current-passed-ci"] = {"candidate_label": "puppet-passed-ci", "criteria": ["tempest"]}
    criteria.write_text(yaml.safe_dump(data, sort_keys=False))
    extra = {"distroforge_workdir": str(tmp_path), "distroforge_promotion_criteria": str(criteria)}
    playbook = TOP / "playbooks" / "promote.yml"
    with StateDB(tmp_path / "state.db") as db:
        db.record_vote(beta.repo_hash, JOB, True, timestamp=2000)
        db.record_vote(beta.repo_hash, "tempest", True, timestamp=2100)
    before = sorted(p.name for p in (tmp_path / "repos").iterdir())

    check = run_playbook(playbook, extra, "--check")
    assert sorted(p.name for p in (tmp_path / "repos").iterdir()) == before
    assert f"puppet-passed-ci: unset -> {beta.repo_hash}" in check.stdout

    first = run_playbook(playbook, extra)
    # Targets run in file order, so the chained label follows in the same run.
    assert f"puppet-passed-ci: unset -> {beta.repo_hash}" in first.stdout
    assert f"current-passed-ci: unset -> {beta.repo_hash}" in first.stdout
    # The json_query selection of what moved, as the playbook prints it.
    assert re.search(r"moved:\s+- +from: null\s+label: puppet-passed-ci\s+to: " + beta.repo_hash, first.stdout)
    for label in ("puppet-passed-ci", "current-passed-ci"):
        assert os.readlink(tmp_path / "repos" / label).endswith(beta.repo_hash)

    again = run_playbook(playbook, extra)
    assert _recap_changed(again.stdout) == 0
    assert f"puppet-passed-ci: no consistent hash newer than {beta.repo_hash}" in again.stdout
