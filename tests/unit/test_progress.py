"""Long steps say how far they are: tempest_progress reads a running stream; the progress output prints it."""

import io
import json
import os
import subprocess

import pytest
from subunit import StreamResultToBytes

from ansible_collections.distroforge.openstack.plugins.callback.progress import elapsed
from ansible_collections.distroforge.openstack.plugins.module_utils._common.jobs import job_finished
from ansible_collections.distroforge.openstack.plugins.modules import tempest_progress

from .ansible_run import TOP


def stream(outcomes: list[str]) -> bytes:
    """A subunit v2 stream with one test per outcome, as `tempest run --subunit` writes it."""
    out = io.BytesIO()
    writer = StreamResultToBytes(out)
    for number, outcome in enumerate(outcomes):
        test_id = f"tempest.api.identity.test_x.TestX.test_{number}[id-{number},smoke]"
        writer.status(test_id=test_id, test_status="inprogress")
        writer.status(test_id=test_id, test_status=outcome)
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "finished"),
    [
        (None, False),  # the wrapper has not written it yet
        ({"started": 1, "finished": 0, "ansible_job_id": "j1"}, False),
        ('{"started": 1, "fin', False),  # being rewritten
        ({"rc": 0, "stdout": "", "ansible_job_id": "j1"}, True),
        ({"started": 1, "finished": 1, "failed": 1, "msg": "Timeout exceeded"}, True),
    ],
)
def test_a_job_is_finished_when_async_status_would_say_so(tmp_path, content, finished):
    job = tmp_path / "j1"
    if content is not None:
        job.write_text(content if isinstance(content, str) else json.dumps(content))
    assert job_finished(str(job)) is finished


def test_counts_come_from_the_stream_written_so_far(tmp_path):
    data = stream(["success"] * 5 + ["fail", "skip", "success", "fail", "success"])
    path = tmp_path / "tempest.subunit"
    path.write_bytes(data)
    assert tempest_progress.counts(str(path)) == (10, 2)
    # mid-write: the last packet is cut; what finished is counted, nothing fails
    path.write_bytes(data[: len(data) * 6 // 10 + 3])
    done, failed = tempest_progress.counts(str(path))
    assert 4 <= done < 10 and failed <= 1
    assert tempest_progress.progress_text(57, 2, 151) == "57/151 tests done, 2 failed"
    assert tempest_progress.progress_text(3, 0, 0) == "3 tests done, 0 failed"
    assert tempest_progress.counts(str(tmp_path / "none")) == (0, 0)


def test_elapsed_is_short():
    assert [elapsed(s) for s in (5, 190, 3725)] == ["5s", "3m10s", "1h02m"]


def test_a_long_step_prints_progress_not_poll_lines(tmp_path):
    """Through ansible-playbook with the project's configuration: a job that writes a stream in parts."""
    parts = [stream(["success", "success"]), stream(["fail"]), stream(["success"])]
    for number, part in enumerate(parts):
        (tmp_path / f"part{number}").write_bytes(part)
    out = tmp_path / "tempest.subunit"
    script = f"for i in 0 1 2; do cat {tmp_path}/part$i >> {out}; sleep 2; done"
    playbook = tmp_path / "progress.yml"
    playbook.write_text(
        f"""- hosts: localhost
  gather_facts: false
  tasks:
    - name: Start the run
      ansible.builtin.command:
        argv: [/bin/sh, -c, "{script}"]
      async: 60
      poll: 0
      register: job
    - name: Run the tests
      distroforge.openstack.tempest_progress:
        job: "{{{{ job.results_file }}}}"
        stream: {out}
        total: 4
        wait: 1
      register: wait
      until: wait.finished
      retries: 30
      delay: 0
    - name: Sleep in the background
      ansible.builtin.command: sleep 3
      async: 30
      poll: 1
      changed_when: false
"""
    )
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(TOP / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(TOP / ".venv" / "collections"),
        ANSIBLE_NOCOLOR="1",
    )
    proc = subprocess.run(
        [str(TOP / ".venv" / "bin" / "ansible-playbook"), str(playbook)],
        cwd=TOP,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "[localhost] Run the tests: " in proc.stdout
    assert "/4 tests done, " in proc.stdout
    assert "[localhost] Sleep in the background: still running - " in proc.stdout
    assert "ASYNC POLL" not in proc.stdout and "FAILED - RETRYING" not in proc.stdout
