"""Ansible async jobs as a watcher sees them: started with ``async`` and ``poll: 0``, read while they run.

A long step (a Tempest run, a build wave) runs as an async job; a small
module polls it in an ``until`` loop and says how far it is, so the screen
shows progress instead of identical poll lines.  This is the one place that
reads the job's results file the way ``async_status`` does.
"""

from __future__ import annotations

import json
import time


def job_finished(path: str) -> bool:
    """What async_status decides: the job is over once its results file is no longer the "started" stub."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        # The wrapper rewrites the file when the job ends; a half-written one means "not yet".
        return False
    return not (isinstance(data, dict) and data.get("started") and not data.get("finished"))


def wait_for_job(path: str, wait: float, step: float = 2.0) -> bool:
    """Wait up to ``wait`` seconds for the job whose results file is ``path`` to end; whether it has."""
    deadline = time.monotonic() + max(0.0, wait)
    finished = job_finished(path)
    while not finished and time.monotonic() < deadline:
        time.sleep(min(step, max(0.0, deadline - time.monotonic())))
        finished = job_finished(path)
    return finished


def short_duration(seconds: float) -> str:
    """``41s``, ``3m10s``, ``1h02m``: short enough for a progress line."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
