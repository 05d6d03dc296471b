"""A build's log: every command, its environment and its whole output, in order.

The log is the one thing a packager reads when a build fails, so it is
complete on failure too, and steps run against one deadline so a build
never outlives its timeout.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Mapping, Sequence

from .._common.errors import DistroforgeError


class StepFailed(DistroforgeError):
    """A build step exited non-zero or ran out of time."""


class BuildLog:
    """Append-only log file plus a deadline shared by the steps of one build."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._handle = open(path, "ab", buffering=0)  # noqa: SIM115 - closed by close()
        self.commands: list[list[str]] = []

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
        """Run ``argv`` with its output appended to the log; raise StepFailed on failure."""
        left = self.remaining()
        if left <= 0:
            raise StepFailed(f"{what}: build timed out after {self.timeout:.0f} s")
        self.write(f"\n==> {what}\n$ {shlex.join(argv)}")
        self.commands.append(list(argv))
        started = time.monotonic()
        try:
            proc = subprocess.run(
                list(argv),
                stdout=self._handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                timeout=left,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self.write(f"<== {what}: killed after the build timeout of {self.timeout:.0f} s")
            raise StepFailed(f"{what}: build timed out after {self.timeout:.0f} s") from None
        except FileNotFoundError:
            self.write(f"<== {what}: command not found: {argv[0]}")
            raise StepFailed(f"{what}: command not found: {argv[0]}") from None
        self.write(f"<== {what}: rc {proc.returncode} in {time.monotonic() - started:.1f} s")
        if proc.returncode != 0:
            raise StepFailed(f"{what} failed (rc {proc.returncode})")

    def text(self) -> str:
        """The log so far."""
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
