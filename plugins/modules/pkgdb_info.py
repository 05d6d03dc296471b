#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pkgdb_info
short_description: Read a package database in the rdoinfo format
version_added: 0.1.0
description:
  - Reads a package database written in the rdoinfo format (the one RDO keeps
    in redhat-openstack/rdoinfo) through the C(distroinfo) library, as DLRN
    does, including imported files, C(package-default), C(package-configs)
    templates with C(conf:), and per-release C(tags) overrides.
  - Validates it first; every problem is reported on one line naming the file,
    the package and the field (YAML syntax errors with their line).
  - Imports are paths relative to the folder of O(path) and must stay inside it,
    symbolic links included. Files must be UTF-8; a key given twice in one
    mapping and YAML aliases expanding to more than 100,000 extra values are
    refused. In template values, a C(%) that starts no field reference and is
    not doubled (C(%%)) is refused.
  - The public rdoinfo database loads unchanged.
author:
  - distroforge developers (@distroforge)
options:
  path:
    description: Entry file of the database, for example C(rdo-full.yml); its C(import:) list is followed.
    type: path
    required: true
  release:
    description:
      - Keep only the packages tagged for this release and apply the release's
        tag overrides (C(source-branch), C(component), ...).
      - Adds C(release) to each package; the release's C(upstream_branch) and
        C(branch) become the packages' C(source_branch) and C(distgit_branch)
        unless a package overrides them.
    type: str
  name:
    description: Keep only these packages (package names or project names). Naming an unknown package fails.
    type: list
    elements: str
  source_branch:
    description:
      - Upstream branch of packages that name none and whose release names no
        C(upstream_branch) (DLRN's C(source=) in C(projects.ini)).
    type: str
    default: master
  distgit_branch:
    description:
      - Packaging branch of packages that name none and whose release names no
        C(branch) (DLRN's C(distro=) in C(projects.ini)).
    type: str
    default: rpm-master
  extra_tags:
    description: Tags that are not releases but may appear on packages.
    type: list
    elements: str
    default: [dependency, under-review, version-locked, build-tags-only]
  cache_dir:
    description:
      - Where parsed files are kept between runs, keyed by path, size and mtime.
        Loading the 1,400-package public database drops from about 1.3 s to 0.3 s.
      - Set to an empty string to disable the cache. Check mode does without it (it writes nothing).
    type: path
    default: ~/.cache/distroforge/pkgdb
attributes:
  check_mode:
    support: full
    description: Reads only, and without the parse cache of O(cache_dir) (which it would write).
  diff_mode:
    support: none
    description: Reads only.
requirements:
  - distroinfo
"""

EXAMPLES = r"""
- name: Read the packages of the zed release
  distroforge.openstack.pkgdb_info:
    path: examples/distro/rdo-full.yml
    release: zed
  register: pkgdb

- name: Show one package's upstream
  ansible.builtin.debug:
    msg: "{{ (pkgdb.packages | selectattr('project', 'equalto', 'keystone') | first).upstream }}"
"""

RETURN = r"""
packages:
  description:
    - The packages, each with the rdoinfo fields after template expansion plus
      the keys below.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Package name.
      type: str
    project:
      description: Upstream project name.
      type: str
    upstream:
      description: Upstream git URL.
      type: str
    distgit:
      description: Packaging git URL (C(master-distgit) after template expansion).
      type: str
    maintainers:
      description: Maintainer e-mail addresses.
      type: list
      elements: str
    tags:
      description: Names of the tags (releases) the package has.
      type: list
      elements: str
    source_branch:
      description: Upstream branch, tag or commit to build.
      type: str
    distgit_branch:
      description: Packaging branch.
      type: str
releases:
  description: The C(releases) entries of the database.
  returned: always
  type: list
  elements: dict
files:
  description: Every file read, entry file first.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._pkgdb import loader


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    # The parse cache is written as it is read: check mode, which writes nothing, does without it.
    cache_dir = None if module.check_mode else params["cache_dir"] or None
    db = loader.read(
        params["path"],
        release=params["release"],
        names=params["name"],
        extra_tags=tuple(params["extra_tags"]),
        cache_dir=cache_dir,
        source_branch=params["source_branch"],
        distgit_branch=params["distgit_branch"],
    )
    return {"changed": False, "packages": db.packages, "releases": db.releases, "files": db.files}


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "release": {"type": "str"},
            "name": {"type": "list", "elements": "str"},
            "extra_tags": {
                "type": "list",
                "elements": "str",
                "default": ["dependency", "under-review", "version-locked", "build-tags-only"],
            },
            "cache_dir": {"type": "path", "default": "~/.cache/distroforge/pkgdb"},
            "source_branch": {"type": "str", "default": "master"},
            "distgit_branch": {"type": "str", "default": "rpm-master"},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
