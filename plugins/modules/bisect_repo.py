#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bisect_repo
short_description: Publish the repository of one state of a test bisect, signed, for the node to switch to
version_added: 0.2.0
description:
  - A test bisect (O(distroforge.openstack.bisect_step#module:kind=test)) keeps one deployed node and moves
    it between states. This module publishes the repository of state O(index) of the plan O(plan) at
    C(<repos_dir>/bisect/<name>/state-<index>), made of the good repository's packages with those of the
    packages the state changes replaced by O(artifacts) (the state's C(package_build) results).
  - Published by the release stages' publisher (signed with the repository key, assembled aside and
    renamed into place, a link to a snapshot), so publishing the same state twice changes nothing.
author:
  - distroforge developers (@distroforge)
extends_documentation_fragment:
  - distroforge.openstack.state_db
options:
  plan:
    description: The bisect plan file M(distroforge.openstack.bisect_step) keeps.
    type: path
    required: true
  index:
    description: The state to publish (RV(distroforge.openstack.bisect_step#module:next.index)).
    type: int
    required: true
  artifacts:
    description: The package files built for the state (the C(package_build) results' C(artifacts)).
    type: list
    elements: path
    default: []
  repos_dir:
    description: The published C(repos/) directory holding the good repository.
    type: path
    required: true
  name:
    description: The bisect's name; the state is published under C(bisect/<name>/) of O(repos_dir).
    type: str
    required: true
  baseurl:
    description: Public URL of O(repos_dir), written into the repository's C(.list)/C(.repo) file.
    type: str
  reponame:
    description: Name of the repository (its key file C(RPM-GPG-KEY-<reponame>) and its Origin).
    type: str
    default: delorean
attributes:
  check_mode:
    support: full
    description: Says whether the state's repository would change; writes nothing.
"""

EXAMPLES = r"""
- name: Publish the repository of the state the bisect tries now
  distroforge.openstack.bisect_repo:
    db: /var/lib/distroforge/state.db
    plan: /var/lib/distroforge/bisect/test-keystone/bisect.json
    index: 3
    artifacts: "{{ build.results | map(attribute='artifacts') | flatten }}"
    repos_dir: /var/lib/distroforge/repos
    name: test-keystone
  register: state_repo
"""

RETURN = r"""
rel:
  description: The repository's path under O(repos_dir) (what M(distroforge.openstack.repo_configure) takes as label).
  returned: always
  type: str
  sample: bisect/test-keystone/state-3
path:
  description: The repository's link.
  returned: always
  type: str
url:
  description: The repository's URL (with O(baseurl)).
  returned: always
  type: str
snapshot:
  description: The snapshot the link points to.
  returned: always
  type: str
package_format:
  description: C(deb) or C(rpm).
  returned: always
  type: str
packages:
  description: The file names of the packages in the repository.
  returned: always
  type: list
  elements: str
replaced:
  description: The projects whose packages the state brings instead of the good repository's.
  returned: always
  type: list
  elements: str
key_fingerprint:
  description: The fingerprint of the key the repository is signed with (for repo_configure); empty in check mode.
  returned: always
  type: str
"""

import re
from pathlib import Path

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._release import stages
from ansible_collections.distroforge.openstack.plugins.module_utils._triage import bisect as engine
from ansible_collections.distroforge.openstack.plugins.module_utils._triage import state_repo

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    if not NAME.match(params["name"]):
        raise InputError(f"name: {params['name']!r} must be letters, digits, '.', '_' or '-' (a directory name)")
    plan = Path(params["plan"])
    if not plan.is_file():
        raise InputError(f"plan: {plan} does not exist; plan the bisect with bisect_step first")
    bisect = engine.Bisect.load(plan)
    if bisect.kind != "test":
        raise InputError(f"plan: {plan} is a {bisect.kind} bisect; only a test bisect moves a node between states")
    options = stages.PublishOptions(
        repos_dir=Path(params["repos_dir"]), baseurl=params["baseurl"] or None, reponame=params["reponame"]
    )
    with module.state_db(readonly=True) as db:
        if db is None:
            raise InputError(f"db: {params['db']} does not exist; a bisect reads the builds a pipeline recorded")
        published = state_repo.publish_state(
            db,
            bisect,
            params["index"],
            params["artifacts"],
            rel=f"bisect/{params['name']}/state-{params['index']}",
            options=options,
            check=module.check_mode,
        )
    return published.as_dict()


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "plan": {"type": "path", "required": True},
            "index": {"type": "int", "required": True},
            "artifacts": {"type": "list", "elements": "path", "default": []},
            "repos_dir": {"type": "path", "required": True},
            "name": {"type": "str", "required": True},
            "baseurl": {"type": "str"},
            "reponame": {"type": "str", "default": "delorean"},
        },
        state_db=True,
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
