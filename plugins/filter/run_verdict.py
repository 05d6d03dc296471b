# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

"""The collection's one verdict rule as filters: run_verdict and tempest_verdict.

Each filter is documented in its own ``<name>.yml`` next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._runs import manifest, verdict


def tempest_verdict(tempest, tempest_failure=None):
    """``{verdict, reasons}`` of a Tempest run alone (the tempest_run role, tempest.yml, a bisect step)."""
    try:
        tempest_record = manifest.tempest_from_summary(tempest, tempest_failure, source="tempest_verdict")
    except InputError as exc:
        raise AnsibleFilterError(str(exc)) from None
    reasons = verdict.tempest_reasons(tempest_record)
    return {"verdict": verdict.FAILED if reasons else verdict.PASSED, "reasons": reasons}


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
    """run_verdict and tempest_verdict (documented in tempest_verdict.yml next to this file)."""

    def filters(self):
        return {"run_verdict": run_verdict, "tempest_verdict": tempest_verdict}
