# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: buildinfo_compare
short_description: Compare a rebuild's buildinfo.json with the one a run recorded
version_added: 0.1.0
description:
  - Compares the outputs (name and sha256) of two C(buildinfo.json) documents written by
    M(distroforge.openstack.package_build) - a rebuild (the input) and the recorded build.
  - C(identical) is true when every package output (C(.deb), C(.rpm), C(.src.rpm), C(.dsc),
    source tarballs) has the same sha256 and none appeared or vanished. Build metadata
    (C(.buildinfo) and C(.changes), which list the builder's installed packages) is reported
    in C(metadata_differ) but does not decide.
  - C(toolchain_changes) names the tools whose versions differ, the usual reason for a
    different package.
author:
  - distroforge developers (@distroforge)
positional: recorded
options:
  _input:
    description: The rebuild's buildinfo.json, as a dict (at least C(outputs)).
    type: dict
    required: true
  recorded:
    description: The recorded buildinfo.json (or C({outputs, toolchain})) to compare with.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Compare a rebuild with the recorded build
  ansible.builtin.debug:
    msg: "{{ lookup('ansible.builtin.file', 'new/buildinfo.json') | from_json
      | distroforge.openstack.buildinfo_compare(lookup('ansible.builtin.file', 'old/buildinfo.json') | from_json) }}"
"""

RETURN = r"""
_value:
  description:
    - C(identical) (bool), C(differ) (package outputs whose sha256 differ or that are missing on one side),
      C(metadata_differ), C(outputs) (C(name), C(kind), C(recorded), C(rebuilt), C(same) each) and
      C(toolchain_changes) (tool to C({recorded, rebuilt})).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.distroforge.openstack.plugins.module_utils._reproduce import compare


def buildinfo_compare(rebuilt, recorded):
    """Output-by-output comparison of a rebuild with the recorded build."""
    if not isinstance(rebuilt, dict) or not isinstance(recorded, dict):
        raise AnsibleFilterError("buildinfo_compare: give two buildinfo.json documents as dicts (from_json)")
    return compare(rebuilt, recorded)


class FilterModule:
    """buildinfo_compare."""

    def filters(self):
        return {"buildinfo_compare": buildinfo_compare}
