#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: build_queue
short_description: Turn pending commits into build jobs spread over the builders
version_added: 0.1.0
description:
  - Reads the commits waiting in the state DB for a release (C(QUEUED), and
    C(RETRY) within the retry budget), joins them with the package database
    and assigns them round-robin to the builders, wave by wave (see O(mirror_dir)).
  - Read-only, nothing is claimed; M(distroforge.openstack.build_record)
    claims and records each commit once its build is done, so an interrupted
    run leaves nothing stuck.
author:
  - distroforge developers (@distroforge)
options:
  release:
    description: Release whose pending commits to build.
    type: str
    required: true
  packages:
    description: Packages from M(distroforge.openstack.pkgdb_info).
    type: list
    elements: dict
    required: true
  builders:
    description: Builder host names, usually C(groups['builders']).
    type: list
    elements: str
    required: true
  max_retries:
    description: A C(RETRY) commit retried more often than this is left out.
    type: int
    default: 3
  limit:
    description: Build at most this many commits in this run.
    type: int
  mirror_dir:
    description:
      - The poller's git mirrors (M(distroforge.openstack.source_poll)'s C(cache_dir)).
      - With it, packages that build-depend on other packages of the distro
        (spec C(BuildRequires), C(debian/control) C(Build-Depends)) are put in
        later build waves than those packages.
    type: path
extends_documentation_fragment:
  - distroforge.openstack.state_db
attributes:
  check_mode:
    support: full
    description: Reads only; the state DB is opened read-only (and a missing one is not created).
  diff_mode:
    support: none
    description: Reads only.
"""

EXAMPLES = r"""
- name: Plan the builds
  distroforge.openstack.build_queue:
    db: /var/lib/distroforge/state.db
    release: zed
    packages: "{{ pkgdb.packages }}"
    builders: "{{ groups['builders'] }}"
  register: build_plan
"""

RETURN = r"""
jobs:
  description:
    - Every job, each with C(commit_id), C(project), C(name), C(upstream), C(distgit),
      C(commit_hash), C(distro_hash), C(builder), C(wave) and C(needs) (the projects of this plan it
      build-depends on; when one does not build, M(distroforge.openstack.package_build) does not build it).
  returned: always
  type: list
  elements: dict
assignment:
  description: The jobs by builder.
  returned: always
  type: dict
skipped:
  description: Pending commits left out, with the reason.
  returned: always
  type: list
  elements: dict
waves:
  description: Number of build waves; every job has a C(wave) (0 first).
  returned: always
  type: int
cycle:
  description: Projects whose build dependencies form a cycle (built together in the last wave).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.distroforge.openstack.plugins.module_utils._build import queue
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    with module.state_db() as db:  # read-only in check mode, None when there is none yet
        result = queue.plan(
            db,
            params["release"],
            params["packages"],
            params["builders"],
            max_retries=params["max_retries"],
            limit=params["limit"],
            mirror_dir=params["mirror_dir"],
        )
    result["changed"] = False
    return result


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "release": {"type": "str", "required": True},
            "packages": {"type": "list", "elements": "dict", "required": True},
            "builders": {"type": "list", "elements": "str", "required": True},
            "max_retries": {"type": "int", "default": 3},
            "limit": {"type": "int"},
            "mirror_dir": {"type": "path"},
        },
        state_db=True,
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
