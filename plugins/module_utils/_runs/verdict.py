"""The verdict rule: did the tested repository pass, and was it the one this run meant to test?

The one place that decides. A hash passes only when its deploy passed and
Tempest ran at least one test (a skipped test did not run) with no failure,
no unexpected success, no failed phase, no damaged stream and no timeout.
:func:`test_reasons` is that rule over a Tempest run's counts: the
``tempest_results`` module's ``success`` is made with it, and the
``tempest_verdict`` and ``run_verdict`` filters and the ``run_manifest``
module judge with :func:`tempest_reasons`, so the ``tempest_run`` role,
``tempest.yml``, the bisect and the pipeline cannot disagree. Older
``tempest_results`` flagged a run whose every test was skipped as a
success, and manifests keep what they were given: the counts are judged
again rather than the flag trusted.

A run whose own build failed tests ``repos/current``, which then still
points at the last repository that built: the verdict is about that older
hash, and says so (``tested_hash_is_older`` and a reason naming the failed
builds), so it is never read as a pass of what the run built.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Iterable, List, Mapping, Optional, Sequence, Tuple

if TYPE_CHECKING:  # the records live in .manifest, which imports this module
    from .manifest import Deploy, Tempest

PASSED = "passed"
FAILED = "failed"
# Build states of the state DB a run can leave a build in (build_record's rows).
BUILD_SUCCESS = "SUCCESS"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The outcome of a run: the tested hash's verdict, and whether it was older than the run meant."""

    verdict: str
    reasons: Tuple[str, ...]  # why the verdict is failed; empty when it passed
    tested_hash_note: Optional[str] = None  # set when the run's own build failed

    @property
    def passed(self) -> bool:
        """The tested hash passed (it may still be older than this run's builds)."""
        return self.verdict == PASSED

    @property
    def tested_hash_is_older(self) -> bool:
        """This run's build failed, so it tested an older repository than it meant to."""
        return self.tested_hash_note is not None

    @property
    def run_passed(self) -> bool:
        """The run did what it meant: it tested its own builds, and they passed."""
        return self.passed and not self.tested_hash_is_older


def build_failures(recorded: Iterable[Mapping[str, Any]]) -> List[str]:
    """Projects whose newest build in this run did not succeed (``build_record``'s ``recorded`` rows).

    FAILED and RETRY both count: neither reached ``repos/current``. A project
    built twice in one run (two commits) counts by its newest commit.
    """
    newest: dict[str, Mapping[str, Any]] = {}
    for row in recorded:
        project = str(row.get("project") or "")
        if not project:
            continue
        key = (row.get("dt_commit") or 0, row.get("id") or 0)
        known = newest.get(project)
        if known is None or key >= (known.get("dt_commit") or 0, known.get("id") or 0):
            newest[project] = row
    return [project for project, row in newest.items() if row.get("status") != BUILD_SUCCESS]


def older_hash_reason(build_failed: Sequence[str], repo_hash: str) -> str:
    """The sentence a run whose own build failed prints instead of a bare verdict."""
    return (
        f"the build of {', '.join(build_failed)} failed in this run;"
        f" tested {repo_hash}, the last good repository, instead"
    )


def test_reasons(
    *,
    total: int,
    skipped: int = 0,
    failed: int = 0,
    uxsuccess: int = 0,
    corrupt: bool = False,
    failed_phases: Sequence[str] = (),
    timed_out: bool = False,
    failure: Optional[str] = None,
    reason: Optional[str] = None,
) -> List[str]:
    """Why a Tempest run with these counts is not a pass; empty when it ran tests and none failed.

    ``reason`` is what the run itself said went wrong (no stream, killed...),
    told with "no tests ran".
    """
    reasons = []
    if failure:
        reasons.append(f"the Tempest step failed: {failure}")
    if timed_out:
        reasons.append("Tempest timed out")
    if corrupt:
        reasons.append("a subunit stream is damaged (its missing part may hold failures)")
    if failed_phases:
        reasons.append(f"failed phase(s): {', '.join(failed_phases)}")
    if total - skipped <= 0:  # a skipped test did not run
        details = [(reason or "").rstrip("; "), f"{skipped} skipped" if skipped else ""]
        details = [detail for detail in details if detail]
        reasons.append("no tests ran" + (f" ({'; '.join(details)})" if details else ""))
    if failed + uxsuccess:
        reasons.append(f"{failed + uxsuccess} test(s) failed")
    return reasons


def tempest_reasons(tempest: "Tempest") -> List[str]:
    """Why Tempest did not pass; empty when it ran tests and none failed."""
    reasons = test_reasons(
        total=tempest.total,
        skipped=tempest.skipped,
        failed=tempest.failed,
        uxsuccess=tempest.uxsuccess,
        corrupt=tempest.corrupt,
        failed_phases=tempest.failed_phases,
        timed_out=tempest.timed_out,
        failure=tempest.failure,
        reason=tempest.reason,
    )
    if not reasons and not tempest.success:
        reasons.append((tempest.reason or "Tempest did not pass").rstrip("; "))
    return reasons


def judge(deploy: "Deploy", tempest: "Tempest", *, build_failed: Sequence[str], repo_hash: str) -> Verdict:
    """The verdict of a run on ``repo_hash``, with every reason it is not a pass."""
    reasons = []
    if deploy.status != PASSED:
        reasons.append(f"deploy {deploy.status}" + (f": {deploy.message}" if deploy.message else ""))
    reasons.extend(tempest_reasons(tempest))
    return Verdict(
        verdict=FAILED if reasons else PASSED,
        reasons=tuple(reasons),
        tested_hash_note=older_hash_reason(build_failed, repo_hash) if build_failed else None,
    )


def headline(verdict: str, reasons: Sequence[str], tested_hash_note: Optional[str], repo_hash: str) -> str:
    """The summary's verdict line: never a bare PASSED for a hash older than the run's builds."""
    why = f" ({'; '.join(reasons)})" if reasons else ""
    if tested_hash_note:
        return f"verdict: {tested_hash_note}: it {verdict.upper()}{why}"
    return f"verdict for {repo_hash}: {verdict.upper()}{why}"
