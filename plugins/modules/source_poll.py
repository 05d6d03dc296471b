#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: source_poll
short_description: Find new upstream and distgit commits and queue them for building
version_added: 0.1.0
description:
  - For each package, finds the newest commit of its upstream source branch
    and of its distgit (packaging) branch, in parallel, with one
    C(git ls-remote) per repository.
  - Compares them with the state DB; a package whose pair of commits is new
    is fetched into a local mirror (only then), its commit time, author and
    subject are read, and it is recorded in the state DB as C(QUEUED).
  - Like DLRN's C(--head-only), only the newest commit of each branch is
    queued, not every commit since the last poll.
  - An unreachable or broken repository is reported for its package and
    does not stop the others.
author:
  - distroforge developers (@distroforge)
options:
  packages:
    description:
      - Packages to poll, as returned by M(distroforge.openstack.pkgdb_info)
        with C(release) (C(project), C(name), C(upstream), C(distgit),
        C(source_branch), C(distgit_branch)).
    type: list
    elements: dict
    required: true
  release:
    description: Release the commits are queued for (a state DB column).
    type: str
    required: true
  mirror_dir:
    description:
      - Directory of the local bare git mirrors (the same one M(distroforge.openstack.build_queue) and
        M(distroforge.openstack.package_build) read as C(mirror_dir)).
    type: path
    required: true
    aliases: [cache_dir]
  workers:
    description: Parallel git operations; default four per CPU, at most 32.
    type: int
  timeout:
    description: Seconds allowed for each git operation.
    type: int
    default: 120
extends_documentation_fragment:
  - distroforge.openstack.state_db
attributes:
  check_mode:
    support: full
    description:
      - Reports what changed and writes nothing; the state DB is only read
        (a DB that does not exist yet is not created).
      - Nothing is fetched into the mirrors either, so a new commit's time,
        author and subject are returned only when its mirror has it already.
  diff_mode:
    support: none
    description: Nothing to diff.
requirements:
  - git
"""

EXAMPLES = r"""
- name: Read the package database
  distroforge.openstack.pkgdb_info:
    path: examples/distro/rdo-full.yml
    release: zed
  register: pkgdb

- name: Poll every package for new commits
  distroforge.openstack.source_poll:
    packages: "{{ pkgdb.packages }}"
    release: zed
    db: /var/lib/distroforge/state.db
    mirror_dir: /var/cache/distroforge/git
  register: poll
"""

RETURN = r"""
new_commits:
  description: Packages with a new upstream or distgit commit (queued unless in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    project:
      description: Upstream project.
      type: str
    name:
      description: Package name.
      type: str
    commit_hash:
      description: Newest upstream commit.
      type: str
    distro_hash:
      description: Newest distgit commit.
      type: str
    commit_time:
      description: Committer time of the upstream commit, epoch seconds (in check mode only if the mirror has it).
      type: int
    author:
      description: Author of the upstream commit (in check mode only if the mirror has it).
      type: str
    subject:
      description: Subject of the upstream commit (in check mode only if the mirror has it).
      type: str
    queued_id:
      description: State DB id of the queued build (not in check mode).
      type: int
errors:
  description: Packages that could not be polled, each with C(project) and C(error).
  returned: always
  type: list
  elements: dict
polled:
  description: Number of packages polled.
  returned: always
  type: int
unchanged:
  description: Number of packages with nothing new.
  returned: always
  type: int
duration:
  description: Seconds the poll took.
  returned: always
  type: float
pending:
  description:
    - Commits of O(release) waiting for a builder (C(QUEUED) or C(RETRY)) after this poll, new ones included
      (in check mode, what would be queued is counted too).
    - With RV(unpublished), what a build run has left to do; both 0 means nothing to plan, build, record or publish.
  returned: always
  type: int
unpublished:
  description:
    - Finished builds (C(SUCCESS) or C(FAILED)) of any release not published yet, such as those of a run
      that died before publishing.
  returned: always
  type: int
"""

from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._sources.runner import poll_and_queue


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    with module.state_db() as db:  # read-only in check mode, None when there is none yet
        return poll_and_queue(
            params["packages"],
            release=params["release"],
            db=db,
            mirror_dir=params["mirror_dir"],
            workers=params["workers"],
            timeout=params["timeout"],
            record=not module.check_mode,
        )


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "packages": {"type": "list", "elements": "dict", "required": True},
            "release": {"type": "str", "required": True},
            "mirror_dir": {"type": "path", "required": True, "aliases": ["cache_dir"]},
            "workers": {"type": "int"},
            "timeout": {"type": "int", "default": 120},
        },
        state_db=True,
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
