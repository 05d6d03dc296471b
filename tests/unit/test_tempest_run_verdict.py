"""The tempest_run role as a user runs it, judged by the collection's one verdict rule.

A stand-in ``tempest`` (the role finds it where the install method puts Tempest) plays back real
subunit streams: one where every test was skipped, as Tempest's are when the cloud lacks the
service, and one where a test ran. Everything else is the role's own tasks, run by ansible-playbook.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from .ansible_run import play
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


def run_role(tmp_path: Path, stream: Path, test_ids: list[str], **role_vars: object):
    """ansible-playbook with the role on localhost, Tempest played back from ``stream``; the run and its summary."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "tempest"
    fake.write_text(FAKE_TEMPEST.format(ids=test_ids, stream=str(stream)))
    fake.chmod(0o755)
    playbook = tmp_path / "tempest.yml"
    playbook.write_text(PLAYBOOK)
    artifacts = tmp_path / "artifacts"
    extra = {
        "tempest_run_workspace": str(tmp_path / "workspace"),
        "tempest_run_artifacts_dir": str(artifacts),
        "tempest_run_config": "template",
        "tempest_run_scenario": "",
        "tempest_run_include_regex": ["^absent_tests\\."],
        "tempest_run_auth_url": "http://192.0.2.1:5000/v3",
        "tempest_run_admin_password": "s3cret-pw",
        "tempest_run_rerun_failed": False,
        # the install method: Tempest is already where the stand-in is
        "__tempest_run_method": {"packages": [], "pip": [], "bin_dir": str(bin_dir), "requires": ""},
        "__tempest_run_progress_every": 1,
        **role_vars,
    }
    proc = play(playbook, extra, timeout=300)
    results = artifacts / "localhost" / "tempest" / "results.json"
    return proc, json.loads(results.read_text()) if results.exists() else {}


def test_a_run_whose_every_test_was_skipped_fails_the_role_and_says_why(tmp_path):
    stream = make_all_skipped_stream(tmp_path / "streams", 5)
    ids = [f"absent_tests.TestAbsent.test_{number:05d}" for number in range(5)]
    proc, results = run_role(tmp_path, stream, ids)
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
