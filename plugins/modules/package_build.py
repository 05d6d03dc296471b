#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: package_build
short_description: Build packages from upstream and distgit commits, isolated and reproducible
version_added: 0.1.0
description:
  - Builds each job (a package at an upstream commit and a distgit commit, as
    returned by M(distroforge.openstack.build_queue)) on this builder.
  - The source tarball is the commit's C(setup.py sdist), made without
    network and repacked deterministically; versions come from the commit
    (pbr rules and commit time), never from the build time.
  - C(rpmbuild) builds the SRPM then the RPMs from it, C(dpkg) runs
    C(dpkg-buildpackage); both run in bubblewrap with no network, the build
    directory at the fixed path C(/build), C(SOURCE_DATE_EPOCH) set to the
    commit time, so rebuilding a commit gives bit-identical packages.
  - Each job leaves C(<workdir>/results/<project>/<commit_hash>_<distgit8>/)
    with the artifacts, the complete C(build.log) (also on failure) and
    C(buildinfo.json) (inputs with sha256, backend, toolchain, environment,
    commands, outputs).
  - A failure whose log matches one of O(retry_patterns) is retried up to
    O(max_retries) times, then reported as C(RETRY); other failures are
    C(FAILED) with the telling error line and the log tail. A failing job
    never stops the others; only the jobs that build-depend on it (C(needs))
    are not built (C(BLOCKED)).
  - The builder keeps no state; record the results in the state DB with
    M(distroforge.openstack.build_record) on the repo server.
  - Jobs of a later wave build against the binary packages the earlier
    waves made (and O(extra_packages)). C(sbuild) offers them through its
    extra repository, C(dpkg) registers them in a private copy of the dpkg
    database (build dependencies are checked against the builder's packages
    plus these) and unpacks them under C(/build/deps/root) on C(PYTHONPATH),
    C(rpmbuild) unpacks them the same way (on Debian builders rpm has no
    database, so BuildRequires are not checked), C(mock) gets them as a local
    repository in its configuration.
  - With O(build_user), the module (run as root) hands the work directories
    to that user and runs the whole build as it (as C(setpriv --reuid
    --regid --init-groups) would); results, logs and buildinfo belong to it.
author:
  - distroforge developers (@distroforge)
options:
  jobs:
    description:
      - Jobs to build, each with C(project), C(name), C(upstream), C(distgit),
        C(commit_hash), C(distro_hash) and optionally C(commit_id), C(wave)
        (jobs of a wave start when the earlier waves on this builder are done,
        and build against their packages) and C(needs) (projects of the run
        the job build-depends on; when one of them did not build, the job is
        not built and its status is C(BLOCKED)).
    type: list
    elements: dict
    required: true
  backend:
    description:
      - C(rpmbuild) or C(dpkg) (bubblewrap sandbox, the builder's own build
        dependencies), C(sbuild) (source package in the sandbox, then a clean
        Debian chroot in unshare mode, created with mmdebstrap and cached),
        or C(mock) on EL builders (SRPM in the sandbox, then
        C(mock --rebuild) in a clean chroot).
    type: str
    choices: [rpmbuild, dpkg, sbuild, mock]
    required: true
  builder:
    description: Name of this builder, recorded with each result.
    type: str
    default: localhost
  workdir:
    description: Where results (and scratch build directories) go.
    type: path
    required: true
  mirror_dir:
    description: Local git mirrors of upstream and distgit repositories.
    type: path
    required: true
  parallel:
    description: Builds at a time on this builder (default the number of CPUs).
    type: int
  timeout:
    description: Seconds allowed per build, all steps included.
    type: int
    default: 3600
  disk_limit:
    description:
      - MiB a build may write, its build directory and log together. A step that goes over it
        is stopped and the build fails with one line saying there is no space left; no single
        file can outgrow it. The sandbox's C(/tmp) and C(/var/tmp) (1 GiB each) and C(/dev/shm)
        (256 MiB) are separate, in memory.
    type: int
    default: 8192
  retry_patterns:
    description: Regular expressions; a failed build whose log matches one is retried.
    type: list
    elements: str
    default: []
  max_retries:
    description: Retries of a RETRY-classified failure within this run.
    type: int
    default: 3
  rpm_nodeps:
    description:
      - Pass C(--nodeps) to rpmbuild (C(rpmbuild) backend; other backends ignore it).
        By default only where rpm has no package database (Debian builders),
        where BuildRequires cannot be checked.
    type: bool
  rpm_dist:
    description: Value of the C(%dist) macro, e.g. C(.el9) (C(rpmbuild) backend; other backends ignore it).
    type: str
  keep_build_dir:
    description: Keep the scratch build directory (for debugging).
    type: bool
    default: false
  build_user:
    description:
      - Unprivileged user the builds run as (created by the builder_setup
        role). Empty runs them as the connecting user.
      - The module must run as root or as that user. It gives C(<workdir>/results),
        C(<workdir>/scratch) (and a new O(mirror_dir)) to the user; git mirrors
        owned by another user are read, not written.
    type: str
    default: ""
  extra_packages:
    description:
      - Binary packages (C(.deb) or C(.rpm) paths on the builder) of the distro
        to build against, e.g. earlier build waves made on other builders.
    type: list
    elements: path
    default: []
  failed_projects:
    description:
      - Projects that did not build in earlier waves of this run on other builders (C(FAILED), C(RETRY)
        or C(BLOCKED)); jobs that need one of them (C(needs)) are C(BLOCKED), not built. What does not
        build here blocks the jobs of later waves that need it without being named.
    type: list
    elements: str
    default: []
  progress:
    description:
      - A file that says, while the builds run, how many are done and which are building since when
        (rewritten whole as each build starts and ends; the final counts stay).
      - Start the module as an async job and poll M(distroforge.openstack.build_progress) with this
        path to see a wave's progress on the screen, as the C(package_build) role does.
      - In O(build_user)'s case, a path that user may write, such as C(<workdir>/scratch/progress.json).
    type: path
attributes:
  check_mode:
    support: full
    description: Reports the jobs that would be built and builds nothing.
  diff_mode:
    support: none
    description: Nothing to diff.
requirements:
  - bubblewrap
  - rpmbuild (rpmbuild backend)
  - mock (mock backend, EL builders)
  - sbuild, mmdebstrap, uidmap (sbuild backend; root needs a subuid/subgid range)
  - dpkg-dev, python-debian (dpkg backend)
"""

EXAMPLES = r"""
- name: Build what the repo server planned for this builder
  distroforge.openstack.package_build:
    jobs: "{{ hostvars[groups['repo_server'][0]].build_plan.assignment[inventory_hostname] }}"
    backend: rpmbuild
    builder: "{{ inventory_hostname }}"
    workdir: /var/lib/distroforge/builder
    mirror_dir: /var/cache/distroforge/git
    retry_patterns:
      - 'Curl error \(\d+\)'
    build_user: distroforge-build
  register: builds
"""

RETURN = r"""
results:
  description: One result per job, in job order.
  returned: always
  type: list
  elements: dict
  contains:
    project:
      description: Project built.
      type: str
    status:
      description:
        - C(SUCCESS), C(FAILED) or C(RETRY); C(BLOCKED) for a job not built because a project it
          build-depends on did not build in this run (its commit stays queued, M(distroforge.openstack.build_record)
          leaves it alone).
      type: str
    nvr:
      description: RPM name-version-release of the SRPM, or C(<source>_<version>) for DEB.
      type: str
    artifacts:
      description: Paths of the built packages on the builder.
      type: list
      elements: str
    packages:
      description:
        - The binary packages among RV(results[].artifacts) (what later build waves build against), as the
          backend's packaging kind tells them from sources and build metadata.
      type: list
      elements: str
    result_dir:
      description: Directory holding artifacts, build.log and buildinfo.json (empty for a C(BLOCKED) job).
      type: str
    log:
      description: Path of build.log (empty for a C(BLOCKED) job).
      type: str
    buildinfo:
      description: Path of buildinfo.json (successful builds).
      type: str
    error:
      description: The telling error line of a failed build, or why a job is C(BLOCKED).
      type: str
    blocked_by:
      description: Of a C(BLOCKED) job, the projects it needs that did not build.
      type: list
      elements: str
    log_tail:
      description: Last lines of the log of a failed build.
      type: str
    attempts:
      description: Attempts made (retries included).
      type: int
    duration:
      description: Seconds spent on this job.
      type: float
counts:
  description: Number of results per status.
  returned: always
  type: dict
"""

import os

from ansible_collections.distroforge.openstack.plugins.module_utils._build import backends, privs
from ansible_collections.distroforge.openstack.plugins.module_utils._build.runner import (
    BuildJob,
    BuildSettings,
    build_as,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule

JOB_KEYS = ("project", "name", "upstream", "distgit", "commit_hash", "distro_hash")


def _jobs(raw: list) -> list:
    jobs = []
    for index, given in enumerate(raw):
        # jobs saved by playbooks written before the rename carry the old name, distgit_hash
        item = {"distro_hash": given.get("distgit_hash"), **given}
        missing = [key for key in JOB_KEYS if not item.get(key)]
        if missing:
            raise InputError(f"jobs[{index}]: missing '{missing[0]}' (pass build_queue's jobs)")
        needs = tuple(str(name) for name in item.get("needs") or ())
        jobs.append(BuildJob(**{key: item[key] for key in JOB_KEYS}, commit_id=item.get("commit_id"), needs=needs))
    return jobs


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    jobs = _jobs(params["jobs"])
    settings = BuildSettings(
        backend=params["backend"],
        workdir=params["workdir"],
        mirror_dir=params["mirror_dir"],
        timeout=params["timeout"],
        disk_limit=params["disk_limit"],
        retry_patterns=params["retry_patterns"],
        max_retries=params["max_retries"],
        keep_build_dir=params["keep_build_dir"],
        extra_packages=tuple(params["extra_packages"]),
        # the backends' own settings (rpm_nodeps, rpm_dist): each backend takes those that are its own
        options={name: params[name] for name in backends.module_options()},
    )
    settings.validate()
    if params["build_user"]:
        privs.needs_switch(privs.lookup(params["build_user"]))  # fails early, also in check mode
    if module.check_mode or not jobs:
        return {"changed": bool(jobs), "results": [], "counts": {}, "would_build": [j.project for j in jobs]}
    waves = [int(item.get("wave") or 0) for item in params["jobs"]]
    rows = build_as(
        params["build_user"] or None,
        jobs,
        settings,
        parallel=params["parallel"] or os.cpu_count() or 1,
        waves=waves,
        progress=params["progress"],
        failed=params["failed_projects"],
    )
    counts: dict = {}
    for row in rows:
        row["builder"] = params["builder"]
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return {"changed": True, "results": rows, "counts": counts}


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "jobs": {"type": "list", "elements": "dict", "required": True},
            # the registry's names; DOCUMENTATION lists them too (a unit test keeps the two equal)
            "backend": {"type": "str", "choices": list(backends.names()), "required": True},
            "builder": {"type": "str", "default": "localhost"},
            "workdir": {"type": "path", "required": True},
            "mirror_dir": {"type": "path", "required": True},
            "parallel": {"type": "int"},
            "timeout": {"type": "int", "default": 3600},
            "disk_limit": {"type": "int", "default": 8192},
            "retry_patterns": {"type": "list", "elements": "str", "default": []},
            "max_retries": {"type": "int", "default": 3},
            "rpm_nodeps": {"type": "bool"},
            "rpm_dist": {"type": "str"},
            "keep_build_dir": {"type": "bool", "default": False},
            "build_user": {"type": "str", "default": ""},
            "extra_packages": {"type": "list", "elements": "path", "default": []},
            "failed_projects": {"type": "list", "elements": "str", "default": []},
            "progress": {"type": "path"},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
