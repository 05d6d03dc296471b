#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: build_status
short_description: Query the state DB for builds, like DLRN's status report and API
version_added: 0.1.0
description:
  - Reads the distroforge state DB (SQLite) on the repo server and returns
    commits with their build state, in the spirit of DLRN's status report
    and REST API (C(repo_status), C(metrics/builds)).
  - C(last) gives per package and release its newest known commit and that
    commit's status (C(QUEUED), C(BUILDING), C(SUCCESS), C(FAILED) or C(RETRY)).
  - C(failures) gives the packages whose latest finished build failed; a
    failure stays listed until a build of that package succeeds. It also
    returns RV(ftbfs), each failing package's FTBFS lifecycle.
  - C(commit) gives every record of one upstream commit (one per release and
    distgit commit).
  - C(commits) gives the newest commits matching the filters.
  - C(pending) gives the commits waiting for a builder, oldest first.
  - Never writes and never waits for a writer (the DB is in WAL mode), so it
    is safe to run while polls and builds update the DB.
author:
  - distroforge developers (@distroforge)
options:
  query:
    description: What to return; see the description.
    type: str
    choices: [last, commit, failures, commits, pending]
    default: last
  project:
    description: Only commits of this package (rdoinfo C(project)).
    type: str
  release:
    description: Only commits of this release (for example C(master) or C(zed)).
    type: str
  commit_hash:
    description:
      - Upstream commit hash.
      - Required with O(query=commit); filters the other queries.
    type: str
  distro_hash:
    description: Distgit commit hash or its prefix (DLRN repository names carry 8 characters).
    type: str
    aliases: [distgit_hash]
  status:
    description: Only commits in this build state.
    type: str
    choices: [QUEUED, BUILDING, SUCCESS, FAILED, RETRY]
  limit:
    description:
      - Maximum number of commits returned.
      - Without it, O(query=commits) returns 100 and the other queries everything.
    type: int
extends_documentation_fragment:
  - distroforge.openstack.state_db
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode returns the same data.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
seealso:
  - name: DLRN
    description: The continuous packaging system whose data model and API this follows.
    link: https://github.com/softwarefactory-project/DLRN
"""

EXAMPLES = r"""
- name: Show the latest build of every package in master
  distroforge.openstack.build_status:
    db: /var/lib/distroforge/state.db
    release: master
  register: status

- name: List the packages whose latest build failed
  distroforge.openstack.build_status:
    db: /var/lib/distroforge/state.db
    query: failures
  register: failing

- name: Look up one upstream commit
  distroforge.openstack.build_status:
    db: /var/lib/distroforge/state.db
    query: commit
    commit_hash: 3a5c1b2e9d0f4e6a8b7c5d3e1f0a9b8c7d6e5f4a
  register: one

- name: Show what waits for a builder
  distroforge.openstack.build_status:
    db: /var/lib/distroforge/state.db
    query: pending
  register: queue
"""

RETURN = r"""
builds:
  description:
    - Matching commits, one dict each; timestamps are epoch seconds UTC.
    - Ordered by release and package for O(query=last) and O(query=failures),
      oldest first for O(query=pending), newest first otherwise.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Row id, as builds claim and finish it.
      type: int
    project:
      description: Package name (rdoinfo C(project)).
      type: str
    release:
      description: Release the commit was polled for.
      type: str
    commit_hash:
      description: Upstream commit hash.
      type: str
    distro_hash:
      description: Distgit (packaging) commit hash; DLRN's C(distro_hash).
      type: str
    commit_branch:
      description: Upstream branch.
      type: str
    distgit_branch:
      description: Distgit branch.
      type: str
    dt_commit:
      description: Upstream commit time.
      type: int
    dt_distgit:
      description: Distgit commit time.
      type: int
    author:
      description: Upstream commit author.
      type: str
    subject:
      description: Upstream commit subject.
      type: str
    component:
      description: Component of the package, if any.
      type: str
    status:
      description: Build state.
      type: str
      sample: SUCCESS
    dt_queued:
      description: When the poll queued the commit.
      type: int
    dt_started:
      description: When a builder claimed it.
      type: int
    dt_build:
      description: When the build finished.
      type: int
    builder:
      description: Host that built (or builds) it.
      type: str
    nvr:
      description: Name-version-release of the built package.
      type: str
    artifacts:
      description: Built files.
      type: list
      elements: str
    log_url:
      description: URL or path of the build log.
      type: str
    notes:
      description: Free text left by the build (for example the failure's telling line).
      type: str
    flags:
      description: DLRN-style bit flags.
      type: int
    retries:
      description: How many times the build ended in C(RETRY).
      type: int
    repo_hash:
      description: Repository name, C(<commit_hash>_<distro_hash[:8]>).
      type: str
    repo_path:
      description: Repository directory relative to C(repos/), sharded as DLRN does.
      type: str
      sample: 3a/5c/3a5c1b2e9d0f4e6a8b7c5d3e1f0a9b8c7d6e5f4a_0f1e2d3c
  sample:
    - id: 12
      project: keystone
      release: master
      commit_hash: 3a5c1b2e9d0f4e6a8b7c5d3e1f0a9b8c7d6e5f4a
      distro_hash: 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c
      status: SUCCESS
      nvr: openstack-keystone-22.0.0-0.20230101120000.3a5c1b2.el9
ftbfs:
  description:
    - With O(query=failures), per failing package (longest failing first) its last success, the first and the
      newest failed build since, how many builds failed since the last success, the telling log line and the
      package's maintainers.
  returned: when O(query=failures)
  type: list
  elements: dict
  contains:
    project:
      description: Package name.
      type: str
    release:
      description: Release.
      type: str
    failures:
      description: Failed builds since the last success.
      type: int
    since:
      description: When the first of them finished (epoch seconds).
      type: int
    error:
      description: The telling log line of the newest failure.
      type: str
    maintainers:
      description: The package's maintainers (package database).
      type: list
      elements: str
    last_failed:
      description: The newest failed build, as in RV(builds).
      type: dict
    first_failed:
      description: The first failed build after the last success, as in RV(builds).
      type: dict
    last_success:
      description: The last successful build, as in RV(builds); null when it never built.
      type: dict
  sample:
    - project: keystone
      release: zed
      failures: 2
      since: 1701388800
      error: "error: Installed (but unpackaged) file(s) found"
      maintainers: [keystone-core@example.org]
summary:
  description: Number of returned commits per build state (every state present).
  returned: always
  type: dict
  sample: {QUEUED: 2, BUILDING: 1, SUCCESS: 240, FAILED: 3, RETRY: 0}
schema_version:
  description: Schema version of the state DB.
  returned: always
  type: int
  sample: 2
"""

from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import summarize
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.schema import STATUSES

# Without a limit, `commits` could return a release's whole history.
COMMITS_DEFAULT_LIMIT = 100


def _matches(record, params: dict) -> bool:
    for name in ("project", "release", "commit_hash", "status"):
        if params[name] is not None and getattr(record, name) != params[name]:
            return False
    prefix = params["distro_hash"]
    return not prefix or record.distro_hash.startswith(prefix)


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    query, limit = params["query"], params["limit"]
    extra: dict = {}
    with module.state_db(readonly=True) as db:
        if query in ("commit", "commits"):
            if query == "commits" and limit is None:
                limit = COMMITS_DEFAULT_LIMIT
            records = db.commits(
                project=params["project"],
                status=params["status"],
                release=params["release"],
                commit_hash=params["commit_hash"],
                distro_hash=params["distro_hash"],
                limit=limit,
            )
        else:
            if query == "last":
                found = db.last_builds(release=params["release"])
            elif query == "failures":
                found = db.failures(release=params["release"])
                extra["ftbfs"] = [
                    item.as_dict() for item in db.ftbfs(release=params["release"]) if _matches(item.last_failed, params)
                ]
            else:
                found = db.pending(release=params["release"])
            records = [record for record in found if _matches(record, params)][:limit]
        version = db.schema_version
    return {
        "changed": False,
        "builds": [record.as_dict() for record in records],
        "summary": summarize(records),
        "schema_version": version,
        **extra,
    }


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "query": {
                "type": "str",
                "choices": ["last", "commit", "failures", "commits", "pending"],
                "default": "last",
            },
            "project": {"type": "str"},
            "release": {"type": "str"},
            "commit_hash": {"type": "str"},
            "distro_hash": {"type": "str", "aliases": ["distgit_hash"]},
            "status": {"type": "str", "choices": list(STATUSES)},
            "limit": {"type": "int"},
        },
        required_if=[("query", "commit", ["commit_hash"])],
        state_db=True,
        supports_check_mode=True,
    )
    if module.params["limit"] is not None and module.params["limit"] < 1:
        module.fail_json(msg=f"limit must be a positive number, got {module.params['limit']}")
    module.run(_work)


if __name__ == "__main__":
    main()
