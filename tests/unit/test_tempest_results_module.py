"""tempest_results through Ansible itself: argument spec, check mode, changed only on new content, one-line failures."""

import json
from pathlib import Path

from .ansible_run import run_playbook
from .tempest_streams import make_many_stream

TOP = Path(__file__).resolve().parents[2]

PLAYBOOK = """\
- name: Summarize Tempest streams with tempest_results
  hosts: localhost
  gather_facts: false
  vars:
    outputs: &outputs
      src: ["{{ stream }}", "{{ stream }}"]
      junit: "{{ outdir }}/results.xml"
      html: "{{ outdir }}/results.html"
      json: "{{ outdir }}/results.json"
      suite_name: tempest-identity
      phases:
        - name: deploy
          status: passed
          duration: 161.2
        - name: idempotency
          status: failed
          message: second Puppet run changed 1 resource
  tasks:
    - name: Compute the results in check mode
      distroforge.openstack.tempest_results: *outputs
      check_mode: true
      register: dry

    - name: Write the reports
      distroforge.openstack.tempest_results: *outputs
      register: first

    - name: Write the same reports again
      distroforge.openstack.tempest_results: *outputs
      register: second

    - name: Read a stream that does not exist
      distroforge.openstack.tempest_results:
        src: ["{{ outdir }}/missing.subunit"]
      register: missing
      ignore_errors: true

    - name: Give a phase a status that does not exist
      distroforge.openstack.tempest_results:
        src: ["{{ stream }}"]
        phases:
          - name: deploy
            status: ok
      register: badphase
      ignore_errors: true

    - name: Save the results for the test
      ansible.builtin.copy:
        content: "{{ {'dry': dry, 'first': first, 'second': second, 'missing': missing, 'badphase': badphase}
          | to_json }}"
        dest: "{{ results }}"
        mode: "0644"
"""


def test_module_runs_through_ansible(tmp_path):
    stream = make_many_stream(tmp_path / "streams", 60)
    outdir = tmp_path / "out"
    outdir.mkdir()
    playbook = tmp_path / "results.yml"
    playbook.write_text(PLAYBOOK)
    results = tmp_path / "results.json"
    run_playbook(playbook, {"stream": str(stream), "outdir": str(outdir), "results": str(results)})
    out = json.loads(results.read_text())

    dry, first, second = out["dry"], out["first"], out["second"]
    assert dry["changed"] is True and dry["changed_files"] == ["json", "junit", "html"]
    assert first["changed"] is True
    assert second["changed"] is False and second["changed_files"] == []
    assert dry["summary"] == first["summary"] == second["summary"]
    summary = first["summary"]
    # 60 tests: 1 in 50 fails (7, 57), 1 in 40 is skipped (3, 43); the same stream twice is still 60 tests.
    assert {k: summary[k] for k in ("total", "passed", "failed", "skipped", "flaky")} == {
        "total": 60,
        "passed": 56,
        "failed": 2,
        "skipped": 2,
        "flaky": 0,
    }
    assert summary["success"] is False and summary["failed_phases"] == ["idempotency"]
    failure = summary["failures"][0]
    assert [f["test_id"] for f in summary["failures"]] == [
        "many_tests.TestMany.test_00007",
        "many_tests.TestMany.test_00057",
    ]
    assert failure["attempts"] == 2 and "mismatch" in failure["message"]
    assert [phase["name"] for phase in summary["phases"]] == ["deploy", "idempotency"]
    assert first["corruption"] == []
    assert json.loads((outdir / "results.json").read_text())["summary"] == summary
    assert '<testsuite name="tempest-identity"' in (outdir / "results.xml").read_text()

    missing = out["missing"]
    assert missing["failed"] is True
    assert missing["msg"] == (
        f"src: {outdir}/missing.subunit does not exist; point src at the subunit file tempest/stestr wrote"
    )
    badphase = out["badphase"]
    assert badphase["failed"] is True
    assert badphase["msg"] == "phases[1] (deploy): status must be one of passed, failed, skipped, got 'ok'"
