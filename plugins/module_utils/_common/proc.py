"""Running external commands with bounded time and useful failure messages."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from typing import Mapping, Sequence

from .errors import CommandError


@dataclass(frozen=True)
class Result:
    """What a finished command returned."""

    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str


# "E: ..." (apt), "error: ..." (rpm, git), "dpkg-checkbuilddeps: error: ..." (dpkg tools), "fatal: ..." (git)
_ROOT_CAUSE = re.compile(r"^(E:|error:|ERROR\b|fatal:|[\w.-]+: error: )", re.IGNORECASE)
_ERRORISH = re.compile(r"error|failed|cannot|unable|not found", re.IGNORECASE)


def last_error_line(text: str, *, fallback_last: bool = True) -> str:
    """Return the most telling line of a command's output.

    Tools such as apt, rpmbuild and git print the root cause first and
    generic wrappers ("mmdebstrap failed to run") after it, so the first
    ``E:``/``error:`` line wins; otherwise the last line that reads like an
    error; otherwise the last line (or "" without ``fallback_last``).
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in lines:
        if _ROOT_CAUSE.match(line):
            return line
    for line in reversed(lines):
        if _ERRORISH.search(line):
            return line
    return lines[-1] if lines and fallback_last else ""


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    what: str = "",
) -> Result:
    """Run ``argv`` and capture its output.

    With ``check`` a non-zero exit or a timeout raises :class:`CommandError`
    whose message is ``what`` followed by the telling line of the output.
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    label = what or argv[0]
    try:
        proc = subprocess.run(
            list(argv),
            env=full_env,
            cwd=cwd,
            timeout=timeout,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
    except FileNotFoundError as exc:
        raise CommandError(f"{label}: command not found: {argv[0]} (run `make` to bootstrap the machine)") from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandError(f"{label}: timed out after {timeout:.0f} s", argv=list(argv)) from exc
    result = Result(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        line = last_error_line(proc.stderr) or last_error_line(proc.stdout)
        raise CommandError(
            f"{label} failed (rc {proc.returncode}): {line}",
            argv=list(argv),
            rc=proc.returncode,
            stdout_tail=proc.stdout[-4000:],
            stderr_tail=proc.stderr[-4000:],
        )
    return result
