# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: run_verdict
short_description: Judge a tested hash from its deploy result and Tempest summary
version_added: 0.1.0
description:
  - The collection's one verdict rule (the one M(distroforge.openstack.run_manifest) writes into a run's
    manifest), for playbooks that test a hash without writing a run manifest, such as C(reproduce.yml).
  - C(passed) only when the deploy passed and Tempest ran at least one test (skipped tests do not count)
    with none failed, no failed phase, no damaged stream and no timeout; zero tests run is C(failed) with
    the reason C(no tests ran).
author:
  - distroforge developers (@distroforge)
positional: tempest, tempest_failure
options:
  _input:
    description: The deploy result, the C(distroforge_deploy) fact C(test_hash.yml) sets on the node.
    type: dict
    required: true
  tempest:
    description: The node's C(tempest_run_summary) fact (empty when Tempest did not run).
    type: dict
    required: true
  tempest_failure:
    description: Why the Tempest step failed (the node's C(tempest_failure) fact), or null.
    type: str
"""

EXAMPLES = r"""
- name: Judge the re-run
  ansible.builtin.set_fact:
    verdict: "{{ node.distroforge_deploy | default({'status': 'not run'})
      | distroforge.openstack.run_verdict(node.tempest_run_summary | default({}),
                                          node.tempest_failure | default(none)) }}"
  vars:
    node: "{{ hostvars['df-reproduce-node'] }}"
"""

RETURN = r"""
_value:
  description: C(verdict) (C(passed) or C(failed)) and C(reasons) (why it failed; empty when it passed).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._runs import manifest, verdict


def run_verdict(deploy, tempest, tempest_failure=None):
    """``{verdict, reasons}`` of a hash tested outside a pipeline run (no build of its own)."""
    try:
        deploy_record = manifest.deploy_from_fact(deploy, source="run_verdict")
        tempest_record = manifest.tempest_from_summary(tempest, tempest_failure, source="run_verdict")
    except InputError as exc:
        raise AnsibleFilterError(str(exc)) from None
    outcome = verdict.judge(deploy_record, tempest_record, build_failed=(), repo_hash="")
    return {"verdict": outcome.verdict, "reasons": list(outcome.reasons)}


class FilterModule:
    """run_verdict."""

    def filters(self):
        return {"run_verdict": run_verdict}
