"""A build's log: every command, its environment and its whole output, in order.

The log is the one thing a packager reads when a build fails, so it is
complete on failure too, and steps run against one deadline so a build
never outlives its timeout.

Steps also run against one disk budget: the build directory and the log
together may take ``disk_limit`` bytes.  No single file can outgrow it
(RLIMIT_FSIZE, set by util-linux's ``prlimit`` as Python offers no
thread-safe way to set a child's limit), and the runner measures the build
directory while a step runs (more often for small trees) and stops the
step when it is over; so a build can write at most what it writes between
two measurements beyond its limit.  Each step is a process group of its
own: a timeout or a full disk kills the whole group, and processes the
step left in it are killed and reported (inside the sandbox, sandbox.py
reports them).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence

from .._common.errors import DistroforgeError
from .contain import MIB, Refused, disk_usage, kill_group
from .sandbox import LEFTOVER_MARKER, LEFTOVER_RC

# How often the build directory is measured: at least every MAX, at most every MIN
# seconds, and never spending more than 1/COST_SHARE of the time measuring.
WATCH_MIN, WATCH_MAX, COST_SHARE = 0.2, 5.0, 20
# classify() reads the end of the log; a build may log gigabytes.
TEXT_TAIL = 8 * MIB


class StepFailed(DistroforgeError):
    """A build step exited non-zero or ran out of time."""


class BuildLog:
    """Append-only log file plus a deadline and a disk budget shared by the steps of one build."""

    def __init__(
        self, path: str, timeout: float, *, build_dir: str | None = None, disk_limit: int | None = None
    ) -> None:
        self.path = path
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.build_dir = build_dir
        self.disk_limit = disk_limit if build_dir is not None else None
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._handle = open(path, "ab", buffering=0)  # noqa: SIM115 - closed by close()
        self.commands: list[list[str]] = []

    def disk_used(self) -> int:
        """Bytes the build directory and this log take on disk."""
        used = os.fstat(self._handle.fileno()).st_blocks * 512
        return used + (disk_usage(self.build_dir) if self.build_dir else 0)

    def check_disk(self, what: str) -> None:
        """Refused when the build is over its disk limit."""
        if self.disk_limit is None:
            return
        used = self.disk_used()
        if used >= self.disk_limit:
            raise Refused(
                f"{what}: no space left: the build directory and log hold {used / MIB:.1f} MiB, the build's disk "
                f"limit (disk_limit) is {self.disk_limit / MIB:.1f} MiB; the step was stopped"
            )

    def _limited(self, argv: Sequence[str]) -> list[str]:
        """``argv`` with no file allowed to grow past the disk limit (when prlimit is there)."""
        prlimit = shutil.which("prlimit")
        if self.disk_limit is None or prlimit is None:
            return list(argv)
        return [prlimit, f"--fsize={self.disk_limit}", *argv]

    def _leftover_line(self) -> str | None:
        """The sandbox's report of processes a step left running, from the end of the log."""
        with open(self.path, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - 4096))
            tail = handle.read().decode(errors="replace")
        lines = [line for line in tail.splitlines() if line.startswith(LEFTOVER_MARKER)]
        return lines[-1][len(LEFTOVER_MARKER) :].strip() if lines else None

    def close(self) -> None:
        """Close the log file."""
        self._handle.close()

    def write(self, text: str) -> None:
        """Add a line of our own to the log."""
        self._handle.write(text.encode() + (b"" if text.endswith("\n") else b"\n"))

    def remaining(self) -> float:
        """Seconds left before the build's deadline."""
        return self.deadline - time.monotonic()

    def run(
        self,
        argv: Sequence[str],
        *,
        what: str,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        """Run ``argv`` with its output appended to the log; raise StepFailed (or Refused) on failure."""
        left = self.remaining()
        if left <= 0:
            raise StepFailed(f"{what}: build timed out after {self.timeout:.0f} s")
        self.write(f"\n==> {what}\n$ {shlex.join(argv)}")
        self.commands.append(list(argv))
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                self._limited(argv),
                stdout=self._handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,  # its own process group: killed as one
            )
        except FileNotFoundError:
            self.write(f"<== {what}: command not found: {argv[0]}")
            raise StepFailed(f"{what}: command not found: {argv[0]}") from None
        try:
            self._watch(proc, what)
        finally:
            left_behind = kill_group(proc.pid)
            if proc.poll() is None:  # only when _watch was interrupted
                proc.kill()
                proc.wait()
        self.write(f"<== {what}: rc {proc.returncode} in {time.monotonic() - started:.1f} s")
        self.check_disk(what)
        inside = self._leftover_line() if proc.returncode == LEFTOVER_RC else None
        if left_behind or inside:
            names = ", ".join(left_behind) if left_behind else inside
            self.write(f"<== {what}: left processes running after it ended ({names}): killed")
            raise Refused(
                f"{what}: left processes running after it ended ({names}); they were killed: "
                "a build step must not start daemons"
            )
        if proc.returncode != 0:
            raise StepFailed(f"{what} failed (rc {proc.returncode})")

    def _watch(self, proc: subprocess.Popen, what: str) -> None:
        """Wait for ``proc``; kill its process group at the deadline or when the build is over its disk limit."""
        interval = WATCH_MIN
        while True:
            try:
                proc.wait(timeout=max(0.0, min(interval, self.remaining())))
                return
            except subprocess.TimeoutExpired:
                pass
            if self.remaining() <= 0:
                killed = kill_group(proc.pid)
                proc.wait()
                self.write(
                    f"<== {what}: killed after the build timeout of {self.timeout:.0f} s "
                    f"(with its processes: {', '.join(killed) or 'none left'})"
                )
                raise StepFailed(f"{what}: build timed out after {self.timeout:.0f} s")
            if self.disk_limit is not None:
                measured = time.monotonic()
                used = self.disk_used()
                interval = min(WATCH_MAX, max(WATCH_MIN, COST_SHARE * (time.monotonic() - measured)))
                if used >= self.disk_limit:
                    kill_group(proc.pid)
                    proc.wait()
                    self.write(f"<== {what}: killed, over the build's disk limit")
                    self.check_disk(what)

    def text(self) -> str:
        """The log so far (its last TEXT_TAIL bytes)."""
        with open(self.path, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - TEXT_TAIL))
            return handle.read().decode("utf-8", errors="replace")
