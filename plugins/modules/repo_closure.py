#!/usr/bin/python
# Copyright: distroforge developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: repo_closure
short_description: Refuse a repository whose packages cannot all be installed from it plus the base distribution
version_added: 0.3.0
description:
  - Checks that every C(Depends)/C(Requires) of every package in a published
    repository resolves within that repository plus the base distribution,
    with the distributions' own solvers.
  - DEB (a flat repository with C(Packages)) - C(dose-debcheck), the
    repository checked, the base distribution's C(Packages) indexes
    (O(base_indexes), O(base_index_urls)) used to resolve.
  - RPM (C(repodata/repomd.xml)) - C(dnf repoclosure) on a throw-away
    installroot; the base is the repository itself plus the capabilities
    listed in O(provides) (no EL mirror is reachable to resolve against).
  - A repository with a package that cannot be installed fails in one line
    naming the package and its missing dependency; the result's RV(broken)
    lists every problem.
author:
  - distroforge developers (@distroforge)
options:
  path:
    description: Directory of the published repository.
    type: path
    required: true
  format:
    description: C(deb) or C(rpm); by default read from the repository's metadata files.
    type: str
    choices: [deb, rpm]
  base_indexes:
    description:
      - DEB - C(Packages) files (plain, C(.gz) or C(.xz)) of the base distribution, on this host.
    type: list
    elements: path
    default: []
  base_index_urls:
    description:
      - DEB - URLs of the base distribution's C(Packages) indexes, for example
        C(http://deb.debian.org/debian/dists/bookworm/main/binary-amd64/Packages.xz).
      - Each is downloaded once into O(cache_dir) and used from there afterwards
        (O(refresh) downloads again).
    type: list
    elements: str
    default: []
  cache_dir:
    description: Where O(base_index_urls) are kept. Needed with O(base_index_urls).
    type: path
  refresh:
    description: Download O(base_index_urls) again even when cached.
    type: bool
    default: false
  provides:
    description:
      - Capabilities the base provides beyond its indexes (RPM - the whole base),
        as C(name) or C(name = version) (RPM) / C(name (= version)) (DEB).
    type: list
    elements: str
    default: []
  arch:
    description: DEB - the native architecture packages are installed on.
    type: str
    default: amd64
  timeout:
    description: Seconds a solver (or a download) may take.
    type: int
    default: 600
attributes:
  check_mode:
    support: full
    description: The check reads only; O(base_index_urls) not cached yet are downloaded to a scratch directory.
  diff_mode:
    support: none
    description: Nothing on the host changes.
notes:
  - Needs C(dose-debcheck) (Debian package C(dose-distcheck)) for DEB and
    C(dnf) with C(dnf-plugins-core), C(rpmbuild) and C(createrepo_c) for RPM.
"""

EXAMPLES = r"""
- name: Refuse the candidate stage unless every package installs on bookworm
  distroforge.openstack.repo_closure:
    path: /var/lib/distroforge/data/repos/zed/candidate
    base_index_urls:
      - http://deb.debian.org/debian/dists/bookworm/main/binary-amd64/Packages.xz
    cache_dir: /var/cache/distroforge/base-indexes

- name: Check an RPM stage against the capabilities of the EL base
  distroforge.openstack.repo_closure:
    path: /var/lib/distroforge/data/repos/zed/candidate
    provides: [/bin/sh, python3, "python(abi) = 3.9"]
"""

RETURN = r"""
format:
  description: The repository's format.
  returned: always
  type: str
  sample: deb
checked:
  description: How many packages were checked.
  returned: always
  type: int
  sample: 12
broken:
  description: Every reason a package cannot be installed (also when the task fails).
  returned: always
  type: list
  elements: dict
  sample: [{package: python3-keystone, version: "2:22.0.2-1", missing: "python3-oslo.db (>= 12.1.0)",
            needed_by: python3-keystone}]
base_indexes:
  description: The base indexes used, downloaded ones from the cache.
  returned: always
  type: list
  elements: str
"""

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, List

from ansible.module_utils.urls import fetch_url

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.files import write_atomic
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._release import closure


def _cached(module: DistroforgeModule, url: str, cache_dir: str, scratch: str) -> str:
    """The index at ``url``, downloaded into ``cache_dir`` once (named by the URL, keeping its suffix).

    Check mode writes nothing of ours: an index not cached yet is fetched into ``scratch``.
    """
    name = f"{hashlib.sha256(url.encode('utf-8')).hexdigest()[:16]}-{url.rstrip('/').rsplit('/', 1)[-1]}"
    path = os.path.join(cache_dir, name)
    if os.path.isfile(path) and not module.params["refresh"]:
        return path
    if module.check_mode:
        path = os.path.join(scratch, name)
    response, info = fetch_url(module, url, timeout=module.params["timeout"])
    if info.get("status") != 200 or response is None:
        raise InputError(f"base_index_urls: {url} answered {info.get('status')} ({info.get('msg', '')}); check the URL")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, response.read(), 0o644, durable=False)
    return path


def _work(module: DistroforgeModule) -> Dict[str, Any]:
    params = module.params
    indexes: List[str] = list(params["base_indexes"])
    if params["base_index_urls"] and not params["cache_dir"]:
        raise InputError("cache_dir: give a directory to keep the base indexes in (base_index_urls is set)")
    with tempfile.TemporaryDirectory(prefix="distroforge-closure-cache-") as scratch:
        indexes += [_cached(module, url, params["cache_dir"], scratch) for url in params["base_index_urls"]]
        report = closure.check(
            Path(params["path"]),
            fmt=params["format"],
            base_indexes=[Path(index) for index in indexes],
            provides=params["provides"],
            arch=params["arch"],
            timeout=params["timeout"],
        )
    if not report.ok:
        raise report.error()
    return {"changed": False, "format": report.fmt, "checked": report.checked, "broken": [], "base_indexes": indexes}


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "format": {"type": "str", "choices": ["deb", "rpm"]},
            "base_indexes": {"type": "list", "elements": "path", "default": []},
            "base_index_urls": {"type": "list", "elements": "str", "default": []},
            "cache_dir": {"type": "path"},
            "refresh": {"type": "bool", "default": False},
            "provides": {"type": "list", "elements": "str", "default": []},
            "arch": {"type": "str", "default": "amd64"},
            "timeout": {"type": "int", "default": 600},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
