"""``DistroforgeModule``: the one place modules meet Ansible.

Modules describe their arguments and call into the engine; this class turns
engine errors into ``fail_json`` with the one-line message and the details
(rc, output tail) as extra result keys, so users never see a traceback.
"""

from __future__ import annotations

from typing import Any, Callable

from ansible.module_utils.basic import AnsibleModule

from .errors import DistroforgeError


class DistroforgeModule(AnsibleModule):
    """AnsibleModule with distroforge's error translation."""

    def run(self, work: Callable[["DistroforgeModule"], dict[str, Any]]) -> None:
        """Call ``work(self)`` and exit with its result, or fail with its error."""
        try:
            result = work(self)
        except DistroforgeError as exc:
            self.fail_json(msg=str(exc), **{k: v for k, v in exc.details.items() if k != "msg"})
        self.exit_json(**result)
