#!/usr/bin/python
# Copyright: distroforge developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vote_info
short_description: Read the CI votes on a repository hash
version_added: 0.2.0
description:
  - Lists the votes recorded on one repository (O(repo_hash)) or aggregate
    (O(aggregate_hash)), newest first, and the newest finished vote of
    O(job_id) when given - what a pipeline asks before testing a hash again.
  - Reads only; a state DB that does not exist yet means no votes.
author:
  - distroforge developers (@distroforge)
extends_documentation_fragment:
  - distroforge.openstack.state_db
options:
  repo_hash:
    description: A build's repository hash, C(<commit_hash>_<distro_hash[0:8]>).
    type: str
  aggregate_hash:
    description: An aggregate's hash (the md5 of its C(delorean.repo)).
    type: str
  job_id:
    description: The job whose newest finished vote is returned as RV(latest).
    type: str
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Nothing changes.
"""

EXAMPLES = r"""
- name: Find whether this job already voted on the hash
  distroforge.openstack.vote_info:
    db: /var/lib/distroforge/state.db
    repo_hash: 1eca041a6bcc6dba9bba214f44f70bedf6a75988_0759bdf0
    job_id: distroforge-pipeline-scenario001
  register: voted
"""

RETURN = r"""
votes:
  description: Every vote on the hash, newest first.
  returned: always
  type: list
  elements: dict
  contains:
    job_id:
      description: The job.
      type: str
    success:
      description: Its result.
      type: bool
    in_progress:
      description: Whether it is an "in progress" vote (no result yet).
      type: bool
    timestamp:
      description: When, seconds since the epoch.
      type: int
    url:
      description: Where the job's logs are.
      type: str
    notes:
      description: Free text.
      type: str
    user:
      description: Who voted.
      type: str
latest:
  description: The newest finished vote of O(job_id) (a dict as in RV(votes)), or null when it has none.
  returned: always
  type: dict
"""

from typing import Any, Dict

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB

FIELDS = ("job_id", "success", "in_progress", "timestamp", "url", "notes", "user")


def _work(module: DistroforgeModule) -> Dict[str, Any]:
    params = module.params
    aggregate = bool(params["aggregate_hash"])
    ref = params["aggregate_hash"] or params["repo_hash"]
    if not StateDB.exists(params["db"]):
        return {"changed": False, "votes": [], "latest": None}
    with module.state_db(readonly=True) as db:
        try:
            records = db.votes(ref, aggregate=aggregate)
        except InputError:
            # A hash the DB does not know has no votes; saying so is what the caller asked.
            records = []
    votes = [{field: getattr(record, field) for field in FIELDS} for record in reversed(records)]
    finished = [vote for vote in votes if params["job_id"] and vote["job_id"] == params["job_id"]]
    finished = [vote for vote in finished if not vote["in_progress"]]
    return {"changed": False, "votes": votes, "latest": finished[0] if finished else None}


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "repo_hash": {"type": "str"},
            "aggregate_hash": {"type": "str"},
            "job_id": {"type": "str"},
        },
        state_db=True,
        required_one_of=[("repo_hash", "aggregate_hash")],
        mutually_exclusive=[("repo_hash", "aggregate_hash")],
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
