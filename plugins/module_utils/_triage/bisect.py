"""Bisect a failure to the first bad commit(s) between a good and a bad point.

A point is a *state*: per package, the upstream and packaging commits it is
built from.  Between the good state and the bad one lie the package commits
that landed in between (``candidates``), in the order they landed; state
``i`` is the good state with candidates ``0..i`` applied, so state ``-1`` is
the good one and state ``N-1`` the bad one.  The first bad state names the
culprit: its last candidate.

The plan is data, saved after every step (``bisect.json``), so a bisect
that stops is resumed where it was; a step already recorded is never run
again, and an outcome known beforehand (a build the state DB already has) is
recorded without building.  Outcomes are ``good``, ``bad`` or ``skip`` (the
state cannot be judged: an unrelated build failure); skipped states leave
the culprit ambiguous between the nearest judged states, as ``git bisect
skip`` does, and the verdict lists every candidate in that range.
"""

from __future__ import annotations

import heapq
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .._common.errors import InputError
from .._common.files import write_atomic_if_changed
from .._sources import git
from .._statedb.db import CommitRecord, StateDB
from .._statedb.schema import FAILED, SUCCESS

FORMAT = 1
KINDS = ("build", "test")
OUTCOMES = ("good", "bad", "skip")
SIDES = ("upstream", "distgit")


@dataclass(frozen=True)
class Candidate:
    """One commit that landed between the good and the bad state."""

    project: str
    side: str  # upstream or distgit
    commit_hash: str
    time: int
    author: str
    subject: str

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Step:
    """What trying one state found."""

    index: int
    outcome: str
    repo_hash: Optional[str] = None
    evidence: Dict[str, Any] = field(default_factory=dict)
    reused: bool = False  # known beforehand (a build the state DB had), nothing was run

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def order(changes: Mapping[Tuple[str, str], Sequence[Any]]) -> List[Candidate]:
    """Merge per-repository commit lists into the order they landed.

    ``changes`` maps ``(project, side)`` to that repository's commits, oldest
    first (``CommitInfo``-like: commit_hash, commit_time, author, subject).
    Each repository keeps its own order even when commit times go backwards
    (a rebase); between repositories the older commit comes first, ties by
    project then side so the order is the same on every host.
    """
    keys = sorted(changes, key=lambda key: (key[0], SIDES.index(key[1])))
    # One entry per repository at a time (its next commit), so a repository's own order always holds.
    heap = [(int(changes[key][0].commit_time), key[0], SIDES.index(key[1]), 0) for key in keys if changes[key]]
    heapq.heapify(heap)
    merged: List[Candidate] = []
    while heap:
        _time, project, side_number, position = heapq.heappop(heap)
        side = SIDES[side_number]
        commits = changes[(project, side)]
        info = commits[position]
        merged.append(Candidate(project, side, info.commit_hash, int(info.commit_time), info.author, info.subject))
        if position + 1 < len(commits):
            heapq.heappush(heap, (int(commits[position + 1].commit_time), project, side_number, position + 1))
    return merged


@dataclass
class Bisect:
    """A bisect plan and what its steps found."""

    kind: str
    release: str
    good: Dict[str, Dict[str, str]]  # project -> {"commit_hash": ..., "distro_hash": ...} of the good state
    bad_repo_hash: str
    good_repo_hash: str
    candidates: List[Candidate]
    tests: List[str] = field(default_factory=list)  # the failing tests a test bisect re-runs
    steps: List[Step] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"bisect kind: must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not self.candidates:
            raise InputError(
                f"bisect: no commit lies between {self.good_repo_hash} and {self.bad_repo_hash}; give a good point"
                " older than the bad one"
            )

    # -- states ------------------------------------------------------------------------------

    def state(self, index: int) -> Dict[str, Dict[str, str]]:
        """Per package the commits of state ``index`` (-1: the good state)."""
        self._check_index(index, allow_good=True)
        current = {project: dict(hashes) for project, hashes in self.good.items()}
        key = {"upstream": "commit_hash", "distgit": "distro_hash"}
        for candidate in self.candidates[: index + 1]:
            current.setdefault(candidate.project, {})[key[candidate.side]] = candidate.commit_hash
        return current

    def changed(self, index: int) -> Dict[str, Dict[str, str]]:
        """The packages whose commits in state ``index`` differ from the good state: what must be built."""
        good = self.good
        return {project: hashes for project, hashes in self.state(index).items() if good.get(project) != hashes}

    def _check_index(self, index: int, *, allow_good: bool = False) -> None:
        low = -1 if allow_good else 0
        if not isinstance(index, int) or isinstance(index, bool) or not low <= index < len(self.candidates):
            raise InputError(f"bisect: state index {index!r} is out of range {low}..{len(self.candidates) - 1}")

    # -- the search ---------------------------------------------------------------------------

    def bounds(self) -> Tuple[int, int]:
        """(newest good, oldest bad) state indexes the recorded steps prove; -1 and N-1 at the start."""
        low, high = -1, len(self.candidates) - 1
        for step in self.steps:
            if step.outcome == "good" and step.index > low:
                low = step.index
            elif step.outcome == "bad" and step.index < high:
                high = step.index
        if low >= high:
            raise InputError(
                f"bisect: state {low} was judged good but state {high} before it bad: the failure is not caused by"
                " one commit (flaky test?); start again with other good and bad points"
            )
        return low, high

    def next_index(self) -> Optional[int]:
        """The state to try next, or None when the culprit is known (or only skipped states are left)."""
        low, high = self.bounds()
        skipped = {step.index for step in self.steps if step.outcome == "skip"}
        open_states = [index for index in range(low + 1, high) if index not in skipped]
        if not open_states:
            return None
        middle = (low + high) / 2
        return min(open_states, key=lambda index: (abs(index - middle), index))

    def record(
        self,
        index: int,
        outcome: str,
        *,
        repo_hash: Optional[str] = None,
        evidence: Optional[Mapping[str, Any]] = None,
        reused: bool = False,
    ) -> bool:
        """Record what state ``index`` gave; False when exactly that was already recorded (a re-run)."""
        self._check_index(index)
        if outcome not in OUTCOMES:
            raise InputError(f"bisect step {index}: outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        for step in self.steps:
            if step.index == index:
                if step.outcome == outcome:
                    return False
                raise InputError(
                    f"bisect step {index}: already recorded as {step.outcome}, now {outcome}; the test is not"
                    " deterministic - re-run it or start a new bisect"
                )
        self.steps.append(Step(index, outcome, repo_hash, dict(evidence or {}), reused))
        self.bounds()  # refuses contradictions at once
        return True

    @property
    def done(self) -> bool:
        return self.next_index() is None

    def culprits(self) -> List[Candidate]:
        """The first bad commit, or every commit the skipped states leave in question."""
        low, high = self.bounds()
        return self.candidates[low + 1 : high + 1] if self.done else []

    def max_steps(self) -> int:
        """Steps a bisect of this range needs at most when nothing is skipped: ceil(log2(N))."""
        return math.ceil(math.log2(len(self.candidates))) if len(self.candidates) > 1 else 0

    def verdict(self) -> Dict[str, Any]:
        """What a user reads: the culprit(s) with author and subject, and the evidence of the states around it."""
        low, high = self.bounds()
        evidence = {step.index: step for step in self.steps}
        culprits = self.culprits()
        return {
            "done": self.done,
            "culprits": [candidate.as_dict() for candidate in culprits],
            "ambiguous": len(culprits) > 1,
            "first_bad_state": high,
            "last_good_state": low,
            "bad_evidence": evidence[high].as_dict() if high in evidence else {"repo_hash": self.bad_repo_hash},
            "good_evidence": evidence[low].as_dict() if low in evidence else {"repo_hash": self.good_repo_hash},
            "good_repo_hash": self.good_repo_hash,  # the range bisected, whatever the steps found since
            "bad_repo_hash": self.bad_repo_hash,
            "steps_run": sum(1 for step in self.steps if not step.reused),
            "steps_reused": sum(1 for step in self.steps if step.reused),
            "candidates": len(self.candidates),
        }

    # -- the file -----------------------------------------------------------------------------

    def as_dict(self) -> Dict[str, Any]:
        return {
            "format": FORMAT,
            "kind": self.kind,
            "release": self.release,
            "good_repo_hash": self.good_repo_hash,
            "bad_repo_hash": self.bad_repo_hash,
            "good": self.good,
            "tests": list(self.tests),
            "candidates": [candidate.as_dict() for candidate in self.candidates],
            "steps": [step.as_dict() for step in self.steps],
        }

    def save(self, path: Path) -> bool:
        """Write the plan (aside and renamed); False when the file already says exactly this."""
        return write_atomic_if_changed(path, json.dumps(self.as_dict(), indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> "Bisect":
        """Read a saved plan; a damaged or foreign file is named in one line."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: not a readable bisect plan ({exc}); remove it to start a new bisect") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(f"{path}: not a bisect plan of format {FORMAT}; remove it to start a new bisect")
        try:
            return cls(
                kind=data["kind"],
                release=data["release"],
                good=data["good"],
                good_repo_hash=data["good_repo_hash"],
                bad_repo_hash=data["bad_repo_hash"],
                candidates=[Candidate(**item) for item in data["candidates"]],
                tests=list(data.get("tests") or []),
                steps=[Step(**item) for item in data["steps"]],
            )
        except (KeyError, TypeError) as exc:
            raise InputError(f"{path}: bisect plan lacks or mangles {exc}; remove it to start a new bisect") from None


# -- planning from the state DB and the git mirrors --------------------------------------------


def find_build(db: StateDB, repo_hash: str, what: str) -> CommitRecord:
    """The build a repository hash names; one line naming ``what`` when the state DB has none."""
    commit_hash, _sep, prefix = str(repo_hash).partition("_")
    record = db.commit(commit_hash, prefix or None) if commit_hash else None
    if record is None:
        raise InputError(
            f"{what}: no build {repo_hash!r} in the state DB {db.name}; give a repo hash build_status lists"
            " (<commit_hash>_<distro_hash[:8]>)"
        )
    return record


def _hashes(record: CommitRecord) -> Dict[str, str]:
    return {"commit_hash": record.commit_hash, "distro_hash": record.distro_hash}


def _changes(
    db: StateDB,
    mirror_dir: str,
    good: Mapping[str, CommitRecord],
    bad: Mapping[str, CommitRecord],
    *,
    fetch: bool = True,
    sources: Optional[Mapping[str, Mapping[str, Any]]] = None,
) -> Dict[Tuple[str, str], list]:
    """Per package and side (upstream, distgit) whose commit moved between the two states: the commits between.

    ``sources`` (project -> ``upstream``/``distgit`` URLs, the package
    database's) wins over what the state DB recorded.
    """
    stored = {record.project: record for record in db.projects()}
    sources = sources or {}
    changes: Dict[Tuple[str, str], list] = {}
    for project in sorted(bad):
        after = bad[project]
        before = good.get(project)
        known = stored.get(project)
        given = sources.get(project) or {}
        for side, attr, url in (
            ("upstream", "commit_hash", given.get("upstream") or (known.upstream if known else None)),
            ("distgit", "distro_hash", given.get("distgit") or (known.distgit if known else None)),
        ):
            new = getattr(after, attr)
            old = getattr(before, attr) if before else None
            if old == new:
                continue
            if not url:
                raise InputError(
                    f"packages: no {side} URL for {project}; give the package database's packages (pkgdb_info)"
                    " so the bisect can read its history"
                )
            have = git.ensure_commit if fetch else git.mirror_with
            mirror = have(mirror_dir, url, new)
            if old is None:  # a package added between the two points: it arrives in one step
                changes[(project, side)] = [git.commit_info(mirror, new)]
                continue
            have(mirror_dir, url, old)
            changes[(project, side)] = git.commits_between(mirror, old, new, what=f"{project} ({side} {url})")
    return changes


def plan_test(
    db: StateDB,
    good_repo_hash: str,
    bad_repo_hash: str,
    mirror_dir: str,
    tests: Sequence[str] = (),
    *,
    fetch: bool = True,
    sources: Optional[Mapping[str, Mapping[str, Any]]] = None,
) -> Bisect:
    """A test-failure bisect between two repositories: the package commits that landed between them."""
    good = find_build(db, good_repo_hash, "good")
    bad = find_build(db, bad_repo_hash, "bad")
    if good.release != bad.release:
        raise InputError(
            f"good: {good_repo_hash} is a build of release {good.release}, bad {bad_repo_hash} of {bad.release};"
            " give two points of the same release"
        )
    if good.id >= bad.id:
        raise InputError(
            f"good: {good_repo_hash} was built after bad {bad_repo_hash}; give an older good point (or swap them)"
        )
    good_state = db.snapshot(good.id)
    bad_state = db.snapshot(bad.id)
    changes = _changes(db, mirror_dir, good_state, bad_state, fetch=fetch, sources=sources)
    return Bisect(
        kind="test",
        release=bad.release,
        good={project: _hashes(record) for project, record in good_state.items()},
        good_repo_hash=good.repo_hash,
        bad_repo_hash=bad.repo_hash,
        candidates=order(changes),
        tests=list(tests),
    )


def plan_build(
    db: StateDB,
    project: str,
    release: str,
    mirror_dir: str,
    *,
    good_repo_hash: Optional[str] = None,
    bad_repo_hash: Optional[str] = None,
    fetch: bool = True,
    sources: Optional[Mapping[str, Mapping[str, Any]]] = None,
) -> Bisect:
    """A build-failure (FTBFS) bisect of one package: its commits between the last success and the failure.

    Without hashes the state DB's FTBFS lifecycle gives them: the last
    success and the first failure after it.
    """
    if good_repo_hash is None or bad_repo_hash is None:
        failing = {item.project: item for item in db.ftbfs(release=release)}
        if project not in failing:
            raise InputError(
                f"project: {project} ({release}) does not fail to build in the state DB {db.name}; give"
                " good and bad repo hashes to bisect something else"
            )
        item = failing[project]
        if item.last_success is None and good_repo_hash is None:
            raise InputError(f"project: {project} ({release}) never built; there is no good point to bisect from")
        good_repo_hash = good_repo_hash or item.last_success.repo_hash  # type: ignore[union-attr]
        bad_repo_hash = bad_repo_hash or item.first_failed.repo_hash
    good = find_build(db, good_repo_hash, "good")
    bad = find_build(db, bad_repo_hash, "bad")
    for record, what in ((good, "good"), (bad, "bad")):
        if record.project != project or record.release != release:
            raise InputError(
                f"{what}: {record.repo_hash} is a build of {record.project} ({record.release}), not of {project}"
                f" ({release}); give builds of the package being bisected"
            )
    if good.status != SUCCESS or bad.status != FAILED:
        raise InputError(
            f"good/bad: {good.repo_hash} is {good.status} and {bad.repo_hash} {bad.status}; a build bisect goes"
            " from a SUCCESS to a FAILED build"
        )
    changes = _changes(db, mirror_dir, {project: good}, {project: bad}, fetch=fetch, sources=sources)
    return Bisect(
        kind="build",
        release=release,
        good={project: _hashes(good)},
        good_repo_hash=good.repo_hash,
        bad_repo_hash=bad.repo_hash,
        candidates=order(changes),
    )


def known_build_outcome(db: StateDB, bisect: Bisect, index: int) -> Optional[Step]:
    """For a build bisect, the outcome the state DB already has for state ``index`` (a build made before)."""
    if bisect.kind != "build":
        return None
    ((project, hashes),) = bisect.state(index).items()
    record = db.commit(hashes["commit_hash"], hashes["distro_hash"], release=bisect.release)
    if record is None or record.project != project or record.status not in (SUCCESS, FAILED):
        return None
    outcome = "good" if record.status == SUCCESS else "bad"
    return Step(index, outcome, record.repo_hash, {"status": record.status, "error": record.notes}, reused=True)
