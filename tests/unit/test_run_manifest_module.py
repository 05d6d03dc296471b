"""run_manifest through ansible-playbook: check mode writes nothing, a rerun changes nothing, one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from ansible_collections.distroforge.openstack.plugins.module_utils._runs import manifest

from .ansible_run import TOP, run_playbook

KS = ("3db1d55076c17a4aad91dfb11b915ed08e52c79b", "1ef8b25faf2d4e035f9b206c55ec5decdf39466f")
REPO_HASH = f"{KS[0]}_{KS[1][:8]}"
REPO_PATH = f"3d/b1/{REPO_HASH}"
VERSIONS = (
    "Project,Source Repo,Source Sha,Dist Repo,Dist Sha,Status,Last Success Timestamp,Component,Extended Sha,Pkg NVR\n"
    f"keystone,None,{KS[0]},None,{KS[1]},SUCCESS,1795681910,keystone,None,keystone_2:22.0.2-1\n"
)

PLAYBOOK = """\
- name: Write a run manifest with run_manifest
  hosts: localhost
  gather_facts: false
  vars:
    args: &args
      path: "{{ workdir }}/runs/20261126T085136Z/manifest.json"
      run_id: 20261126T085136Z
      release: zed
      backend: dpkg
      repos_dir: "{{ workdir }}/repos"
      repo_path: "{{ repo_path }}"
      repo_base_url: http://10.89.42.1:8088/repos
      build_results: "{{ build_results }}"
      deploy: {status: passed, scenario: scenario001, keystone_version: "2:22.0.2-1", phases: []}
      tempest: "{{ tempest }}"
      steps_not_built: [vote]
  tasks:
    - name: Compute the manifest in check mode, with a diff
      distroforge.openstack.run_manifest: *args
      check_mode: true
      diff: true
      register: checked

    - name: Save what check mode left on disk
      ansible.builtin.find:
        paths: "{{ workdir }}"
        recurse: true
        file_type: any
      register: after_check

    - name: Write the manifest
      distroforge.openstack.run_manifest: *args
      register: first

    - name: Write it again
      distroforge.openstack.run_manifest: *args
      register: second

    - name: Check it again in check mode, with a diff
      distroforge.openstack.run_manifest: *args
      check_mode: true
      diff: true
      register: second_check

    - name: Give a deploy result that is not one
      distroforge.openstack.run_manifest:
        <<: *args
        deploy: {status: [passed]}
      register: bad
      ignore_errors: true

    - name: Judge the same Tempest summary with the filter reproduce.yml uses
      ansible.builtin.set_fact:
        judged: "{{ {'status': 'passed'} | distroforge.openstack.run_verdict(tempest, none) }}"

    - name: Save the results for the test
      ansible.builtin.copy:
        content: "{{ {'checked': checked, 'after_check': after_check.files | map(attribute='path') | list,
                      'first': first, 'second': second, 'second_check': second_check, 'bad': bad,
                      'judged': judged} | to_json }}"
        dest: "{{ results }}"
        mode: "0644"
"""

TEMPEST_PASSES = {"total": 12, "passed": 10, "failed": 0, "skipped": 2, "flaky": 0, "success": True}


def run(tmp_path: Path, *, tempest: dict, build_results: list) -> tuple[dict, Path]:
    workdir = tmp_path / "work"
    repo = workdir / "repos" / REPO_PATH
    repo.mkdir(parents=True)
    (repo / "versions.csv").write_text(VERSIONS)
    playbook = tmp_path / "run_manifest.yml"
    playbook.write_text(PLAYBOOK)
    results = tmp_path / "results.json"
    run_playbook(
        playbook,
        {
            "workdir": str(workdir),
            "repo_path": REPO_PATH,
            "results": str(results),
            "tempest": tempest,
            "build_results": build_results,
        },
    )
    return json.loads(results.read_text()), workdir / "runs" / "20261126T085136Z" / "manifest.json"


def test_check_mode_writes_nothing_and_a_second_run_changes_nothing(tmp_path):
    out, path = run(tmp_path, tempest=TEMPEST_PASSES, build_results=[{"project": "keystone", "status": "SUCCESS"}])
    checked = out["checked"]
    # check mode: everything computed, nothing on disk (not even the run directory)
    assert checked["changed"] is True
    assert checked["verdict"] == "passed" and checked["run_passed"] is True
    assert checked["summary"][-1] == f"verdict for {REPO_HASH}: PASSED; not built yet: vote"
    assert checked["diff"]["before"] == "" and json.loads(checked["diff"]["after"]) == checked["manifest"]
    parts = ("repos", "repos/3d", "repos/3d/b1", f"repos/{REPO_PATH}", f"repos/{REPO_PATH}/versions.csv")
    assert sorted(out["after_check"]) == sorted(str(tmp_path / "work" / part) for part in parts)
    first, second = out["first"], out["second"]
    assert first["changed"] is True
    assert manifest.as_dict(manifest.load(path)) == first["manifest"] == checked["manifest"]
    assert manifest.load(path).packages == VERSIONS.splitlines()
    assert second["changed"] is False
    assert out["second_check"]["changed"] is False
    assert out["second_check"]["diff"]["before"] == out["second_check"]["diff"]["after"]
    assert out["judged"] == {"verdict": "passed", "reasons": []}
    # a bad fact fails in one line naming the field, never a traceback
    bad = out["bad"]
    assert bad["failed"] is True
    assert bad["msg"].startswith("run_manifest: field 'deploy.status' must be a string, found list; give the")
    assert "\n" not in bad["msg"] and "Traceback" not in json.dumps(bad)


def test_a_run_that_ran_no_test_and_whose_build_failed_says_both(tmp_path):
    all_skipped = {"total": 4, "passed": 0, "failed": 0, "skipped": 4, "flaky": 0, "success": True}
    out, path = run(tmp_path, tempest=all_skipped, build_results=[{"project": "nova", "status": "FAILED"}])
    first = out["first"]
    assert first["verdict"] == "failed"
    assert first["reasons"] == ["no tests ran (4 skipped)"]
    assert out["judged"] == {"verdict": "failed", "reasons": ["no tests ran (4 skipped)"]}
    assert first["tested_hash_is_older"] is True and first["run_passed"] is False
    note = f"the build of nova failed in this run; tested {REPO_HASH}, the last good repository, instead"
    assert first["tested_hash_note"] == note
    assert first["verdict_line"] == f"verdict: {note}: it FAILED (no tests ran (4 skipped))"
    written = json.loads(path.read_text())
    assert written["build_failed"] == ["nova"] and written["tested_hash_is_older"] is True
    assert written["tested_hash_note"] == note


def test_the_playbooks_leave_the_manifest_and_the_verdict_to_code():
    """pipeline.yml writes the manifest with run_manifest and reproduce.yml judges with run_verdict: no Jinja copy."""
    pipeline = (TOP / "playbooks" / "pipeline.yml").read_text()
    last = yaml.safe_load(pipeline)[-1]
    modules = [next(key for key in task if "." in key) for task in last["tasks"]]
    assert "distroforge.openstack.run_manifest" in modules
    assert "ansible.builtin.copy" not in modules
    assert "verdict" not in json.dumps(last.get("vars", {}))
    reproduce = (TOP / "playbooks" / "reproduce.yml").read_text()
    assert "distroforge.openstack.run_verdict" in reproduce
    assert "summary.success" not in reproduce and "tempest_run_summary.success" not in pipeline
    assert os.path.isfile(TOP / "plugins" / "modules" / "run_manifest.py")
