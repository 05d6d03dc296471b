#!/usr/bin/python
# Copyright: distroforge developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: build_progress
short_description: Wait a while for builds started with async and say how far they are
version_added: 0.2.0
description:
  - Watches an async job of M(distroforge.openstack.package_build) (its results
    file, as C(async) with C(poll=0) registers it) for up to O(wait) seconds,
    then reads the progress file the builds write (the module's O(distroforge.openstack.package_build#module:progress)).
  - "Returns C(finished) and a C(progress) text, for example
    C(builds: 2/3 done (keystone building, 41s)), that the
    C(distroforge.openstack.progress) output callback prints on each retry of
    an C(until) loop, instead of identical poll lines."
  - Reads only; never changes anything.
author:
  - distroforge developers (@distroforge)
options:
  job:
    description: The async job's results file (C(results_file) of the registered async task).
    type: path
    required: true
  progress:
    description: The progress file the builds write (the same path given to M(distroforge.openstack.package_build)).
    type: path
    required: true
  wait:
    description: Seconds to wait for the job to finish before reporting progress.
    type: int
    default: 10
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
"""

EXAMPLES = r"""
- name: Start the builds
  distroforge.openstack.package_build:
    jobs: "{{ build_plan.assignment[inventory_hostname] }}"
    backend: rpmbuild
    workdir: /var/lib/distroforge/builder
    mirror_dir: /var/cache/distroforge/git
    progress: /var/lib/distroforge/builder/scratch/progress.json
  async: 7200
  poll: 0
  register: builds_job

- name: Build the packages
  distroforge.openstack.build_progress:
    job: "{{ builds_job.results_file }}"
    progress: /var/lib/distroforge/builder/scratch/progress.json
  register: builds_wait
  until: builds_wait.finished
  retries: 725
  delay: 0
"""

RETURN = r"""
finished:
  description: Whether the job has ended (done, failed or killed at its time limit).
  returned: always
  type: bool
done:
  description: Builds over so far (any outcome, retries included).
  returned: always
  type: int
failures:
  description: Builds failed so far (not C(failed), which would fail the task).
  returned: always
  type: int
total:
  description: Builds in the run (0 before the run has written its progress).
  returned: always
  type: int
building:
  description: Projects building now, with the seconds each has been building.
  returned: always
  type: list
  elements: dict
  contains:
    project:
      description: Project.
      type: str
    seconds:
      description: Seconds since its build started.
      type: int
progress:
  description: "One line for the screen, for example C(builds: 2/3 done (keystone building, 41s))."
  returned: always
  type: str
"""

import os
import time
from typing import Any, Dict, Optional

from ansible_collections.distroforge.openstack.plugins.module_utils._build.progress import (
    progress_text,
    read_progress,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._common.jobs import wait_for_job
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule


def _job_started(path: str) -> Optional[float]:
    """When the async wrapper wrote the job's results file (its "started" stub), as an mtime."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _work(module: DistroforgeModule) -> Dict[str, Any]:
    params = module.params
    finished = wait_for_job(params["job"], params["wait"])
    # a file older than this job's is a killed earlier run's (finished jobs have rewritten theirs: no check)
    not_before = None if finished else _job_started(params["job"])
    progress = read_progress(params["progress"], not_before=not_before)
    now = time.time()
    return {
        "changed": False,
        "finished": finished,
        "done": progress.done if progress else 0,
        "failures": progress.failed if progress else 0,
        "total": progress.total if progress else 0,
        "building": [
            {"project": name, "seconds": max(0, int(now - since))}
            for name, since in sorted((progress.building if progress else {}).items(), key=lambda item: item[1])
        ],
        "progress": progress_text(progress, now),
    }


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "job": {"type": "path", "required": True},
            "progress": {"type": "path", "required": True},
            "wait": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
