#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: package_reqcheck
short_description: Check an upstream tag's requirements against the package's dependencies
version_added: 0.1.0
description:
  - What C(rdopkg reqcheck) does for RDO, for the spec and C(debian/control)
    at once. The upstream's C(requirements.txt) (runtime) and
    C(test-requirements.txt) (build) at O(tag) are parsed as PEP 508
    requirements by the C(packaging) library (extras, specifiers, environment
    markers evaluated for each format's target Python), mapped to package
    names through the collection's map kept as data
    (C(plugins/module_utils/_release/pymod2pkg.yml), RPM and DEB names) and
    looked up among the spec's C(Requires)/C(BuildRequires) (read by rpm) and
    the control file's C(Depends)/C(Build-Depends) (read by python-debian).
  - "Each requirement is C(met) (packaged minimum at least upstream's),
    C(any_version) (packaged without a version while upstream wants one),
    C(mismatch) (packaged minimum lower than upstream's) or C(missing); a
    packaged Python library no line asks for is C(excess); a requirement of the
    packaged version's tag that the new tag dropped is C(removed)."
  - "O(overrides) is a YAML file: C(ignore) (requirement or package names not
    checked), C(ignore_build) (the same for test requirements only), C(map)
    (requirement → package name or C({rpm: ..., deb: ...})), and the same keys
    per package under C(packages.<package name>)."
  - A requirement line that does not parse fails in one line naming the file,
    the line and the tag.
author:
  - distroforge developers (@distroforge)
options:
  package:
    description: The package, as M(distroforge.openstack.pkgdb_info) returns it with C(release).
    type: dict
    required: true
  tag:
    description: Upstream tag whose requirements are checked; default the tag of the packaged version.
    type: str
  distgit_ref:
    description:
      - Distgit branch whose packaging is checked; default the bump branch of
        O(tag) (see M(distroforge.openstack.package_new_version)) when it
        exists, else the package's C(distgit_branch).
    type: str
  branch:
    description: Name template of bump branches (as in M(distroforge.openstack.package_new_version)).
    type: str
    default: "{release}-bump-{version}"
  overrides:
    description: The overrides file (see above).
    type: path
  check:
    description: What to check, runtime (C(requirements.txt)) and/or build (C(test-requirements.txt)).
    type: list
    elements: str
    choices: [runtime, build]
    default: [runtime, build]
  formats:
    description: Packaging formats to check (those the distgit has).
    type: list
    elements: str
    choices: [rpm, deb]
    default: [rpm, deb]
  python_version:
    description:
      - Python version environment markers are evaluated for, per format, for example
        C(rpm=3.9) and C(deb=3.11) as a dict; default the map's (EL9's 3.9, bookworm's 3.11).
    type: dict
  package_map:
    description:
      - A requirement → package name map of one's own, in the format of the
        collection's C(plugins/module_utils/_release/pymod2pkg.yml) (which is the default);
        O(overrides) still apply on top of it.
    type: path
  fail_on:
    description: Fail when any finding has one of these statuses (after the report is made).
    type: list
    elements: str
    choices: [missing, mismatch, any_version, excess, removed]
    default: []
attributes:
  check_mode:
    support: full
    description: Reads only; the same in check mode.
  diff_mode:
    support: none
    description: Reads only.
requirements:
  - git
  - python-debian
  - packaging
"""

EXAMPLES = r"""
- name: Check python-keystoneclient 5.0.1's requirements against its bump branch
  distroforge.openstack.package_reqcheck:
    package: "{{ pkgdb.packages[0] }}"
    tag: 5.0.1
    overrides: "{{ playbook_dir }}/reqcheck-overrides.yml"
    fail_on: [missing, mismatch]
  register: reqcheck

- name: Show the report
  ansible.builtin.debug:
    msg: "{{ reqcheck.text.splitlines() }}"
"""

RETURN = r"""
package:
  description: Package name.
  returned: always
  type: str
tag:
  description: The upstream tag checked.
  returned: always
  type: str
old_tag:
  description: The packaged version's tag removed requirements are counted against (null when upstream has none).
  returned: always
  type: str
counts:
  description: How many findings of each status over every format and kind.
  returned: always
  type: dict
  sample: {met: 12, any_version: 10, mismatch: 0, missing: 1, excess: 2, removed: 0}
findings:
  description:
    - Per format (C(rpm), C(deb)) and kind (C(runtime), C(build)), the findings,
      each with C(status), C(package), C(requirement), C(required), C(packaged), C(note).
  returned: always
  type: dict
text:
  description: The report as text, one heading per status, as C(rdopkg reqcheck) prints it.
  returned: always
  type: str
failing:
  description: The findings whose status is in O(fail_on).
  returned: always
  type: list
  elements: dict
"""

from pathlib import Path

from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._release import bump, pymod


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    report = bump.reqcheck_package(
        params["package"],
        tag=params["tag"],
        distgit_ref=params["distgit_ref"],
        overrides=params["overrides"],
        kinds=tuple(params["check"]),
        formats=tuple(params["formats"]),
        python_version={str(k): str(v) for k, v in (params["python_version"] or {}).items()},
        branch_template=params["branch"],
        pkgmap=pymod.load(Path(params["package_map"])) if params["package_map"] else None,
    )
    failing = report.failing(params["fail_on"])
    out = {"changed": False, **report.as_dict(), "text": report.text(), "failing": [f.as_dict() for f in failing]}
    if failing:
        shown = ", ".join(f"{f.status} {f.package}" for f in failing[:5]) + (" ..." if len(failing) > 5 else "")
        out["msg"] = (
            f"{report.package} {report.tag}: {len(failing)} finding(s) with a status in fail_on ({shown}); "
            "fix the packaging or list them in the overrides file"
        )
        module.fail_json(**out)
    return out


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "package": {"type": "dict", "required": True},
            "tag": {"type": "str"},
            "distgit_ref": {"type": "str"},
            "branch": {"type": "str", "default": bump.DEFAULT_BRANCH},
            "overrides": {"type": "path"},
            "check": {
                "type": "list",
                "elements": "str",
                "choices": ["runtime", "build"],
                "default": ["runtime", "build"],
            },
            "formats": {"type": "list", "elements": "str", "choices": ["rpm", "deb"], "default": ["rpm", "deb"]},
            "python_version": {"type": "dict"},
            "package_map": {"type": "path"},
            "fail_on": {
                "type": "list",
                "elements": "str",
                "choices": ["missing", "mismatch", "any_version", "excess", "removed"],
                "default": [],
            },
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
