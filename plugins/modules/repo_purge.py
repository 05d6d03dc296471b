#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: repo_purge
short_description: Remove published builds older than N days, keeping everything still in use
version_added: 0.1.0
description:
  - Removes the directories of builds finished more than O(older_than) days
    ago, as C(dlrn-purge --older-than) does, and flags them purged in the state DB.
  - Keeps the newest published successful build of each package, every
    build a label points to (C(current), C(consistent), promotions, the
    aggregates' component repositories) and every build a kept repository
    links to, so no kept repository is left with a dangling link.
  - With components, removes the aggregate repositories
    (C(<label>/<m[0:2]>/<m[2:4]>/<md5>/)) that name a removed build, unless
    a label or the label's newest promotion points at them (a kept aggregate
    keeps the builds it names), then the directories left empty.
  - Takes the publish lock, so it never runs beside a publisher.
author:
  - distroforge developers (@distroforge)
options:
  repos_dir:
    description: The C(repos/) directory to purge.
    type: path
    required: true
  older_than:
    description: Age in days from which builds may go.
    type: int
    required: true
  lock_timeout:
    description: Seconds to wait for a publisher to finish (and for the state DB's writer lock).
    default: 600.0
extends_documentation_fragment:
  - distroforge.openstack.repos
  - distroforge.openstack.state_db
attributes:
  check_mode:
    support: full
    description: Lists what would be removed (builds, aggregates, emptied directories) and why old builds stay.
  diff_mode:
    support: none
    description: The result lists the removed directories.
seealso:
  - module: distroforge.openstack.repo_publish
"""

EXAMPLES = r"""
- name: Show what a 60-day purge would remove
  distroforge.openstack.repo_purge:
    db: /var/lib/distroforge/state.db
    repos_dir: /var/lib/distroforge/data/repos
    older_than: 60
  check_mode: true
  register: would_go
"""

RETURN = r"""
removed:
  description: Build directories removed (or that would be, in check mode), relative to O(repos_dir).
  returned: always
  type: list
  elements: str
kept:
  description: Old build directories that stay, with the reason.
  returned: always
  type: dict
  sample: {"21/97/2197fcaf6499913b47365f1a488b0d70bdc075f0_e78ff82c": "label current"}
removed_aggregates:
  description: Aggregate directories removed (or that would be) because they name a removed build.
  returned: always
  type: list
  elements: str
  sample: ["consistent/4f/1a/4f1a9b0c2d3e4f5a6b7c8d9e0f1a2b3c"]
kept_aggregates:
  description: Aggregate directories a label or promotion points at, with the reason.
  returned: always
  type: dict
removed_empty_dirs:
  description: Directories left empty by the removals (hash shards, a component with nothing left), removed too.
  returned: always
  type: list
  elements: str
"""


from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.options import REPO_OPTIONS, repo_layout
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.purge import purge


def _work(module: DistroforgeModule) -> dict:
    p = module.params
    layout = repo_layout(p)
    with module.state_db(readonly=module.check_mode) as db:
        plan = purge(db, layout, p["older_than"], check_mode=module.check_mode, lock_timeout=float(p["lock_timeout"]))
    return {"changed": plan.changes, **plan.as_dict()}


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            **REPO_OPTIONS,
            "repos_dir": {"type": "path", "required": True},
            "older_than": {"type": "int", "required": True},
            "lock_timeout": {"default": 600.0},  # the rest from STATE_DB_OPTIONS
        },
        state_db=True,
        supports_check_mode=True,
    )
    if module.params["older_than"] < 0:
        module.fail_json(msg=f"older_than must be 0 or more days, got {module.params['older_than']}")
    module.run(_work)


if __name__ == "__main__":
    main()
