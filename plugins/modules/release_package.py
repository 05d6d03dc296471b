#!/usr/bin/python
# Copyright: distroforge developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: release_package
short_description: Build distroforge-release-<release>, the package that configures a node for a release's repository
version_added: 0.3.0
description:
  - Builds C(distroforge-release-<release>) as a C(.deb) or a C(.rpm) from
    variables, as C(centos-release-openstack-<release>) and C(rdo-release)
    do for RDO. It installs the repository configuration and its signing key,
    nothing else.
  - DEB - C(/etc/apt/sources.list.d/<reponame>.sources) (deb822, the flat
    repository at O(baseurl), C(Signed-By) the key),
    C(/usr/share/keyrings/<reponame>-archive-keyring.gpg) and
    C(/etc/apt/preferences.d/<reponame>.pref), which pins the repository
    (O(origin), O(suite)) at O(priority) above the base distribution, which
    ships the same OpenStack release at times with higher versions.
  - RPM - C(/etc/yum.repos.d/<reponame>.repo) (C(gpgcheck=1),
    C(repo_gpgcheck=1)) and C(/etc/pki/rpm-gpg/RPM-GPG-KEY-<reponame>).
  - Reproducible - every timestamp is O(source_date_epoch) (by default the
    key's creation time), so the same inputs give the same bytes. The
    package in O(dest) is replaced only when those bytes differ.
author:
  - distroforge developers (@distroforge)
options:
  release:
    description: The release's name, for example C(zed).
    type: str
    required: true
  baseurl:
    description: URL of the release's repository (a flat repository for DEB).
    type: str
    required: true
  format:
    description: The package format.
    type: str
    required: true
    choices: [deb, rpm]
  key_src:
    description: The repository's ASCII-armored public key file on this host (C(RPM-GPG-KEY-<reponame>) as published).
    type: path
  key:
    description: The ASCII-armored public key itself.
    type: str
  fingerprints:
    description: When set, the key must hold exactly these primary keys (full fingerprints).
    type: list
    elements: str
  dest:
    description: Directory the package is written to.
    type: path
    required: true
  reponame:
    description: The repository's id and the name of its files; default C(distroforge-<release>).
    type: str
    default: ""
  version:
    description: The package's version.
    type: str
    default: "1"
  revision:
    description: The package's Debian revision / RPM release.
    type: str
    default: "1"
  source_date_epoch:
    description: Timestamp of everything in the package (seconds since 1970); default the key's creation time.
    type: int
  maintainer:
    description: Maintainer (DEB) and Packager (RPM).
    type: str
    default: distroforge <distroforge@localhost>
  origin:
    description:
      - DEB - the C(Origin) of the repository's C(Release) file, which the pin matches (stages publish C(distroforge)).
    type: str
    default: distroforge
  suite:
    description:
      - DEB - the C(Suite) of the repository's C(Release) file, which the pin matches; default C(<release>-release).
    type: str
    default: ""
  priority:
    description:
      - DEB - the pin's priority. Above 1000, the repository's packages win even over higher versions of the
        base distribution. V(0) leaves the pin out.
    type: int
    default: 1001
attributes:
  check_mode:
    support: full
    description: Builds in a scratch directory and reports whether the package in O(dest) would change.
  diff_mode:
    support: full
    description: Shows the package's size before and after.
notes:
  - Needs C(dpkg-deb) (DEB) or C(rpmbuild) (RPM) on the host.
"""

EXAMPLES = r"""
- name: Build the zed release package for Debian
  distroforge.openstack.release_package:
    release: zed
    baseurl: http://repo.example.org/repos/zed/release
    key_src: /var/lib/distroforge/data/repos/RPM-GPG-KEY-delorean
    format: deb
    dest: /var/lib/distroforge/data/release-packages
"""

RETURN = r"""
path:
  description: The package file.
  returned: always
  type: str
  sample: /var/lib/distroforge/data/release-packages/distroforge-release-zed_1-1_all.deb
name:
  description: The package's name.
  returned: always
  type: str
  sample: distroforge-release-zed
files:
  description: The paths the package installs.
  returned: always
  type: list
  elements: str
  sample:
    - /etc/apt/preferences.d/distroforge-zed.pref
    - /etc/apt/sources.list.d/distroforge-zed.sources
    - /usr/share/keyrings/distroforge-zed-archive-keyring.gpg
fingerprints:
  description: Fingerprints of the key it installs.
  returned: always
  type: list
  elements: str
sha256:
  description: Checksum of the package file.
  returned: always
  type: str
source_date_epoch:
  description: The timestamp used.
  returned: always
  type: int
"""

import hashlib
import os
from typing import Any, Dict, Optional

from ansible_collections.distroforge.openstack.plugins.module_utils._common import openpgp
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._release.release_package import (
    ReleasePackage,
    build,
)


def _key(params: Dict[str, Any]) -> bytes:
    if params["key"] is not None:
        return params["key"].encode("utf-8")
    try:
        with open(params["key_src"], "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise InputError(
            f"key_src: cannot read {params['key_src']} ({exc.strerror}); give the key file's path"
        ) from None


def _shown(data: Optional[bytes]) -> str:
    return "" if data is None else f"package of {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}\n"


def _work(module: DistroforgeModule) -> Dict[str, Any]:
    params = module.params
    key = _key(params)
    if params["fingerprints"]:
        openpgp.check(key, params["fingerprints"], params["key_src"] or "key")
    built = build(
        ReleasePackage(
            release=params["release"],
            baseurl=params["baseurl"],
            key=key,
            fmt=params["format"],
            reponame=params["reponame"],
            version=params["version"],
            revision=params["revision"],
            source_date_epoch=params["source_date_epoch"],
            maintainer=params["maintainer"],
            origin=params["origin"],
            suite=params["suite"],
            priority=params["priority"],
        )
    )
    path = os.path.join(params["dest"], built.file_name)
    changed = module.write_unless_check(path, built.data, mode=0o644, option="dest", shown=_shown)
    return {
        "changed": changed,
        "path": path,
        "name": built.name,
        "files": list(built.files),
        "fingerprints": list(built.fingerprints),
        "sha256": hashlib.sha256(built.data).hexdigest(),
        "source_date_epoch": built.source_date_epoch,
    }


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "release": {"type": "str", "required": True},
            "baseurl": {"type": "str", "required": True},
            "format": {"type": "str", "required": True, "choices": ["deb", "rpm"]},
            "key_src": {"type": "path"},
            "key": {"type": "str", "no_log": False},  # a public key: nothing secret to hide
            "fingerprints": {"type": "list", "elements": "str"},
            "dest": {"type": "path", "required": True},
            "reponame": {"type": "str", "default": ""},
            "version": {"type": "str", "default": "1"},
            "revision": {"type": "str", "default": "1"},
            "source_date_epoch": {"type": "int"},
            "maintainer": {"type": "str", "default": "distroforge <distroforge@localhost>"},
            "origin": {"type": "str", "default": "distroforge"},
            "suite": {"type": "str", "default": ""},
            "priority": {"type": "int", "default": 1001},
        },
        required_one_of=[("key_src", "key")],
        mutually_exclusive=[("key_src", "key")],
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
