#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: repo_publish
short_description: Publish one build as a DLRN-compatible, signed repository
version_added: 0.1.0
description:
  - Publishes the build of one state DB commit into C(repos/), laid out as
    DLRN does (C(repos/<h[0:2]>/<h[2:4]>/<commit_hash>_<distro_hash[0:8]>/)).
  - A C(SUCCESS) build gets its packages, links to the newest published
    successful build of every other package, repository metadata (RPM
    through createrepo_c's Python bindings, DEB as a flat repository by
    apt-ftparchive), C(commit.yaml), C(versions.csv), the C(.repo) or
    C(.list) file and C(build.log); then C(current) moves to it, and
    C(consistent) too when the newest build of every package succeeded.
  - With O(use_components=true) builds go under C(repos/component/<component>/)
    and the aggregate repository of all components is written as DLRN does
    (C(repos/<label>/<reponame>.repo) and C(.repo.md5), in a directory
    named by that md5).
  - A C(FAILED) build gets its log, notes and C(commit.yaml); nothing moves.
  - Metadata is signed with a GPG key (created on first use when none is
    given); the public key is published in C(repos/) and the generated
    files turn verification on.
  - Crash-safe (everything is written aside, flushed and renamed into place)
    and serialized by a lock; publishing the same build again changes nothing.
  - The status report (C(status_report.html), C(.json) and DLRN's C(status_report.csv)) is regenerated.
author:
  - distroforge developers (@distroforge)
requirements:
  - createrepo_c Python bindings (RPM)
  - apt-ftparchive (DEB), gpg, rpmsign (signed RPM packages)
options:
  repos_dir:
    description: The C(repos/) directory that is published (and served).
    type: path
    required: true
  commit_id:
    description:
      - State DB id of the finished build (C(SUCCESS) or C(FAILED)).
      - One of O(commit_id) and O(builds) is required.
    type: int
  builds:
    description:
      - Several finished builds published in order in one call, each with
        C(commit_id) and optionally C(artifacts_dir) and C(build_log); the
        status report is written once, after the last.
      - Much faster than one task per build when a run publishes many.
    type: list
    elements: dict
  artifacts_dir:
    description:
      - Directory of the build's output on the repo server; every regular file
        in it is published with the build (C(*.rpm), C(*.deb), C(*.buildinfo), C(*.changes)...).
      - Required for C(SUCCESS) builds that are not published yet.
    type: path
  build_log:
    description: The build log; defaults to C(build.log) in O(artifacts_dir).
    type: path
  include_srpm:
    description: Index source RPMs in the repository metadata (DLRN's C(include_srpm_in_repo)).
    type: bool
    default: true
  package_format:
    description: C(rpm) or C(deb); C(auto) decides from the artifacts.
    type: str
    choices: [auto, rpm, deb]
    default: auto
  sign:
    description: Sign the repository metadata (C(repomd.xml.asc), C(InRelease), C(Release.gpg)).
    type: bool
    default: true
  sign_packages:
    description: Also sign the RPM packages, so the C(.repo) file can set C(gpgcheck=1).
    type: bool
    default: true
  gpg_home:
    description: GnuPG home holding the signing key; defaults to C(gnupg) beside O(repos_dir) (never inside it).
    type: path
  gpg_key:
    description:
      - Fingerprint of the signing key in O(gpg_home).
      - Without it the only key there is used, or one is created.
    type: str
  deb_signed_by:
    description:
      - Path of the key on clients, for C(signed-by) in C(.list) files.
      - Defaults to C(/etc/apt/keyrings/<reponame>.gpg).
    type: str
  packages:
    description:
      - The package database's packages (the C(packages) list C(distroforge.openstack.pkgdb_info) returns).
      - Gives the files DLRN's package names (C(project_name) in C(commit.yaml), C(Project) in
        C(versions.csv), the C(.repo) name) and the upstream and distgit URLs in C(versions.csv),
        in the database's order; a package no longer listed is no longer linked into new repositories,
        and one listed but never built keeps C(consistent) from moving, as in DLRN.
      - Without it the rdoinfo project stands for the name and the URLs come from the state DB.
    type: list
    elements: dict
  report:
    description: Regenerate the status report in O(repos_dir).
    type: bool
    default: true
  lock_timeout:
    description: Seconds to wait for another publisher or purge (and for the state DB's writer lock).
    default: 600.0
extends_documentation_fragment:
  - distroforge.openstack.repos
  - distroforge.openstack.state_db
attributes:
  check_mode:
    support: full
    description: Says whether the build would be published, without writing.
  diff_mode:
    support: none
    description: Repositories are binary trees; there is no useful diff.
seealso:
  - module: distroforge.openstack.repo_purge
  - name: DLRN
    description: The continuous packaging system whose repository layout this follows.
    link: https://github.com/softwarefactory-project/DLRN
"""

EXAMPLES = r"""
- name: Publish a finished build
  distroforge.openstack.repo_publish:
    db: /var/lib/distroforge/state.db
    repos_dir: /var/lib/distroforge/data/repos
    commit_id: "{{ build.commit_id }}"
    artifacts_dir: "{{ build.artifacts_dir }}"
    baseurl: https://repo.example.org/master
  register: published

- name: Publish with components and an aggregate repository, and a key of our own
  distroforge.openstack.repo_publish:
    db: /var/lib/distroforge/state.db
    repos_dir: /var/lib/distroforge/data/repos
    commit_id: 42
    artifacts_dir: /var/tmp/build-42
    packages: "{{ pkgdb.packages }}"
    use_components: true
    gpg_key: 0123456789ABCDEF0123456789ABCDEF01234567
"""

RETURN = r"""
builds:
  description:
    - With O(builds), the result of each publish (the keys below), in order.
    - The top-level keys are the last one's.
  returned: when O(builds) is given
  type: list
  elements: dict
commit_id:
  description: State DB id of the build.
  returned: always
  type: int
project:
  description: Package of the build.
  returned: always
  type: str
status:
  description: Build status that was published.
  returned: always
  type: str
  sample: SUCCESS
repo_hash:
  description: DLRN's name of the build, C(<commit_hash>_<distro_hash[0:8]>).
  returned: always
  type: str
repo_path:
  description: Directory of the build relative to O(repos_dir).
  returned: always
  type: str
  sample: 3a/5c/3a5c1b2e9d0f4e6a8b7c5d3e1f0a9b8c7d6e5f4a_0f1e2d3c
repo_url:
  description: Public URL of that directory.
  returned: always
  type: str
package_format:
  description: C(rpm) or C(deb) (for a published C(SUCCESS) build).
  returned: when a successful build was published
  type: str
created:
  description: Whether the build's directory was written by this run.
  returned: always
  type: bool
links:
  description: Links moved to the build (C(current), and C(consistent) when consistent), with their paths.
  returned: always
  type: dict
consistent:
  description: Whether the newest build of every package (in the component) succeeded.
  returned: always
  type: bool
aggregate_hashes:
  description: With components, the aggregate hash written per label.
  returned: always
  type: dict
key_fingerprint:
  description: Fingerprint of the signing key.
  returned: when signing and something was published
  type: str
key_created:
  description: Whether the signing key was created by this run.
  returned: always
  type: bool
report:
  description: Path of the regenerated HTML status report.
  returned: when O(report=true) and something was published
  type: str
"""

import dataclasses
from pathlib import Path

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.layout import package_infos
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.options import REPO_OPTIONS
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.publisher import (
    Publisher,
    PublishOptions,
)


def _path(value):
    return Path(value) if value else None


def _work(module: DistroforgeModule) -> dict:
    p = module.params
    options = PublishOptions(
        repos_dir=Path(p["repos_dir"]),
        baseurl=p["baseurl"],
        reponame=p["reponame"],
        use_components=p["use_components"],
        include_srpm=p["include_srpm"],
        sign=p["sign"],
        gpg_home=_path(p["gpg_home"]),
        gpg_key=p["gpg_key"],
        sign_packages=p["sign_packages"],
        deb_signed_by=p["deb_signed_by"],
        package_format=p["package_format"],
        report=p["report"],
        lock_timeout=float(p["lock_timeout"]),
        packages=package_infos(p["packages"]) if p["packages"] else None,
    )
    single = {"commit_id": p["commit_id"], "artifacts_dir": p["artifacts_dir"], "build_log": p["build_log"]}
    items = p["builds"] or [single]
    results = []
    with module.state_db(readonly=module.check_mode) as db:
        for index, item in enumerate(items):
            if "commit_id" not in item:
                raise InputError(f"builds[{index}]: missing commit_id")
            last = index == len(items) - 1
            publisher = Publisher(dataclasses.replace(options, report=options.report and last), db)
            result = publisher.publish(
                int(item["commit_id"]),
                _path(item.get("artifacts_dir")),
                _path(item.get("build_log")),
                check_mode=module.check_mode,
            )
            results.append(result.as_dict())
    out = dict(results[-1])
    if p["builds"]:
        out["builds"] = results
        out["changed"] = any(r["changed"] for r in results)
    return out


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            **REPO_OPTIONS,
            "repos_dir": {"type": "path", "required": True},
            "commit_id": {"type": "int"},
            "builds": {"type": "list", "elements": "dict"},
            "artifacts_dir": {"type": "path"},
            "build_log": {"type": "path"},
            "include_srpm": {"type": "bool", "default": True},
            "package_format": {"type": "str", "choices": ["auto", "rpm", "deb"], "default": "auto"},
            "sign": {"type": "bool", "default": True},
            "sign_packages": {"type": "bool", "default": True},
            "gpg_home": {"type": "path"},
            "gpg_key": {"type": "str", "no_log": False},  # a fingerprint, not a secret
            "deb_signed_by": {"type": "str"},
            "packages": {"type": "list", "elements": "dict"},
            "report": {"type": "bool", "default": True},
            "lock_timeout": {"default": 600.0},  # the rest from STATE_DB_OPTIONS
        },
        state_db=True,
        supports_check_mode=True,
        required_one_of=[("commit_id", "builds")],
        mutually_exclusive=[("commit_id", "builds")],
    )
    module.run(_work)


if __name__ == "__main__":
    main()
