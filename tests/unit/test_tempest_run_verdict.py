"""The tempest_run role, tempest.yml and a test bisect's step, judged by the collection's one verdict rule.

A stand-in ``tempest`` (the role finds it where the install method puts Tempest) plays back real
subunit streams: one where every test was skipped, as Tempest's are when the cloud lacks the
service, and one where a test ran. Everything else is the role's and the playbook's own tasks,
run by ansible-playbook.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import yaml

from .ansible_run import TOP, play
from .tempest_streams import make_all_skipped_stream, make_many_stream

FAKE_TEMPEST = textwrap.dedent(
    """\
    #!/usr/bin/env python3
    import os, sys
    argv = sys.argv[1:]
    if argv[0] == "init":
        os.makedirs(os.path.join(argv[1], "etc"), exist_ok=True)
        open(os.path.join(argv[1], ".stestr.conf"), "w").close()
    elif "--list-tests" in argv:
        print("\\n".join({ids!r}))
    else:
        with open({stream!r}, "rb") as stream:
            sys.stdout.buffer.write(stream.read())
    """
)

PLAYBOOK = """\
- name: Run Tempest with the role
  hosts: localhost
  gather_facts: false
  roles:
    - role: distroforge.openstack.tempest_run
"""


def stand_in(tmp_path: Path, stream: Path, test_ids: list[str], **role_vars: object) -> dict:
    """A ``tempest`` that plays ``stream`` back; the role variables that make the role use it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "tempest"
    fake.write_text(FAKE_TEMPEST.format(ids=test_ids, stream=str(stream)))
    fake.chmod(0o755)
    return {
        "tempest_run_workspace": str(tmp_path / "workspace"),
        "tempest_run_config": "template",
        "tempest_run_scenario": "",
        "tempest_run_include_regex": ["^absent_tests\\."],
        "tempest_run_rerun_failed": False,
        # the install method: Tempest is already where the stand-in is
        "__tempest_run_method": {"packages": [], "pip": [], "bin_dir": str(bin_dir), "requires": ""},
        "__tempest_run_progress_every": 1,
        **role_vars,
    }


def run_role(tmp_path: Path, stream: Path, test_ids: list[str], **role_vars: object):
    """ansible-playbook with the role on localhost, Tempest played back from ``stream``; the run and its summary."""
    playbook = tmp_path / "tempest.yml"
    playbook.write_text(PLAYBOOK)
    artifacts = tmp_path / "artifacts"
    extra = {
        **stand_in(tmp_path, stream, test_ids, **role_vars),
        "tempest_run_artifacts_dir": str(artifacts),
        "tempest_run_auth_url": "http://192.0.2.1:5000/v3",
        "tempest_run_admin_password": "s3cret-pw",
    }
    proc = play(playbook, extra, timeout=300)
    results = artifacts / "localhost" / "tempest" / "results.json"
    return proc, json.loads(results.read_text()) if results.exists() else {}


def all_skipped(tmp_path: Path) -> tuple[Path, list[str]]:
    stream = make_all_skipped_stream(tmp_path / "streams", 5)
    return stream, [f"absent_tests.TestAbsent.test_{number:05d}" for number in range(5)]


def test_a_run_whose_every_test_was_skipped_fails_the_role_and_says_why(tmp_path):
    proc, results = run_role(tmp_path, *all_skipped(tmp_path))
    out = " ".join(proc.stdout.split())
    # it did not print PASSED and carry on: it failed, and the one line says nothing was tested
    assert proc.returncode != 0, out[-3000:]
    assert "Tempest on localhost: FAILED (no tests ran (5 skipped)) - 5 tests, 0 passed, 0 failed, 5 skipped" in out
    assert "Tempest on localhost did not pass: no tests ran (5 skipped); report " in out
    assert "PASSED" not in out
    summary = results["summary"]
    assert summary["skipped"] == 5 and summary["success"] is False
    assert summary["reasons"] == ["no tests ran (5 skipped)"]


def test_a_run_where_tests_ran_and_passed_passes(tmp_path):
    """The same role and stand-in pass when a test ran: the failure above is the skips, not the set-up."""
    stream = make_many_stream(tmp_path / "streams", 5)  # 5 tests: one skipped (3), none failed
    ids = [f"many_tests.TestMany.test_{number:05d}" for number in range(5)]
    proc, results = run_role(tmp_path, stream, ids, tempest_run_include_regex=["^many_tests\\."])
    out = " ".join(proc.stdout.split())
    assert proc.returncode == 0, out[-3000:]
    assert "Tempest on localhost: PASSED - 5 tests, 4 passed, 0 failed, 1 skipped" in out
    assert results["summary"]["success"] is True


def test_tempest_playbook_fails_a_run_whose_every_test_was_skipped_and_says_why(tmp_path):
    """playbooks/tempest.yml on a cloud node of the inventory (this machine here), as its header shows."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  children:\n    keystone:\n      hosts:\n        localhost:\n"
        "          ansible_connection: local\n          ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
    )
    openrc = tmp_path / "openrc"
    openrc.write_text("export OS_AUTH_URL=http://192.0.2.1:5000/v3\nexport OS_PASSWORD=s3cret-pw\n")
    artifacts = tmp_path / "artifacts"
    extra = {
        **stand_in(tmp_path, *all_skipped(tmp_path)),
        "distroforge_tempest_openrc": str(openrc),
        "distroforge_artifacts_dir": str(artifacts),
        "logs_collect_services": [],
        "logs_collect_archive": str(tmp_path / "logs.tar"),
    }
    proc = play(TOP / "playbooks" / "tempest.yml", extra, "-i", str(inventory), timeout=300)
    out = " ".join(proc.stdout.split())
    assert proc.returncode != 0, out[-3000:]
    assert "localhost: Tempest did not pass: no tests ran (5 skipped); report " in out
    assert "Tempest passed" not in out and "PASSED" not in out


def bisect_judge_playbook() -> list:
    """A playbook that judges a state as bisect_test_step.yml records it: its own expressions, read from the file."""
    steps = yaml.safe_load((TOP / "playbooks" / "tasks" / "bisect_test_step.yml").read_text())
    task = next(task for task in steps[0]["block"] if task["name"].startswith("Record the outcome of state"))
    record = task["distroforge.openstack.bisect_step"]["record"]
    playbook = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "vars": task["vars"],
            "tasks": [
                {
                    "name": "Judge the state as the bisect step does",
                    "ansible.builtin.set_fact": {
                        "outcome": record["outcome"],
                        "reasons": record["evidence"].get("reasons", []),
                    },
                },
                {
                    "name": "Save it",
                    "ansible.builtin.copy": {
                        "content": "{{ {'outcome': outcome, 'reasons': reasons} | to_json }}",
                        "dest": "{{ results }}",
                        "mode": "0644",
                    },
                },
            ],
        }
    ]
    return playbook


def test_a_bisect_state_whose_every_test_was_skipped_is_not_good(tmp_path):
    """The test bisect's step judges with the same rule: nothing ran, so the state cannot be called good."""
    playbook = tmp_path / "judge.yml"
    playbook.write_text(yaml.safe_dump(bisect_judge_playbook()))
    outcomes = {}
    summaries = {
        "all skipped": {"total": 5, "passed": 0, "failed": 0, "skipped": 5, "success": False, "failures": []},
        "passed": {"total": 5, "passed": 4, "failed": 0, "skipped": 1, "success": True, "failures": []},
        "failed": {
            "total": 5,
            "passed": 3,
            "failed": 1,
            "skipped": 1,
            "success": False,
            "failures": [{"test_id": "tempest.api.identity.test_x"}],
        },
    }
    for name, summary in summaries.items():
        results = tmp_path / f"{name}.json"
        proc = play(
            playbook,
            {"results": str(results), "tempest_run_summary": summary, "__distroforge_state_repo": {"changed": True}},
        )
        assert proc.returncode == 0, proc.stdout[-3000:]
        outcomes[name] = json.loads(results.read_text())
    assert outcomes["all skipped"] == {"outcome": "skip", "reasons": ["no tests ran (5 skipped)"]}
    assert outcomes["passed"] == {"outcome": "good", "reasons": []}
    assert outcomes["failed"]["outcome"] == "bad"
