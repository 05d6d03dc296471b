"""How far a run of builds is: a small JSON file the runner rewrites as each build starts and ends.

The builds of one ``package_build`` call run in parallel inside one module
process; the role starts that module as an async job and polls
``build_progress``, which reads this file, so the screen shows
``builds: 2/3 done (keystone building, 41s)`` while the wave runs.

The file is replaced whole on every change (:func:`.._common.files.write_atomic`),
so a reader never sees half of one.  It is derived data, remade by every
run: written without fsync, left with the final counts when the run ends
(a reader tells an earlier run's file by its age, :func:`read_progress`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .._common.files import write_atomic
from .._common.jobs import short_duration

PROGRESS_FORMAT = 1


@dataclass
class Progress:
    """The state of a run of builds: how many of ``total`` are done, which are building since when."""

    total: int
    done: int = 0
    failed: int = 0
    # project -> wall-clock time its build started (the reader is on the same host)
    building: dict[str, float] = field(default_factory=dict)
    started: float = 0.0

    def as_json(self) -> bytes:
        """The file's content."""
        data: dict[str, Any] = {
            "format": PROGRESS_FORMAT,
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "building": self.building,
            "started": self.started,
        }
        return (json.dumps(data, sort_keys=True) + "\n").encode("utf-8")


class ProgressFile:
    """The writer: one per run, shared by the build threads (a lock orders their updates)."""

    def __init__(self, path: str | None, total: int) -> None:
        self.path = path
        self._state = Progress(total=total, started=time.time())
        self._lock = threading.Lock()
        self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        write_atomic(self.path, self._state.as_json(), 0o644, durable=False)

    def start(self, project: str) -> None:
        """``project``'s build begins."""
        with self._lock:
            self._state.building[project] = time.time()
            self._write()

    def finish(self, project: str, succeeded: bool) -> None:
        """``project``'s build is over (after its retries)."""
        with self._lock:
            self._state.building.pop(project, None)
            self._state.done += 1
            self._state.failed += 0 if succeeded else 1
            self._write()


def read_progress(path: str, not_before: float | None = None) -> Progress | None:
    """The progress in ``path``; None when there is none yet (or only one older than ``not_before``, an mtime)."""
    try:
        info = os.stat(path)
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not_before is not None and info.st_mtime < not_before:
        return None  # left by an earlier run that was killed: this run has not written yet
    if not isinstance(data, dict) or data.get("format") != PROGRESS_FORMAT:
        return None
    try:
        return Progress(
            total=int(data["total"]),
            done=int(data["done"]),
            failed=int(data["failed"]),
            building={str(k): float(v) for k, v in dict(data["building"]).items()},
            started=float(data["started"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def progress_text(progress: Progress | None, now: float | None = None) -> str:
    """One line for the screen: ``builds: 2/3 done, 1 failed (keystone building, 41s; nova building, 5s)``."""
    if progress is None:
        return "builds: starting"
    now = time.time() if now is None else now
    text = f"builds: {progress.done}/{progress.total} done"
    if progress.failed:
        text += f", {progress.failed} failed"
    # the longest-running first: the one a user waits for
    running = sorted(progress.building.items(), key=lambda item: (item[1], item[0]))
    if running:
        text += " (" + "; ".join(f"{name} building, {short_duration(now - since)}" for name, since in running) + ")"
    return text
