#!/usr/bin/python
# Copyright: distroforge developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tempest_progress
short_description: Wait a while for a Tempest run started with async and say how far it is
version_added: 0.2.0
description:
  - Watches an async job (its results file, as C(async) with C(poll=0)
    registers it) for up to O(wait) seconds and reads the subunit stream the
    run writes so far, with the same parser as M(distroforge.openstack.tempest_results).
  - Returns C(finished) and a C(progress) text (tests done out of O(total),
    failures so far) that the C(distroforge.openstack.progress) output
    callback prints on each retry of an C(until) loop, instead of identical
    poll lines.
  - Reads only; never changes anything.
author:
  - distroforge developers (@distroforge)
options:
  job:
    description: The async job's results file (C(results_file) of the registered async task).
    type: path
    required: true
  stream:
    description: The subunit v2 stream the run writes.
    type: path
    required: true
  total:
    description: How many tests the run selected (C(tempest run --list-tests)); 0 when unknown.
    type: int
    default: 0
  wait:
    description: Seconds to wait for the job to finish before reporting progress.
    type: int
    default: 15
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
"""

EXAMPLES = r"""
- name: Start Tempest
  ansible.builtin.command:
    argv: [/bin/sh, -c, "tempest run --subunit > /var/lib/tempest/tempest.subunit"]
  async: 3600
  poll: 0
  register: tempest_job
  changed_when: true

- name: Wait for Tempest, printing how far it is
  distroforge.openstack.tempest_progress:
    job: "{{ tempest_job.results_file }}"
    stream: /var/lib/tempest/tempest.subunit
    total: 151
  register: tempest_wait
  until: tempest_wait.finished
  retries: 250
  delay: 0
"""

RETURN = r"""
finished:
  description: Whether the job has ended (passed, failed or killed at its time limit).
  returned: always
  type: bool
done:
  description: Tests finished so far (any outcome).
  returned: always
  type: int
failures:
  description: Tests failed so far (not C(failed), which would fail the task).
  returned: always
  type: int
total:
  description: O(total).
  returned: always
  type: int
progress:
  description: One line for the screen, for example C(57/151 tests done, 2 failed).
  returned: always
  type: str
"""

import os
from typing import Any, Dict

from ansible_collections.distroforge.openstack.plugins.module_utils._common.jobs import wait_for_job
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._tempest.results import read_stream

DONE = frozenset(("success", "fail", "skip", "xfail", "uxsuccess"))
FAILED = frozenset(("fail", "uxsuccess"))


def counts(stream: str) -> "tuple[int, int]":
    """Tests done and failed in the stream so far (a run's stream ends mid-packet while it writes)."""
    try:
        with open(stream, "rb") as handle:
            data = handle.read()
    except OSError:
        return 0, 0
    attempts = read_stream(data, 0, stream)[1]
    done = sum(1 for attempt in attempts if attempt.status in DONE)
    failed = sum(1 for attempt in attempts if attempt.status in FAILED)
    return done, failed


def progress_text(done: int, failed: int, total: int) -> str:
    of = f"/{total}" if total > 0 else ""
    return f"{done}{of} tests done, {failed} failed"


def _work(module: DistroforgeModule) -> Dict[str, Any]:
    params = module.params
    finished = wait_for_job(params["job"], params["wait"])
    done, failed = counts(params["stream"])
    return {
        "changed": False,
        "finished": finished,
        "done": done,
        "failures": failed,
        "total": params["total"],
        "progress": progress_text(done, failed, params["total"]) if os.path.exists(params["stream"]) else "starting",
    }


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "job": {"type": "path", "required": True},
            "stream": {"type": "path", "required": True},
            "total": {"type": "int", "default": 0},
            "wait": {"type": "int", "default": 15},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
