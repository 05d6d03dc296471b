#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: release_build
short_description: Build the upstream tags a release ships, with final versions, into the store of released NVRs
version_added: 0.2.0
description:
  - Reads, from the package database, the upstream tag each package of O(release)
    ships (C(source-branch) under the tag C(<release>-release), else under the
    release tag, in C(tags/<release>.yml), as rdoinfo pins them) and the head of
    its packaging branch, and builds each with the build runner in release-build
    mode (the isolation and bit-identical rebuilds of M(distroforge.openstack.package_build)).
  - A build of a tag gets the tag's final version and the packaging's own Release
    (the spec's C(Release:), C(1) for DLRN's C(XXX); the top C(debian/changelog)
    entry when it is for this version), for example C(python-keystonemiddleware-10.1.1-1)
    or C(keystone_2:22.0.2-1), with no snapshot suffix. A commit without a version tag fails.
  - Successful builds are recorded under C(<workdir>/tagged/<project>/<nvr>/). A
    released NVR never changes; recording it again with other bytes (another source
    or packaging commit, same Release) fails with one line naming the package and
    the NVR, and the same bytes again (a rebuild) change nothing.
author:
  - distroforge developers (@distroforge)
options:
  pkgdb:
    description: Entry file of the package database (rdoinfo format).
    type: path
    required: true
  release:
    description: The release whose tags are built.
    type: str
    required: true
  repo:
    description:
      - The repository of the release (its C(repos:) name, for example C(bookworm))
        these builds are for; RV(nvrs) is keyed by it, ready for
        M(distroforge.openstack.release_stage).
    type: str
    required: true
  names:
    description: Build only these packages (project or package names).
    type: list
    elements: str
    default: []
  backend:
    description: How to build (see M(distroforge.openstack.package_build)).
    type: str
    choices: [rpmbuild, mock, dpkg, sbuild]
    default: dpkg
  workdir:
    description: Work directory (results, scratch, and the C(tagged/) store).
    type: path
    required: true
  mirror_dir:
    description: Bare git mirrors; default C(<workdir>/git).
    type: path
  parallel:
    description: Builds at a time; default the number of CPUs.
    type: int
  timeout:
    description: Seconds one build may take.
    type: int
    default: 3600
attributes:
  check_mode:
    support: full
    description: Resolves the tags and packaging heads and returns the jobs it would build; builds nothing.
  diff_mode:
    support: none
    description: Nothing to show a diff of.
"""

EXAMPLES = r"""
- name: Build zed's tags for Debian bookworm
  distroforge.openstack.release_build:
    pkgdb: /var/lib/distroforge/example/rdoinfo/rdo-full.yml
    release: zed
    repo: bookworm
    backend: dpkg
    workdir: /var/lib/distroforge
  register: tagged
"""

RETURN = r"""
jobs:
  description: What is (or would be) built, each with C(project), C(name), C(commit_hash), C(distro_hash), C(ref).
  returned: always
  type: list
  elements: dict
builds:
  description:
    - One per job, with C(project), C(nvr), C(status), C(state) (C(new) or
      C(unchanged) in the store), C(duration) (seconds) and C(path) (its store directory).
  returned: success
  type: list
  elements: dict
nvrs:
  description: "C({repo: {project: nvr}}) of the successful builds, for M(distroforge.openstack.release_stage)."
  returned: success
  type: dict
"""

import os

from ansible_collections.distroforge.openstack.plugins.module_utils._build.runner import BuildSettings, build_many
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._release import tagged


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    mirror_dir = params["mirror_dir"] or os.path.join(params["workdir"], "git")
    pins = tagged.pins(params["pkgdb"], params["release"], params["names"] or None)
    jobs = [tagged.resolve_job(pin, mirror_dir) for pin in pins]
    planned = [
        {"project": j.project, "name": j.name, "commit_hash": j.commit_hash, "distro_hash": j.distro_hash, "ref": p.ref}
        for j, p in zip(jobs, pins, strict=True)
    ]
    if module.check_mode:
        return {"changed": bool(jobs), "jobs": planned, "builds": [], "nvrs": {}}
    settings = BuildSettings(
        backend=params["backend"], workdir=params["workdir"], mirror_dir=mirror_dir, timeout=params["timeout"]
    )
    results = build_many(jobs, settings, parallel=params["parallel"] or os.cpu_count() or 1)
    builds, nvrs = [], {}
    for result in results:
        if result.status != "SUCCESS":
            raise InputError(
                f"{result.project}: the release build failed ({result.error}); see {result.log}, fix and run again"
            )
        recorded = tagged.record(params["workdir"], result)
        builds.append({**recorded.as_dict(), "status": result.status, "duration": result.duration})
        nvrs[result.project] = result.nvr
    changed = any(build["state"] == "new" for build in builds)
    return {"changed": changed, "jobs": planned, "builds": builds, "nvrs": {params["repo"]: nvrs}}


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "pkgdb": {"type": "path", "required": True},
            "release": {"type": "str", "required": True},
            "repo": {"type": "str", "required": True},
            "names": {"type": "list", "elements": "str", "default": []},
            "backend": {"type": "str", "choices": ["rpmbuild", "mock", "dpkg", "sbuild"], "default": "dpkg"},
            "workdir": {"type": "path", "required": True},
            "mirror_dir": {"type": "path"},
            "parallel": {"type": "int"},
            "timeout": {"type": "int", "default": 3600},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
