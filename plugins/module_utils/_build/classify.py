"""FAILED or RETRY: what a failed build's log says about the failure.

Some failures are the world's fault, not the package's (a mirror that
timed out, a full disk, a killed builder): DLRN retries those.  Which ones
is data — a list of regular expressions the role passes in
(``roles/package_build/vars/retry_patterns.yml``) — not code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .._common.errors import InputError
from .._common.proc import last_error_line

TAIL_LINES = 40


@dataclass(frozen=True)
class Verdict:
    """How a failed build is classified, and why."""

    status: str  # FAILED or RETRY
    error: str  # the telling line
    matched: str | None  # the RETRY pattern that matched
    log_tail: str


def compile_patterns(patterns: Sequence[str]) -> list[re.Pattern[str]]:
    """Compile the RETRY patterns; a bad one is named with its index."""
    compiled = []
    for index, pattern in enumerate(patterns):
        try:
            compiled.append(re.compile(pattern, re.MULTILINE))
        except re.error as exc:
            raise InputError(f"retry_patterns[{index}]: '{pattern}' is not a valid regular expression: {exc}") from None
    return compiled


def classify(
    log_text: str, patterns: Sequence[re.Pattern[str]], step_error: str = "", *, decisive: bool = False
) -> Verdict:
    """Classify a failed build from its log.

    ``decisive``: the engine refused what the build did (contain.Refused):
    ``step_error`` is the error, whatever the log says, and never retried.
    """
    tail = "\n".join(log_text.splitlines()[-TAIL_LINES:])
    if decisive:
        return Verdict("FAILED", step_error, None, tail)
    for pattern in patterns:
        match = pattern.search(log_text)
        if match:
            line_start = log_text.rfind("\n", 0, match.start()) + 1
            line_end = log_text.find("\n", match.end())
            line = log_text[line_start : line_end if line_end != -1 else len(log_text)].strip()
            return Verdict("RETRY", line or step_error, pattern.pattern, tail)
    # Our own step markers ("==> ", "<== ") are not the package's error.
    body = "\n".join(ln for ln in log_text.splitlines() if not ln.startswith(("==> ", "<== ", "$ ", "BUILD FAILED")))
    if "timed out" in step_error:  # the log's last lines are whatever was running
        return Verdict("FAILED", step_error, None, tail)
    return Verdict("FAILED", last_error_line(body, fallback_last=False) or step_error, None, tail)
