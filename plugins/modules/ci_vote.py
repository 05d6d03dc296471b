#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ci_vote
short_description: Record a CI job's result on a build or an aggregate hash
version_added: 0.1.0
description:
  - Records a job's vote in the state DB as DLRN's C(POST /api/report_result)
    does, on a build named by O(commit_hash) and O(distro_hash) or on an
    aggregate named by O(aggregate_hash), never both.
  - The build must be a successful build that was not purged; an aggregate
    must have been produced by a promotion (M(distroforge.openstack.repo_promote)
    with components), as in DLRN.
  - The same vote (same hash, job, timestamp, result and in-progress state)
    is recorded once, so give O(timestamp) (for example the run's start) for
    a re-run to change nothing.
  - O(in_progress=true) records the "I am testing it" vote DLRN's
    C(POST /api/last_tested_repo) adds (never a success).
author:
  - distroforge developers (@distroforge)
options:
  job_id:
    description: Name of the CI job (what promotion criteria list).
    type: str
    required: true
  success:
    description: Whether the job passed. Required unless O(in_progress=true).
    type: bool
  in_progress:
    description: Record that the job started testing the hash (recorded as not successful).
    type: bool
    default: false
  commit_hash:
    description: Upstream commit hash of the build (with O(distro_hash)).
    type: str
  distro_hash:
    description: Distgit commit hash of the build, in full or its first 8 or more characters.
    type: str
  extended_hash:
    description: DLRN's extended hash; builds from the package database have none, so only C(None) or empty is accepted.
    type: str
  aggregate_hash:
    description: Aggregate hash (md5 of an aggregate C(.repo)) to vote on instead of a build.
    type: str
  url:
    description: Where the job's logs are.
    type: str
    default: ""
  notes:
    description: Free-form notes.
    type: str
    default: ""
  timestamp:
    description: When the job ran, epoch seconds; defaults to now.
    type: int
  user:
    description: Who reports the vote; defaults to the user running the module.
    type: str
extends_documentation_fragment:
  - distroforge.openstack.state_db
attributes:
  check_mode:
    support: full
    description: Opens the state DB read-only and says what would be recorded.
  diff_mode:
    support: none
    description: The result holds the vote.
seealso:
  - module: distroforge.openstack.repo_promote
"""

EXAMPLES = r"""
- name: Vote for the hash this run tested
  distroforge.openstack.ci_vote:
    db: /var/lib/distroforge/state.db
    job_id: distroforge-pipeline-scenario001
    commit_hash: 3db1d55d0c4f6f1b8c2f7a64a7a4e1b2c3d4e5f6
    distro_hash: 1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c
    success: true
    url: http://repo.example.org/runs/20240405T120000Z/
    timestamp: 1712318400
"""

RETURN = r"""
vote:
  description: The vote in DLRN's report_result shape.
  returned: always
  type: dict
  sample:
    commit_hash: 3db1d55d0c4f6f1b8c2f7a64a7a4e1b2c3d4e5f6
    distro_hash: 1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c
    extended_hash: null
    aggregate_hash: null
    timestamp: 1712318400
    job_id: distroforge-pipeline-scenario001
    success: true
    in_progress: false
    url: http://repo.example.org/runs/20240405T120000Z/
    notes: ""
    user: ci
    component: null
ref_hash:
  description: The hash voted on, C(<commit_hash>_<distro_hash[0:8]>) or the aggregate hash.
  returned: always
  type: str
"""


from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._promote.votes import (
    Vote,
    default_user,
    record_vote,
)


def _work(module: DistroforgeModule) -> dict:
    p = module.params
    if p["success"] is None and not p["in_progress"]:
        module.fail_json(msg="success is required: say whether the job passed (or set in_progress: true)")
    vote = Vote(
        job_id=p["job_id"],
        success=bool(p["success"]),
        in_progress=p["in_progress"],
        url=p["url"],
        notes=p["notes"],
        timestamp=p["timestamp"],
        user=p["user"] or default_user(),
        commit_hash=p["commit_hash"] or None,
        distro_hash=p["distro_hash"] or None,
        extended_hash=p["extended_hash"] or None,
        aggregate_hash=p["aggregate_hash"] or None,
    )
    # Check mode must not even open the DB for writing (no creation, no migration, no lock file).
    with module.state_db(readonly=module.check_mode) as db:
        result = record_vote(db, vote, check_mode=module.check_mode)
    return result.as_dict()


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "job_id": {"type": "str", "required": True},
            "success": {"type": "bool"},
            "in_progress": {"type": "bool", "default": False},
            "commit_hash": {"type": "str"},
            "distro_hash": {"type": "str"},
            "extended_hash": {"type": "str"},
            "aggregate_hash": {"type": "str"},
            "url": {"type": "str", "default": ""},
            "notes": {"type": "str", "default": ""},
            "timestamp": {"type": "int"},
            "user": {"type": "str"},
        },
        mutually_exclusive=[("aggregate_hash", "commit_hash"), ("aggregate_hash", "distro_hash")],
        required_one_of=[("aggregate_hash", "commit_hash")],
        required_together=[("commit_hash", "distro_hash")],
        state_db=True,
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
