#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: package_new_version
short_description: Propose a new upstream tag's packaging as a commit on a new distgit branch
version_added: 0.1.0
description:
  - What C(rdopkg new-version -b) does for RDO, for the spec and C(debian/) at
    once. Given a package of the database and an upstream tag (or the newest
    version tag on the package's upstream branch above the packaged version),
    makes one commit on a new branch of the distgit, by default
    C(<release>-bump-<version>), based on the package's C(distgit_branch).
  - "Spec: C(Version:) becomes the tag's version (RDO's trunk placeholder
    C(XXX) included: a stable branch states its version), C(Release: 1%{?dist}),
    a literal C(Source0) naming the old version follows, and a C(%changelog)
    entry C(<epoch:>version-1) \"Update to <version>\" is added."
  - "C(debian/changelog): a new top entry C(<epoch:>version-1) for the release's
    distribution (O(deb_distribution), else the top entry's)."
  - Pre-release tags (C(23.0.0.0rc1)) become C(23.0.0~rc1) in both formats.
  - A Fedora-style C(sources) file naming the old tarball is left as it is, with a
    warning, since its checksum is the new tarball's on the lookaside (C(fedpkg new-sources)).
  - Entries and the commit are dated at the tag (or at the packaging's newest
    changelog entry when that is newer) and signed by O(author), so a run is
    deterministic; a second run with the same tag finds the branch and changes
    nothing. The distgit's existing branches are never changed; a bump branch
    that exists with other content is refused in one line.
  - A tag that does not exist, that is not a version, or whose version sorts
    lower than the packaged one (rpm and dpkg order, the collection's vercmp)
    fails in one line naming the package and the tag.
author:
  - distroforge developers (@distroforge)
options:
  package:
    description:
      - The package, as M(distroforge.openstack.pkgdb_info) returns it with
        C(release) (C(name), C(upstream), C(distgit), C(distgit_branch),
        C(source_branch), C(release)).
    type: dict
    required: true
  tag:
    description:
      - Upstream tag to package. Without it, the newest version tag reachable
        from the package's C(source_branch) whose version sorts above the
        packaged one; none means the package is current (nothing changes).
    type: str
  author:
    description: C(Name <email>) of the changelog entries and the commit.
    type: str
    default: distroforge <builder@distroforge.invalid>
  deb_distribution:
    description: Distribution of the new C(debian/changelog) entry; default the top entry's.
    type: str
  branch:
    description:
      - Name of the new distgit branch, a template with C({release}), C({version}),
        C({tag}) and C({name}).
    type: str
    default: "{release}-bump-{version}"
  prerelease:
    description: Without O(tag), consider pre-release tags (C(rc), C(b)) too.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description:
      - Computes the bump in a scratch clone and reports it (with the files'
        diff under C(--diff)) without creating the branch.
  diff_mode:
    support: full
    description: The spec's and C(debian/changelog)'s changes.
requirements:
  - git
  - python-debian
  - packaging
"""

EXAMPLES = r"""
- name: Read the package database
  distroforge.openstack.pkgdb_info:
    path: "{{ example_root }}/rdoinfo/rdo-full.yml"
    release: zed
    name: [keystoneclient]
  register: pkgdb

- name: Propose python-keystoneclient 5.0.1 on zed-bump-5.0.1
  distroforge.openstack.package_new_version:
    package: "{{ pkgdb.packages[0] }}"
    tag: 5.0.1
    author: Release Team <release@example.org>

- name: Bump to the newest tag of the upstream branch, if any
  distroforge.openstack.package_new_version:
    package: "{{ pkgdb.packages[0] }}"
  register: bump
"""

RETURN = r"""
status:
  description: C(bumped) (branch created), C(exists) (the branch holds this bump already) or C(current) (nothing to do).
  returned: always
  type: str
  sample: bumped
package:
  description: Package name.
  returned: always
  type: str
tag:
  description: The upstream tag packaged (empty when no tag is newer than the packaged version).
  returned: always
  type: str
version:
  description: The package version the tag gives (C(~) before pre-release parts).
  returned: always
  type: str
branch:
  description: The distgit branch of the bump.
  returned: always
  type: str
  sample: zed-bump-5.0.1
upstream_commit:
  description: The commit the tag names.
  returned: always
  type: str
distgit_commit:
  description: The bump commit (computed in check mode, not pushed).
  returned: always
  type: str
old:
  description: Packaged versions before, per format (C(rpm), C(deb)), C([epoch:]version-release).
  returned: always
  type: dict
  sample: {rpm: "1:5.0.0-1", deb: "1:5.0.0-1"}
new:
  description: Packaged versions after, per format.
  returned: always
  type: dict
  sample: {rpm: "1:5.0.1-1", deb: "1:5.0.1-1"}
warnings:
  description:
    - What the bump could not do, e.g. a Fedora-style C(sources) file naming the old tarball
      (its checksum needs the new tarball on the lookaside).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._release import bump


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    result = bump.new_version(
        params["package"],
        tag=params["tag"],
        author=params["author"],
        distribution=params["deb_distribution"],
        branch_template=params["branch"],
        prerelease=params["prerelease"],
        commit=not module.check_mode,
    )
    for warning in result.warnings:
        module.warn(warning)
    out = {"changed": result.changed, **result.as_dict()}
    if module._diff and result.diff:
        out["diff"] = result.diff
    return out


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "package": {"type": "dict", "required": True},
            "tag": {"type": "str"},
            "author": {"type": "str", "default": bump.DEFAULT_AUTHOR},
            "deb_distribution": {"type": "str"},
            "branch": {"type": "str", "default": bump.DEFAULT_BRANCH},
            "prerelease": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
