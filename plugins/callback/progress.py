# Copyright: distroforge developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: progress
type: stdout
short_description: Ansible's default output, with progress lines for long steps
version_added: 0.2.0
description:
  - The default stdout callback, except while a long step runs. Instead of a
    screen of identical C(ASYNC POLL on host - jid=... finished=0) and
    C(FAILED - RETRYING) lines, it prints one line per poll saying how far the
    step is and how long it has run, for example
    C([df-node] Run Tempest - 57/151 tests done, 2 failed - 3m10s).
  - A polling task says how far it is by returning C(progress) (a short text)
    in its result, as M(distroforge.openstack.tempest_progress) does; any other
    async task gets its elapsed time.
extends_documentation_fragment:
  - default_callback
  - result_format_callback
requirements:
  - set as stdout callback in configuration (C(stdout_callback = distroforge.openstack.progress))
"""

import time

from ansible import constants as C
from ansible.plugins.callback.default import CallbackModule as DefaultCallback

from ansible_collections.distroforge.openstack.plugins.module_utils._common.jobs import short_duration as elapsed


class CallbackModule(DefaultCallback):
    """Default output; long steps print where they are instead of bare poll lines."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "distroforge.openstack.progress"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._task = None
        self._task_started = 0.0

    def v2_playbook_on_task_start(self, task, is_conditional):
        # Async polls report as an internal async_status task: name them after the task being run.
        self._task = task
        self._task_started = time.monotonic()
        super().v2_playbook_on_task_start(task, is_conditional)

    def _progress_line(self, result, text: str) -> None:
        task_name = self._task.get_name().strip() if self._task is not None else result.task_name
        since = elapsed(time.monotonic() - self._task_started)
        self._display.display(f"[{self.host_label(result)}] {task_name}: {text} - {since}", color=C.COLOR_DEBUG)

    def v2_runner_retry(self, result):
        progress = result.result.get("progress")
        if progress is None or self._run_is_verbose(result, verbosity=2):
            super().v2_runner_retry(result)
            return
        self._progress_line(result, str(progress))

    def v2_runner_on_async_poll(self, result):
        if self._run_is_verbose(result, verbosity=2):
            super().v2_runner_on_async_poll(result)
            return
        self._progress_line(result, str(result.result.get("progress") or "still running"))
