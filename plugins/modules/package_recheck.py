#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: package_recheck
short_description: Rebuild a package whose newest build failed (DLRN's recheck_package)
version_added: 0.1.0
description:
  - When the newest build of a package FAILED, marks it C(RETRY) with a fresh
    retry budget and forgets its votes, so the next build run takes it again
    without waiting for a new commit. The same as the REST API's
    C(POST /api/recheck_package) and DLRN's C(dlrnapi recheck-package).
  - A package whose newest build succeeded, or is already queued, building
    or waiting for a retry, is left alone (C(changed=false), RV(reason) says
    why), so a second run changes nothing.
  - A package the state DB has never built fails with one line naming it.
author:
  - distroforge developers (@distroforge)
extends_documentation_fragment:
  - distroforge.openstack.state_db
options:
  project:
    description: The package (rdoinfo C(project)).
    type: str
    required: true
    aliases: [package_name]
  release:
    description: Only this release's builds of the package; by default the newest build of any release.
    type: str
attributes:
  check_mode:
    support: full
    description: Opens the state DB read-only and says whether the package would be rechecked.
  diff_mode:
    support: none
    description: Nothing to show as a diff.
"""

EXAMPLES = r"""
- name: Rebuild keystone after fixing the mirror it failed on
  distroforge.openstack.package_recheck:
    db: /var/lib/distroforge/data/state.db
    project: keystone
    release: zed
"""

RETURN = r"""
reason:
  description:
    - C(rechecked) when the failed build was (or in check mode would be) queued again; otherwise why not
      (C(succeeded), C(pending) - queued, building or waiting for a retry).
  returned: always
  type: str
  sample: rechecked
build:
  description: The package's newest build before the recheck (as C(build_status) returns builds).
  returned: always
  type: dict
  sample:
    project: keystone
    release: zed
    status: FAILED
    repo_hash: 3a5c1b2e9d0f4e6a8b7c5d3e1f0a9b8c7d6e5f4a_0f1e2d3c
"""

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.schema import FAILED, SUCCESS


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    project, release = params["project"], params["release"]
    where = f"{project}" + (f" ({release})" if release else "")
    with module.state_db() as db:
        newest = db.commits(project=project, release=release, limit=1) if db is not None else []
        if not newest:
            raise InputError(
                f"project: the state DB has no build of {where}; give a package it has built (build_status lists them)"
            )
        head = newest[0]
        if head.status != FAILED:
            reason = "succeeded" if head.status == SUCCESS else "pending"
            return {"changed": False, "reason": reason, "build": head.as_dict()}
        if not module.check_mode:
            # the newest build FAILED, so it is the last processed one recheck takes
            db.recheck(project, release=head.release)
    return {"changed": True, "reason": "rechecked", "build": head.as_dict()}


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "project": {"type": "str", "required": True, "aliases": ["package_name"]},
            "release": {"type": "str"},
        },
        state_db=True,
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
