#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: run_manifest
short_description: Write a pipeline run's manifest and judge the run
version_added: 0.1.0
description:
  - Writes C(runs/<run id>/manifest.json) (format 2, see C(docs/run_manifest.md)) from what the
    pipeline's steps left - the build record, the deploy result and Tempest's summary - with the
    tested repository's C(versions.csv), and returns the verdict and the run summary.
  - The verdict rule is the collection's one rule - the hash passed only when its deploy passed and
    Tempest ran at least one test (skipped tests do not count) with none failed, no failed phase,
    no damaged stream and no timeout. Zero tests run is a failure with the reason C(no tests ran).
  - When a build of this run failed, C(repos/current) still points at the last repository that built,
    so the run tested an older hash than it meant to - C(tested_hash_is_older) is true, the reason
    names the failed builds, and C(run_passed) is false whatever the verdict of that older hash.
  - The file is written aside and renamed into place, only when its content changes.
author:
  - distroforge developers (@distroforge)
options:
  path:
    description: The manifest to write, C(<workdir>/runs/<run id>/manifest.json); its directory is created.
    type: path
    required: true
  run_id:
    description: The run's id (its UTC start time, C(%Y%m%dT%H%M%SZ)).
    type: str
    required: true
  release:
    description: The release the run built for.
    type: str
    required: true
  backend:
    description: The build backend of the run.
    type: str
    required: true
  repos_dir:
    description: The run's C(repos/) directory; the tested repository's C(versions.csv) is read there.
    type: path
    required: true
  repo_path:
    description: The tested repository's directory under O(repos_dir) (where C(repos/current) points).
    type: str
    required: true
  repo_base_url:
    description: URL of O(repos_dir) as the test node reached it.
    type: str
    required: true
  key_fingerprints:
    description:
      - Fingerprints of the key that signs the tested repository (M(distroforge.openstack.repo_key) reads
        them); C(reproduce.yml) hands them to its test node.
    type: list
    elements: str
    default: []
  deps_repos:
    description:
      - Repositories the test node had beside the tested one (test_hash.yml's C(distroforge_test_deps_repos)),
        each with C(name), C(base_url), one of C(label) and C(hash), and C(key_fingerprints) - or the same
        with repo_configure's C(repo_configure_) prefix, as test_hash.yml takes them.
    type: list
    elements: dict
    default: []
  votes:
    description:
      - The votes on the tested hash after the run voted (the C(votes) M(distroforge.openstack.vote_info) returns -
        C(job_id), C(success), C(timestamp), C(in_progress), C(url), C(notes), C(user)).
    type: list
    elements: dict
    default: []
  labels:
    description:
      - The labels after the run's promotion step - C(label), C(repo_hash) (where it points), C(moved)
        (whether this run moved it), C(previous_hash), C(reason) (why it stayed).
    type: list
    elements: dict
    default: []
  pkgdb:
    description: The package database entry file of the run.
    type: path
  workdir:
    description: The run's work directory.
    type: path
  build_results:
    description:
      - The C(recorded) rows of M(distroforge.openstack.build_record) in this run; a project whose newest
        row is not C(SUCCESS) is a failed build of this run.
    type: list
    elements: dict
    default: []
  deploy:
    description:
      - The deploy result (C(status), C(scenario), C(keystone_version), C(message), C(phases)), the
        C(distroforge_deploy) fact C(test_hash.yml) sets on the node.
    type: dict
    default: {status: not run}
  tempest:
    description: The node's C(tempest_run_summary) fact (empty when Tempest did not run).
    type: dict
    default: {}
  tempest_failure:
    description: Why the Tempest step failed, when it did (C(distroforge_tempest_failure) fact of the node).
    type: str
  tempest_selection:
    description: The node's C(tempest_run_selection) fact (recorded so the run can be replayed).
    type: dict
    default: {}
  steps_not_built:
    description: Pipeline steps not built yet, named in the summary.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Computes the manifest, the verdict and the summary and writes nothing.
  diff_mode:
    support: full
    description: Shows the manifest before and after.
"""

EXAMPLES = r"""
- name: Write the run manifest and judge the run
  distroforge.openstack.run_manifest:
    path: "{{ distroforge_workdir }}/runs/{{ distroforge_run_id }}/manifest.json"
    run_id: "{{ distroforge_run_id }}"
    release: zed
    backend: dpkg
    repos_dir: "{{ distroforge_workdir }}/repos"
    repo_path: 36/1f/361fac47135c7336bc8f8b0b1e573c6e141a5ac9_c4a2a97f
    repo_base_url: http://10.89.42.1:8088/repos
    build_results: "{{ distroforge_build_record.recorded }}"
    deploy: "{{ hostvars['df-pipeline-node'].distroforge_deploy }}"
    tempest: "{{ hostvars['df-pipeline-node'].tempest_run_summary }}"
  register: run

- name: Print the run summary
  ansible.builtin.debug:
    msg: "{{ run.summary }}"
"""

RETURN = r"""
path:
  description: The manifest's path.
  returned: always
  type: str
manifest:
  description: The manifest written (or that would be written in check mode), as in the file.
  returned: always
  type: dict
verdict:
  description: C(passed) or C(failed), for the tested hash.
  returned: always
  type: str
reasons:
  description: Why the verdict is C(failed) (for example C(no tests ran)); empty when it passed.
  returned: always
  type: list
  elements: str
tested_hash_is_older:
  description: A build of this run failed, so the tested hash is older than what the run meant to test.
  returned: always
  type: bool
tested_hash_note:
  description: The sentence saying which builds failed and which hash was tested instead, or null.
  returned: always
  type: str
run_passed:
  description: The verdict is C(passed) and the tested hash is this run's own (not older).
  returned: always
  type: bool
verdict_line:
  description: The verdict in one line, as the summary ends.
  returned: always
  type: str
  sample: "verdict for 361fac47135c7336bc8f8b0b1e573c6e141a5ac9_c4a2a97f: PASSED"
summary:
  description: The run summary, one line per item.
  returned: always
  type: list
  elements: str
"""

from typing import Any, Dict

from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._runs import manifest as run_manifest


def _work(module: DistroforgeModule) -> Dict[str, Any]:
    params = module.params
    path = params["path"]
    manifest = run_manifest.build(
        path,
        run_id=params["run_id"],
        release=params["release"],
        backend=params["backend"],
        repo_path=params["repo_path"],
        repo_base_url=params["repo_base_url"],
        packages=run_manifest.versions_lines(params["repos_dir"], params["repo_path"]),
        pkgdb=params["pkgdb"],
        workdir=params["workdir"],
        repos_dir=params["repos_dir"],
        build_results=params["build_results"],
        deploy=params["deploy"],
        tempest=params["tempest"],
        tempest_failure=params["tempest_failure"],
        tempest_selection=params["tempest_selection"],
        steps_not_built=params["steps_not_built"],
        key_fingerprints=params["key_fingerprints"],
        votes=params["votes"],
        labels=params["labels"],
        deps_repos=params["deps_repos"],
    )
    changed = module.write_unless_check(path, run_manifest.render(manifest), option="path", parents=True)
    outcome = manifest.outcome
    result: Dict[str, Any] = {
        "changed": changed,
        "path": path,
        "manifest": run_manifest.as_dict(manifest),
        "verdict": outcome.verdict,
        "reasons": list(outcome.reasons),
        "tested_hash_is_older": outcome.tested_hash_is_older,
        "tested_hash_note": outcome.tested_hash_note,
        "run_passed": outcome.run_passed,
        "verdict_line": run_manifest.verdict_line(manifest),
        "summary": run_manifest.summary_lines(manifest, path),
    }
    return result


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "run_id": {"type": "str", "required": True},
            "release": {"type": "str", "required": True},
            "backend": {"type": "str", "required": True},
            "repos_dir": {"type": "path", "required": True},
            "repo_path": {"type": "str", "required": True},
            "repo_base_url": {"type": "str", "required": True},
            "key_fingerprints": {"type": "list", "elements": "str", "default": [], "no_log": False},
            "votes": {"type": "list", "elements": "dict", "default": []},
            "labels": {"type": "list", "elements": "dict", "default": []},
            "deps_repos": {"type": "list", "elements": "dict", "default": []},
            "pkgdb": {"type": "path"},
            "workdir": {"type": "path"},
            "build_results": {"type": "list", "elements": "dict", "default": []},
            "deploy": {"type": "dict", "default": {"status": "not run"}},
            "tempest": {"type": "dict", "default": {}},
            "tempest_failure": {"type": "str"},
            "tempest_selection": {"type": "dict", "default": {}},
            "steps_not_built": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
