#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: reproduce_plan
short_description: Read a pipeline run's manifest and plan its reproduction
version_added: 0.1.0
description:
  - Reads the C(manifest.json) a run of C(playbooks/pipeline.yml) wrote (any format this collection reads,
    see C(docs/run_manifest.md)) and checks it; a bad field fails in one line naming it.
  - For each package to rebuild, reads the C(buildinfo.json) in its build directory
    (from the run's C(repos/) directory when it is on this machine, else over HTTP from
    the run's repository URL) and returns the M(distroforge.openstack.package_build) job
    that rebuilds it from the same upstream and distgit commits with the same backend and
    settings, with the recorded outputs to compare against.
  - Returns the repository hash, its base URL, the deploy scenario and the Tempest
    selection the run used, so the same tests can run against the same hash.
  - Reads only; never changes anything.
author:
  - distroforge developers (@distroforge)
options:
  manifest:
    description: Path of the run's C(runs/<run id>/manifest.json).
    type: path
    required: true
  packages:
    description: Packages to rebuild, by their C(versions.csv) name; by default every successful build there.
    type: list
    elements: str
    default: []
  repos:
    description:
      - The C(repos/) directory or its http(s) URL to read C(buildinfo.json) from.
      - By default the run's C(repos_dir) when it exists here, else the base of its C(repo_url).
    type: str
  download_dir:
    description:
      - Where packages a build was made against (its C(buildinfo.json) C(build_against), earlier build
        waves) are saved when O(repos) is a URL; local C(repos/) are used in place.
    type: path
  url_rewrites:
    description:
      - 'Prefix replacements for upstream and distgit URLs that moved since the run, for example
        C({"file:///ci/example": "file:///home/me/example"}).'
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Reads only; a package to fetch is checked but not saved in O(download_dir).
  diff_mode:
    support: none
    description: Nothing to diff.
"""

EXAMPLES = r"""
- name: Plan the reproduction of a CI run
  distroforge.openstack.reproduce_plan:
    manifest: /srv/distroforge/runs/20261126T085136Z/manifest.json
    packages: [openstack-keystone]
  register: plan
"""

RETURN = r"""
run_id:
  description: The reproduced run.
  returned: always
  type: str
repo_hash:
  description: The repository hash the run tested.
  returned: always
  type: str
repo_path:
  description: Its directory under C(repos/).
  returned: always
  type: str
repo_base_url:
  description: URL of the run's C(repos/).
  returned: always
  type: str
key_fingerprints:
  description: Fingerprints of the run's signing key, as its manifest recorded them (empty for older runs).
  returned: always
  type: list
  elements: str
repos:
  description: Where the C(buildinfo.json) files were read from.
  returned: always
  type: str
verdict:
  description: The run's verdict (C(passed) or C(failed)).
  returned: always
  type: str
reasons:
  description: Why the run's verdict is C(failed); empty when it passed.
  returned: always
  type: list
  elements: str
tested_hash_is_older:
  description: A build of the run failed, so it tested an older hash than it meant to.
  returned: always
  type: bool
deploy:
  description: C(scenario) the run deployed.
  returned: always
  type: dict
tempest:
  description:
    - C(selection) (C(include), C(exclude), C(skips), C(concurrency), C(install)) and
      C(recorded) counts (C(total), C(passed), C(failed), C(skipped), C(flaky)).
  returned: always
  type: dict
batches:
  description:
    - The rebuilds grouped by C(backend), C(rpm_nodeps), C(rpm_dist) and C(extra_packages), each with C(jobs) (one
      M(distroforge.openstack.package_build) call, built in parallel) and its C(rebuilds) in job order.
  returned: always
  type: list
  elements: dict
rebuilds:
  description:
    - One per package - C(job) (for package_build), C(backend), C(rpm_nodeps), C(rpm_dist), C(extra_packages)
      (local paths of the packages it was built against),
      C(nvr), C(build_dir) and C(recorded) (C(outputs) with sha256, C(toolchain)).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._reproduce import plan


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    result = plan(
        params["manifest"],
        packages=params["packages"],
        repos=params["repos"],
        rewrites=params["url_rewrites"],
        download_dir=params["download_dir"],
        check_mode=module.check_mode,
    )
    return {"changed": False, **result}


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "manifest": {"type": "path", "required": True},
            "packages": {"type": "list", "elements": "str", "default": []},
            "repos": {"type": "str"},
            "url_rewrites": {"type": "dict", "default": {}},
            "download_dir": {"type": "path"},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
