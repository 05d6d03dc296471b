#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: package_generate
short_description: Write a new package's distgit (RDO-style spec and debian/) from its sdist's metadata
version_added: 0.1.0
description:
  - "What a packager starts from when a project joins the distribution. From
    the project's sdist (or a source checkout) the module reads its metadata
    with the libraries' own readers (C(PKG-INFO) by C(packaging), C(setup.cfg)
    by C(configparser), C(setup.py) by C(ast) without running it,
    C(pyproject.toml) by C(tomllib)) and writes into O(dest) a spec
    C(<name>.spec) in RDO's style (C(Version: XXX) and C(Release: XXX), which the
    build fills in from the commit as DLRN does) and a C(debian/) directory
    (C(control), C(rules) with pybuild, C(changelog), C(copyright) from the
    license metadata, C(source/format))."
  - C(requirements.txt) becomes C(Requires) and C(Depends) through the
    collection's requirement map (C(plugins/module_utils/_release/pymod2pkg.yml),
    the map M(distroforge.openstack.package_reqcheck) uses) with O(overrides)
    on top, each with upstream's minimum under the dependency's epoch when
    O(dependency_epochs) or O(base_indexes) know it; C(setup_requires) become
    build requirements; C(%files) lists the packages, modules, scripts,
    console scripts and data files the install puts in place.
  - The files come from the Jinja2 templates of a package kind (O(kind)) kept
    as data in the collection, which O(templates_dir) may extend or replace.
  - Regenerating an unchanged distgit changes nothing. A manifest
    (C(.distroforge-generated.json) in O(dest), which builds never read)
    records every generated file's sha256; a file edited by hand since is
    never overwritten - the task fails naming it and writes nothing - unless
    O(force=true). A generated file the new rendering no longer has (the spec
    of another O(rpm_name)) is removed; files the generator did not write are
    left alone.
author:
  - distroforge developers (@distroforge)
options:
  src:
    description:
      - The project's sdist (C(.tar.gz)) or source checkout (a git checkout
        is versioned as pbr versions it, see O(version)).
    type: path
    required: true
  dest:
    description: The distgit directory to write (created when missing).
    type: path
    required: true
  kind:
    description:
      - The package kind, whose templates are used. The collection's are
        C(python-library), C(python-client) (its commands named, its bash
        completion installed) and C(tempest-plugin); O(templates_dir) may add others.
    type: str
    default: python-library
  version:
    description: The version of a source checkout that is not a git checkout (an sdist states its own).
    type: str
  project:
    description: The package database's project name, for messages; default the sdist's name.
    type: str
  repo:
    description: The upstream repository's name, in the spec's C(Source0) URL; default the sdist's name.
    type: str
  rpm_name:
    description: The spec's C(Name:) (RDO's package name); default C(python-<stem>) of the map's C(python3-<stem>).
    type: str
  rpm_epoch:
    description: The spec's C(Epoch:) (none by default).
    type: int
  deb_epoch:
    description:
      - The Debian epoch of C(debian/changelog) (the build keeps it). Default
        none, or with O(base_indexes) the lowest epoch (never below the
        base's) under which this version sorts above the base's package.
    type: int
  dependency_epochs:
    description:
      - "Per format (C(rpm), C(deb)), dependency package name -> its epoch, written
        in front of the requirement's minimum, for example C({deb: {python3-oslo.config: 2}})."
      - With O(base_indexes), the base's epochs are added for the Debian
        dependencies not named here.
    type: dict
    default: {}
  base_indexes:
    description:
      - C(Packages) indexes of the Debian base distribution (plain, C(.gz), C(.xz) or
        apt's C(.lz4)), read for O(deb_epoch) and the Debian dependencies' epochs.
    type: list
    elements: path
    default: []
  overrides:
    description:
      - A reqcheck overrides file (C(ignore), C(map), see M(distroforge.openstack.package_reqcheck)),
        for requirements left out and names mapped by hand, for example a Tempest plugin's.
    type: path
  package_map:
    description: A requirement -> package map of one's own, in the format of the collection's C(pymod2pkg.yml).
    type: path
  templates_dir:
    description:
      - A directory laid out as the collection's templates (C(<kind>/spec.j2),
        C(<kind>/debian/*.j2), C(licenses.yml)); its files win over the
        collection's, and a directory there is a new kind.
    type: path
  maintainer:
    description: The packager, as C(Name <address>), in the changelogs and C(Maintainer).
    type: str
    default: distroforge packagers <packagers@distroforge.invalid>
  date:
    description:
      - The changelog entries' time, as seconds since the epoch; default the
        sdist's C(PKG-INFO) time (or the checkout's commit time), so the
        same source gives the same files.
    type: int
  distribution:
    description: The Debian distribution of the changelog entry.
    type: str
    default: bookworm
  homepage:
    description: The project's home page; default the metadata's.
    type: str
  force:
    description: Overwrite files edited by hand since they were generated.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Renders and compares; writes nothing.
  diff_mode:
    support: full
    description: Shows every file that would change, before and after.
requirements:
  - packaging
  - Jinja2
  - PyYAML
  - python-debian (for O(base_indexes))
"""

EXAMPLES = r"""
- name: Generate the packaging of oslo.config 9.0.0 for a new distgit
  distroforge.openstack.package_generate:
    src: /srv/sdists/oslo.config-9.0.0.tar.gz
    dest: /srv/distgit/oslo-config-distgit
    rpm_name: python-oslo-config
    base_indexes: [/srv/base/bookworm/main/binary-amd64/Packages.xz]
  register: generated

- name: Generate a Tempest plugin with the names of the distribution's overrides
  distroforge.openstack.package_generate:
    src: /srv/sdists/keystone_tempest_plugin-0.10.0.tar.gz
    dest: /srv/distgit/keystone-tempest-plugin-distgit
    kind: tempest-plugin
    rpm_name: python-keystone-tests-tempest
    overrides: /srv/distro/overrides.yml
"""

RETURN = r"""
dest:
  description: The distgit directory.
  returned: always
  type: str
files:
  description:
    - Every file the generator owns and what the task did to it
      (C(create), C(update), C(unchanged), C(remove), C(forced)).
  returned: always
  type: dict
  sample: {python-oslo-config.spec: create, debian/control: create}
conflicts:
  description: Files edited by hand since generated (the task fails unless O(force=true)).
  returned: always
  type: list
  elements: str
names:
  description: The package names, C(rpm_source), C(rpm_binary), C(deb_source), C(deb_binary).
  returned: always
  type: dict
version:
  description: The upstream version packaged.
  returned: always
  type: str
deb_epoch:
  description: The Debian epoch written (null without one).
  returned: always
  type: int
requires:
  description: The runtime dependencies written, per format (C(rpm), C(deb)).
  returned: always
  type: dict
"""

from collections import ChainMap
from pathlib import Path
from typing import Any, Dict, Mapping

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._packaging import (
    debian_base,
    generate,
    metadata,
    templates,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._release import pymod, reqcheck


def _epochs(params: Dict[str, Any], base: Dict[str, str]) -> Dict[str, Mapping[str, int]]:
    given = params["dependency_epochs"] or {}
    if set(given) - set(pymod.FORMATS) or not all(isinstance(v, dict) for v in given.values()):
        raise InputError("dependency_epochs: give {rpm: {package: epoch}, deb: {package: epoch}}")
    epochs: Dict[str, Mapping[str, int]] = {}
    for fmt, mapping in given.items():
        try:
            epochs[fmt] = {str(name): int(epoch) for name, epoch in mapping.items()}
        except (TypeError, ValueError):
            raise InputError(f"dependency_epochs.{fmt}: every epoch must be a whole number") from None
    if base:  # the ones given first, then the base's
        epochs["deb"] = ChainMap(dict(epochs.get("deb", {})), debian_base.BaseEpochs(base))
    return epochs


def _work(module: DistroforgeModule) -> Dict[str, Any]:
    params = module.params
    for name in ("rpm_epoch", "deb_epoch"):
        if params[name] is not None and params[name] < 0:
            raise InputError(f"{name}: an epoch is a whole number, 0 or more")
    meta = metadata.read(Path(params["src"]), params["version"])
    overrides = reqcheck.load_overrides(params["overrides"])
    pkgmap = pymod.load(Path(params["package_map"]) if params["package_map"] else None)
    names = generate.names(meta.name, pkgmap.with_overrides(overrides.mapped), params["rpm_name"] or "")
    base = debian_base.read_indexes(params["base_indexes"]) if params["base_indexes"] else {}
    deb_epoch = params["deb_epoch"]
    if deb_epoch is None and base:
        deb_epoch = debian_base.epoch_above(meta.version, base.get(names.deb_binary))
    options = generate.Options(
        kind=params["kind"],
        project=params["project"] or "",
        repo=params["repo"] or "",
        rpm_name=params["rpm_name"] or "",
        rpm_epoch=params["rpm_epoch"],
        deb_epoch=deb_epoch,
        epochs=_epochs(params, base),
        maintainer=params["maintainer"],
        date=params["date"],
        distribution=params["distribution"],
        homepage=params["homepage"] or "",
    )
    template_set = templates.TemplateSet.load(Path(params["templates_dir"]) if params["templates_dir"] else None)
    values = generate.context(meta, options, pkgmap, overrides, template_set)
    files = generate.render_context(values, template_set)
    plan = generate.plan(params["dest"], files, options.kind, force=params["force"])
    plan.refuse_conflicts()
    result: Dict[str, Any] = {
        "changed": plan.changed,
        "dest": params["dest"],
        "files": {change.path: change.action for change in plan.files},
        "conflicts": plan.conflicts,
        "names": {
            "rpm_source": names.rpm_source,
            "rpm_binary": names.rpm_binary,
            "deb_source": names.deb_source,
            "deb_binary": names.deb_binary,
        },
        "version": meta.version,
        "deb_epoch": deb_epoch,
        "requires": {"rpm": values["rpm"]["requires"], "deb": values["deb"]["depends"]},
    }
    if module._diff:
        result["diff"] = [
            {
                "before_header": f"{change.path}" if change.before is not None else f"{change.path} (absent)",
                "after_header": change.path if change.after is not None else f"{change.path} (removed)",
                "before": change.before or "",
                "after": change.after or "",
            }
            for change in plan.files
            if change.action not in ("unchanged",)
        ]
    if plan.changed and not module.check_mode:
        generate.apply(plan)
    return result


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "src": {"type": "path", "required": True},
            "dest": {"type": "path", "required": True},
            "kind": {"type": "str", "default": "python-library"},
            "version": {"type": "str"},
            "project": {"type": "str"},
            "repo": {"type": "str"},
            "rpm_name": {"type": "str"},
            "rpm_epoch": {"type": "int"},
            "deb_epoch": {"type": "int"},
            "dependency_epochs": {"type": "dict", "default": {}},
            "base_indexes": {"type": "list", "elements": "path", "default": []},
            "overrides": {"type": "path"},
            "package_map": {"type": "path"},
            "templates_dir": {"type": "path"},
            "maintainer": {"type": "str", "default": "distroforge packagers <packagers@distroforge.invalid>"},
            "date": {"type": "int"},
            "distribution": {"type": "str", "default": "bookworm"},
            "homepage": {"type": "str"},
            "force": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
