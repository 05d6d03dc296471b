#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bisect_step
short_description: Plan a bisect to the first bad commit, record each step, say what to try next
version_added: 0.1.0
description:
  - Keeps a bisect plan in O(path) (JSON, written aside and renamed after
    every change, so a stopped bisect resumes where it was).
  - The first call creates it. O(kind=build) bisects a package that fails
    to build (FTBFS) between its last successful build and the failure
    (taken from the state DB's FTBFS lifecycle unless O(good) and O(bad)
    are given). O(kind=test) bisects a test failure between two
    repositories O(good) and O(bad) of one release; every package commit
    that landed between them, upstream and distgit, is a candidate, in
    landing order.
  - Each call records O(record) when given, then returns the state to try
    next (RV(next)) with the C(package_build) jobs for the packages that
    differ from the good state, or, when done, the verdict (RV(verdict))
    naming the first bad commit(s) with author, subject and the evidence of
    the states around it.
  - For O(kind=build), a state whose build the state DB already has
    (SUCCESS or FAILED) is recorded without building (counted in RV(verdict)).
author:
  - distroforge developers (@distroforge)
extends_documentation_fragment:
  - distroforge.openstack.state_db
options:
  path:
    description: The bisect plan file; created by the first call.
    type: path
    required: true
  kind:
    description: What failed; needed when the plan is created.
    type: str
    choices: [build, test]
  project:
    description: The package that fails to build (O(kind=build)).
    type: str
  release:
    description: The release of the package (O(kind=build)).
    type: str
  good:
    description: Repo hash (C(<commit_hash>_<distro_hash[:8]>)) of a good build or repository.
    type: str
  bad:
    description: Repo hash of the failing build or repository.
    type: str
  tests:
    description: The failing tests a test bisect re-runs on each state (O(kind=test)).
    type: list
    elements: str
    default: []
  mirror_dir:
    description: Local git mirrors of the upstream and distgit repositories (read for the commits in between).
    type: path
    required: true
  packages:
    description:
      - Packages from M(distroforge.openstack.pkgdb_info), which say where each package's upstream and
        distgit history is read, and give the package names and URLs of the build jobs in RV(next.jobs).
        Without them the URLs the state DB recorded are used and the name is the project.
    type: list
    elements: dict
    default: []
  record:
    description:
      - What the state RV(next.index) of the previous call gave, recorded before the next state is chosen.
      - C(index), C(outcome) (C(good), C(bad) or C(skip)), optionally C(repo_hash) and C(evidence)
        (a dict of failing test ids, log URLs, the telling line).
    type: dict
attributes:
  check_mode:
    support: full
    description: Plans and says what would be recorded; writes no plan file and fetches nothing into the mirrors.
  diff_mode:
    support: none
    description: Nothing to show as a diff.
"""

EXAMPLES = r"""
- name: Bisect keystone's build failure
  distroforge.openstack.bisect_step:
    path: /var/lib/distroforge/data/bisect/keystone.json
    db: /var/lib/distroforge/data/state.db
    mirror_dir: /var/lib/distroforge/data/git
    kind: build
    project: keystone
    release: zed
  register: step

- name: Record the build of the state it named
  distroforge.openstack.bisect_step:
    path: /var/lib/distroforge/data/bisect/keystone.json
    db: /var/lib/distroforge/data/state.db
    mirror_dir: /var/lib/distroforge/data/git
    record:
      index: "{{ step.next.index }}"
      outcome: "{{ 'good' if built.results[0].status == 'SUCCESS' else 'bad' }}"
"""

RETURN = r"""
done:
  description: Whether the culprit is known (or only skipped states are left).
  returned: always
  type: bool
next:
  description: The state to try next; null when done.
  returned: always
  type: dict
  contains:
    index:
      description: State number (candidates 0..index applied to the good state).
      type: int
    candidate:
      description: The last commit applied in this state (project, side, commit_hash, author, subject, time).
      type: dict
    state:
      description: Per package its C(commit_hash) and C(distro_hash) in this state.
      type: dict
    jobs:
      description: C(package_build) jobs for the packages that differ from the good state.
      type: list
      elements: dict
verdict:
  description:
    - C(culprits) (the first bad commit, or every commit skipped states leave in question, C(ambiguous)),
      the evidence of the first bad and last good states, C(steps_run), C(steps_reused) and C(candidates).
    - C(good_repo_hash) and C(bad_repo_hash), the two points the bisect started from.
  returned: always
  type: dict
  sample:
    done: true
    ambiguous: false
    culprits:
      - project: keystone
        side: upstream
        commit_hash: 3a5c1b2e9d0f4e6a8b7c5d3e1f0a9b8c7d6e5f4a
        author: "A <a@example.org>"
        subject: Drop the old driver
        time: 1700000000
    good_repo_hash: 1b4e28ba2fa1c2d3e4f5a6b7c8d9e0f1a2b3c4d5_8f14e45f
    bad_repo_hash: 3a5c1b2e9d0f4e6a8b7c5d3e1f0a9b8c7d6e5f4a_8f14e45f
    steps_run: 4
    steps_reused: 1
    candidates: 16
max_steps:
  description: Steps this range needs at most, ceil(log2(candidates)).
  returned: always
  type: int
plan:
  description: The plan file.
  returned: always
  type: str
"""

from pathlib import Path

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._triage import bisect as engine


def _sources(module: DistroforgeModule) -> dict:
    """Upstream and distgit URLs per project from the package database's packages."""
    return {item["project"]: item for item in module.params["packages"] if item.get("project")}


def _create(module: DistroforgeModule, db) -> engine.Bisect:
    params = module.params
    if params["kind"] is None:
        raise InputError(f"kind: {params['path']} does not exist yet; give kind (build or test) to start a bisect")
    if params["kind"] == "build":
        if not params["project"] or not params["release"]:
            raise InputError("project, release: a build bisect needs the failing package and its release")
        return engine.plan_build(
            db,
            params["project"],
            params["release"],
            params["mirror_dir"],
            good_repo_hash=params["good"],
            bad_repo_hash=params["bad"],
            fetch=not module.check_mode,
            sources=_sources(module),
        )
    if not params["good"] or not params["bad"]:
        raise InputError("good, bad: a test bisect needs the repo hashes of a good and a failing repository")
    return engine.plan_test(
        db,
        params["good"],
        params["bad"],
        params["mirror_dir"],
        params["tests"],
        fetch=not module.check_mode,
        sources=_sources(module),
    )


def _jobs(module: DistroforgeModule, db, bisect: engine.Bisect, index: int) -> list:
    known = _sources(module)
    projects = {record.project: record for record in db.projects()}
    jobs = []
    for project, hashes in sorted(bisect.changed(index).items()):
        package = known.get(project, {})
        stored = projects.get(project)
        jobs.append(
            {
                "project": project,
                "name": package.get("name") or project,
                "upstream": package.get("upstream") or (stored.upstream if stored else None),
                "distgit": package.get("distgit") or (stored.distgit if stored else None),
                "commit_hash": hashes["commit_hash"],
                "distro_hash": hashes["distro_hash"],
            }
        )
    return jobs


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    path = Path(params["path"])
    changed = False
    with module.state_db(readonly=True) as db:
        if db is None:
            raise InputError(f"db: {params['db']} does not exist; a bisect reads the builds a pipeline recorded")
        if path.exists():
            bisect = engine.Bisect.load(path)
        else:
            bisect = _create(module, db)
            changed = True
        if params["record"]:
            step = params["record"]
            if "index" not in step or "outcome" not in step:
                raise InputError("record: give index and outcome (good, bad or skip) of the state tried")
            try:
                index = int(step["index"])
            except (TypeError, ValueError):
                raise InputError(f"record.index: must be a state number, got {step['index']!r}") from None
            changed |= bisect.record(
                index, str(step["outcome"]), repo_hash=step.get("repo_hash"), evidence=step.get("evidence") or {}
            )
        # States whose build the state DB already knows are recorded without building them again.
        while (index := bisect.next_index()) is not None:
            known = engine.known_build_outcome(db, bisect, index)
            if known is None:
                break
            changed |= bisect.record(
                index, known.outcome, repo_hash=known.repo_hash, evidence=known.evidence, reused=True
            )
        following = None
        if index is not None:
            following = {
                "index": index,
                "candidate": bisect.candidates[index].as_dict(),
                "state": bisect.state(index),
                "jobs": _jobs(module, db, bisect, index),
            }
    if changed and not module.check_mode:
        path.parent.mkdir(parents=True, exist_ok=True)
        bisect.save(path)
    return {
        "changed": changed,
        "done": bisect.done,
        "next": following,
        "verdict": bisect.verdict(),
        "max_steps": bisect.max_steps(),
        "plan": str(path),
    }


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "kind": {"type": "str", "choices": list(engine.KINDS)},
            "project": {"type": "str"},
            "release": {"type": "str"},
            "good": {"type": "str"},
            "bad": {"type": "str"},
            "tests": {"type": "list", "elements": "str", "default": []},
            "mirror_dir": {"type": "path", "required": True},
            "packages": {"type": "list", "elements": "dict", "default": []},
            "record": {"type": "dict"},
        },
        state_db=True,
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
