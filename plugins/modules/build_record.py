#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: build_record
short_description: Record build results in the state DB
version_added: 0.1.0
description:
  - Claims each built commit for its builder and records its outcome
    (C(SUCCESS), C(FAILED) or C(RETRY), NVR, artifacts, log) in one step.
  - A C(RETRY) beyond O(max_retries) is recorded as C(FAILED).
  - A commit that is no longer pending (recorded by another run) is left alone and reported in C(ignored).
  - A C(BLOCKED) result (not built because a project it build-depends on did not build) records
    nothing. The commit stays queued for the next run and is reported in C(blocked).
author:
  - distroforge developers (@distroforge)
options:
  results:
    description: Results from M(distroforge.openstack.package_build), with artifact and log paths on this host.
    type: list
    elements: dict
    required: true
  max_retries:
    description: Retries allowed before a C(RETRY) becomes C(FAILED).
    type: int
    default: 3
  results_dir:
    description:
      - Where the results were collected on this host
        (C(<results_dir>/<project>/<commit_hash>_<distgit8>/)); artifact and log
        paths are recorded there instead of the builders' paths.
    type: path
extends_documentation_fragment:
  - distroforge.openstack.state_db
attributes:
  check_mode:
    support: full
    description: Records nothing.
  diff_mode:
    support: none
    description: Nothing to diff.
"""

EXAMPLES = r"""
- name: Record what the builders made
  distroforge.openstack.build_record:
    db: /var/lib/distroforge/state.db
    results: "{{ builds.results }}"
"""

RETURN = r"""
recorded:
  description: The state DB rows after recording.
  returned: always
  type: list
  elements: dict
ignored:
  description: Results not recorded, with the reason.
  returned: always
  type: list
  elements: dict
blocked:
  description:
    - Jobs not built because a project they build-depend on did not build in this run (status
      C(BLOCKED) from M(distroforge.openstack.package_build)), each with C(commit_id), C(project),
      C(commit_hash) and C(blocked_by). Nothing is recorded for them, their commits stay queued.
  returned: always
  type: list
  elements: dict
counts:
  description: Recorded results per status.
  returned: always
  type: dict
to_publish:
  description:
    - Finished builds not published yet (this run's and any a previous run
      left), oldest first, each with C(commit_id), C(artifacts_dir) and
      C(build_log), ready for the repo_publish role.
  returned: success
  type: list
  elements: dict
"""

from ansible_collections.distroforge.openstack.plugins.module_utils._build import queue
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    if module.check_mode:
        return {
            "changed": bool(params["results"]),
            "recorded": [],
            "ignored": [],
            "blocked": [],
            "counts": {},
            "to_publish": [],
        }
    with module.state_db() as db:
        result = queue.record(
            db, params["results"], max_retries=params["max_retries"], results_dir=params["results_dir"]
        )
    result["changed"] = bool(result["recorded"])
    return result


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "results": {"type": "list", "elements": "dict", "required": True},
            "max_retries": {"type": "int", "default": 3},
            "results_dir": {"type": "path"},
        },
        state_db=True,
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
