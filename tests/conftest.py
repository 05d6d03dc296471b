"""Test-suite-wide policy: in CI (CI=true) a test skips only for a reason listed in tests/allowed_skips.yml.

Elsewhere (a developer's laptop without sbuild, say) skips stay skips.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

ALLOWED_FILE = Path(__file__).with_name("allowed_skips.yml")


def allowed_reasons() -> list[re.Pattern[str]]:
    """The reason patterns CI accepts, from tests/allowed_skips.yml."""
    entries = (yaml.safe_load(ALLOWED_FILE.read_text()) or {}).get("allowed") or []
    return [re.compile(entry["reason"]) for entry in entries]


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def fail_unlisted_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Turn a skip whose reason tests/allowed_skips.yml does not list into a failure, when in CI."""
    if not (in_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = skip_reason(report)
    if any(pattern.search(reason) for pattern in allowed_reasons()):
        return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped in CI for a reason not listed in tests/allowed_skips.yml: {reason!r}; "
        "install or start what the test needs in the bootstrap or .ci/run, or list the reason there with why"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    fail_unlisted_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    # A module that skips while being imported (pytest.skip(..., allow_module_level=True), a module-level
    # pytest.importorskip) never reaches pytest_runtest_makereport: its whole file would end "skipped", exit 0.
    outcome = yield
    fail_unlisted_skip(outcome.get_result())
