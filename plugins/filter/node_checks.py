# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

"""node_provision's checks: node_static_problems (and the cloud driver's plan filters).

Each filter is documented in its own ``<name>.yml`` next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._nodes import static_check


def _call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except InputError as exc:
        raise AnsibleFilterError(str(exc)) from None


def node_static_problems(python_results, become_results, addresses=None):
    """One line per static host that is not ready."""
    return _call(static_check.static_problems, python_results, become_results, addresses)


class FilterModule:
    """distroforge node check filters."""

    def filters(self):
        return {"node_static_problems": node_static_problems}
