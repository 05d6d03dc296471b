#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: run_page
short_description: Write a pipeline run's page, runs/<run id>/index.html, from its manifest
version_added: 0.2.0
description:
  - Writes the page of a pipeline run beside its manifest (C(runs/<run id>/index.html), served by
    C(distroforge.openstack.repo_serve) at C(/runs/<run id>/), the URL the run's votes carry) - the
    verdict and why, the tested hash, the package versions (NVRs) of the tested repository, the deploy
    phases, Tempest's counts, how long each stage took, and links to the run's playbook pages in ARA,
    the collected logs, the Tempest reports and the manifest. See C(docs/run_records.md).
  - Everything of the manifest is escaped; a URL becomes a link only when it is C(http(s)) or a path on
    the same server, and a report or log only when it is a file under the run's directory.
  - The page is written aside and renamed into place, only when its content changes.
author:
  - distroforge developers (@distroforge)
options:
  manifest:
    description: The run's C(manifest.json) (M(distroforge.openstack.run_manifest) writes it).
    type: path
    required: true
  dest:
    description: The page to write; C(index.html) beside O(manifest) when not given.
    type: path
  ara_url:
    description:
      - Where ARA's web pages are, as the page's readers reach them - a path on the same server
        (C(/ara/), as C(repo_serve_ara_upstream) serves it) or an C(http(s)) URL. Empty when the run
        was not recorded in ARA.
    type: str
    default: ""
  ara_playbooks:
    description:
      - The playbook runs ARA recorded for this run (what ARA's C(ara_playbook) action returns as
        C(playbook)) - C(id), and C(path), C(status), C(started) when known.
    type: list
    elements: dict
    default: []
  stages:
    description:
      - The run's stages with their times - the plays ARA's API lists for the run's playbook
        (C(name), C(status), C(started), C(ended) as ISO 8601 times; C(ended) empty while it runs).
    type: list
    elements: dict
    default: []
attributes:
  check_mode:
    support: full
    description: Renders the page and writes nothing.
  diff_mode:
    support: full
    description: Shows the page before and after.
"""

EXAMPLES = r"""
- name: Write the run page
  distroforge.openstack.run_page:
    manifest: "{{ distroforge_workdir }}/runs/{{ distroforge_run_id }}/manifest.json"
    ara_url: /ara/
    ara_playbooks: ["{{ ara_record.playbook }}"]
    stages: "{{ ara_plays.json.results }}"
"""

RETURN = r"""
path:
  description: The page's path.
  returned: always
  type: str
verdict:
  description: The run's verdict as the page shows it, C(passed) or C(failed).
  returned: always
  type: str
ara_links:
  description: The links to ARA's playbook pages on the page.
  returned: always
  type: list
  elements: str
"""

import os
from typing import Any, Dict

from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._runs import manifest as run_manifest
from ansible_collections.distroforge.openstack.plugins.module_utils._runs import page as run_page


def _work(module: DistroforgeModule) -> Dict[str, Any]:
    params = module.params
    manifest = run_manifest.load(params["manifest"])
    run_dir = os.path.dirname(os.path.abspath(params["manifest"]))
    dest = params["dest"] or os.path.join(run_dir, run_page.PAGE)
    playbooks = run_page.playbooks_from(params["ara_playbooks"])
    links = run_page.ara_links(params["ara_url"], playbooks)
    html = run_page.render(
        manifest,
        run_dir,
        ara_url=params["ara_url"],
        playbooks=playbooks,
        stages=run_page.stages_from(params["stages"]),
    )
    changed = module.write_unless_check(dest, html, option="dest")
    return {
        "changed": changed,
        "path": dest,
        "verdict": manifest.verdict,
        "ara_links": [link.href for link in links if link.href],
    }


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "manifest": {"type": "path", "required": True},
            "dest": {"type": "path"},
            "ara_url": {"type": "str", "default": ""},
            "ara_playbooks": {"type": "list", "elements": "dict", "default": []},
            "stages": {"type": "list", "elements": "dict", "default": []},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
