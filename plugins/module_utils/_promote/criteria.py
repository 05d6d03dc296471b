"""Promotion criteria as data, and which candidate hash a label moves to.

The data has the shape of RDO's promoter configuration::

    latest_hashes_count: 100            # optional, per file or per target
    promotions:
      puppet-passed-ci:                 # the target label
        candidate_label: consistent     # or a label other promotions move
        criteria: [job-a, job-b]        # every one must have voted success
        alternative_criteria:           # optional: a job another one may stand in for
          job-b: [job-b-fallback]
        component: common               # optional, with components: one component's builds

The decision, as the promoter's loop makes it:

1. candidates are the last ``latest_hashes_count`` hashes that got the
   candidate label (for ``consistent``: builds that made the repository
   consistent, which DLRN records as a ``consistent`` vote), newest first;
2. only those newer than where the target points now count: the ones
   before it in that order, or, when the target's hash is not among them,
   those that got the candidate label after the target last moved;
3. the first candidate on which every required job — or one of its
   alternatives — voted success is promoted.

Which vote of a job counts: the **newest finished vote** of that job on
that hash (by the vote's timestamp, then by recording order), so a later
failure of a job that passed earlier blocks the hash, and a later success
after a failure (a recheck) clears it; in-progress votes never count.
RDO's promoter asks DLRN for successful votes only, so there any success
counts even after a failure; we trust the job's last word instead.

Without components the hashes are builds (``<commit>_<distgit8>``); with
components a target that names a ``component`` moves that component's
label, and one that does not moves aggregates: its candidates are the
aggregate hashes promotions to the candidate label produced, votes are on
aggregates, and promoting one moves each of its components' label in one
batch.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .._common.errors import InputError
from .._publish.layout import Layout, sharded
from .._statedb.db import CommitRecord, StateDB, VoteRecord
from .._statedb.schema import FLAG_PURGED
from .errors import CriteriaNotMet, ForbiddenLabel, UnknownHash
from .hashes import build_dir, find_aggregate, find_record
from .labels import LabelLink, check_label, repo_hash_of
from .promote import PromoteItem, PromotionResult, promote_batch
from .votes import CONSISTENT_JOB

DEFAULT_LATEST_HASHES_COUNT = 100
_TARGET_KEYS = ("candidate_label", "criteria", "alternative_criteria", "component", "latest_hashes_count")


@dataclasses.dataclass(frozen=True)
class Criteria:
    """What moves one target label."""

    label: str
    candidate_label: str
    criteria: Tuple[str, ...]
    alternative_criteria: Mapping[str, Tuple[str, ...]] = dataclasses.field(default_factory=dict)
    component: Optional[str] = None
    latest_hashes_count: int = DEFAULT_LATEST_HASHES_COUNT

    def options(self, job: str) -> Tuple[str, ...]:
        """The jobs any of which satisfies ``job``: itself, then its alternatives."""
        return (job, *self.alternative_criteria.get(job, ()))


# -- reading the data ------------------------------------------------------------------------


def _job_list(value: Any, where: str) -> Tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(job, str) and job.strip() for job in value):
        raise InputError(f"{where} must be a list of job names (non-empty strings), got {value!r}")
    return tuple(value)


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{where} must be a whole number of hashes >= 1, got {value!r}")
    return value


def parse_target(label: Any, data: Any, where: str, *, default_count: int = DEFAULT_LATEST_HASHES_COUNT) -> Criteria:
    """Validate one target's entry; ``where`` names it in errors (``promotion.yml: promotions.x``)."""
    try:
        check_label(label, what=f"{where}: target label")
    except ForbiddenLabel as exc:
        raise InputError(str(exc)) from None
    if not isinstance(data, Mapping):
        raise InputError(f"{where} must be a mapping with candidate_label and criteria, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_TARGET_KEYS))
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}: use {', '.join(_TARGET_KEYS)}")
    candidate = data.get("candidate_label")
    if candidate != CONSISTENT_JOB:
        try:
            check_label(candidate, what=f"{where}.candidate_label")
        except ForbiddenLabel as exc:
            raise InputError(f"{exc} (or 'consistent')") from None
    if candidate == label:
        raise InputError(f"{where}.candidate_label is the target label {label!r} itself: name the label it comes from")
    jobs = _job_list(data.get("criteria"), f"{where}.criteria")
    if not jobs:
        raise InputError(f"{where}.criteria is empty: list the jobs that must pass before {label} moves")
    alternatives_data = data.get("alternative_criteria") or {}
    if not isinstance(alternatives_data, Mapping):
        raise InputError(f"{where}.alternative_criteria must map a job to the jobs that may stand in for it")
    alternatives = {}
    for job, substitutes in alternatives_data.items():
        if job not in jobs:
            raise InputError(
                f"{where}.alternative_criteria.{job}: {job!r} is not in criteria; alternatives stand in for a"
                " required job"
            )
        alternatives[job] = _job_list(substitutes, f"{where}.alternative_criteria.{job}")
    component = data.get("component")
    if component is not None and (not isinstance(component, str) or not component.strip()):
        raise InputError(f"{where}.component must be a component name, got {component!r}")
    count = data.get("latest_hashes_count", default_count)
    return Criteria(
        label=label,
        candidate_label=candidate,
        criteria=jobs,
        alternative_criteria=alternatives,
        component=component,
        latest_hashes_count=_count(count, f"{where}.latest_hashes_count"),
    )


# -- judging votes -----------------------------------------------------------------------------


@dataclasses.dataclass
class Verdict:
    """How a hash's votes measure up to the criteria."""

    ok: bool
    passed: Dict[str, str]
    missing: List[str]
    failed: List[str]
    running: List[str]

    def reason(self) -> str:
        """One line: which required jobs lack a success and why."""
        parts = []
        if self.failed:
            parts.append(f"failed: {', '.join(self.failed)}")
        if self.missing:
            parts.append(f"no vote: {', '.join(self.missing)}")
        if self.running:
            parts.append(f"running: {', '.join(self.running)}")
        return "; ".join(parts) if parts else "every required job passed"


def evaluate(votes: Sequence[VoteRecord], criteria: Criteria) -> Verdict:
    """Judge the votes on one hash (the newest finished vote of each job counts)."""
    newest: Dict[str, VoteRecord] = {}
    started: Dict[str, VoteRecord] = {}
    for vote in sorted(votes, key=lambda v: (v.timestamp, v.id)):
        (started if vote.in_progress else newest)[vote.job_id] = vote
    verdict = Verdict(ok=True, passed={}, missing=[], failed=[], running=[])
    for job in criteria.criteria:
        options = criteria.options(job)
        winner = next((name for name in options if name in newest and newest[name].success), None)
        if winner is not None:
            verdict.passed[job] = winner
            continue
        verdict.ok = False
        label = job if len(options) == 1 else f"{job} (or {', '.join(options[1:])})"
        failures = [newest[name] for name in options if name in newest]
        if failures:
            urls = [f"{vote.job_id} {vote.url}" for vote in failures if vote.url]
            verdict.failed.append(f"{label}{' [' + '; '.join(urls) + ']' if urls else ''}")
        else:
            verdict.missing.append(label)
        if any(name in started and (name not in newest or started[name].timestamp >= newest[name].timestamp)
               for name in options):  # fmt: skip
            verdict.running.append(job)
    return verdict


# -- deciding -------------------------------------------------------------------------------------


@dataclasses.dataclass
class Candidate:
    """One candidate hash and what became of it."""

    ref_hash: str
    aggregate: bool
    labelled_at: int
    status: str = "not examined"
    reason: str = ""
    commit_hash: Optional[str] = None
    distro_hash: Optional[str] = None
    component: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        """Plain data for a module result."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Decision:
    """Where the target points, the candidates examined (newest first) and the one chosen, if any."""

    label: str
    candidate_label: str
    current: Optional[str]
    candidates: List[Candidate]
    chosen: Optional[Candidate]
    reason: str
    items: List[PromoteItem] = dataclasses.field(default_factory=list)

    def as_dict(self) -> Dict[str, Any]:
        """Plain data for a module result (without the internal items)."""
        data = dataclasses.asdict(self)
        data.pop("items")
        return data


def _events(db: StateDB, layout: Layout, criteria: Criteria, aggregate: bool) -> List[Tuple[str, int, Optional[int]]]:
    """(hash, when it got the candidate label, commit id), newest first, one per hash."""
    count = criteria.latest_hashes_count
    if criteria.candidate_label == CONSISTENT_JOB:
        raw = [
            (vote.ref_hash, vote.timestamp, vote.commit_id)
            for vote in db.job_votes(CONSISTENT_JOB, success=True, component=criteria.component, limit=count)
        ]
    else:
        component = criteria.component if layout.use_components else None
        rows = db.promotions(criteria.candidate_label, limit=count, component=component)
        if aggregate:
            raw = [(row.aggregate_hash, row.timestamp, None) for row in rows if row.aggregate_hash]
        else:
            raw = [(row.ref_hash, row.timestamp, row.commit_id) for row in rows if row.commit_id is not None]
    seen = set()
    events = []
    for ref, stamp, commit_id in raw:
        if ref not in seen:
            seen.add(ref)
            events.append((ref, stamp, commit_id))
    return events


def current_aggregate(layout: Layout, label: str) -> Optional[str]:
    """The aggregate hash ``repos/<label>/`` leads to now (None when it has none)."""
    link = layout.repos_dir / label / f"{layout.reponame}.repo.md5"
    if not link.is_symlink():
        link = layout.repos_dir / label / f"{layout.reponame}.list.md5"
    try:
        return Path(link.readlink()).parent.name or None
    except OSError:
        return None


def _newer(
    events: List[Tuple[str, int, Optional[int]]], current: Optional[str], moved_at: Optional[int]
) -> List[Tuple[str, int, Optional[int]]]:
    refs = [ref for ref, _stamp, _id in events]
    if current is not None and current in refs:
        return events[: refs.index(current)]
    if moved_at is not None:
        return [event for event in events if event[1] > moved_at]
    return events


def decide(db: StateDB, layout: Layout, criteria: Criteria) -> Decision:
    """Which candidate ``criteria.label`` moves to now (read-only; ``db`` may be opened read-only)."""
    aggregate = layout.use_components and criteria.component is None
    if aggregate and criteria.candidate_label == CONSISTENT_JOB:
        raise InputError(
            f"promotions.{criteria.label}: with components, 'consistent' is per component: set component, or"
            " promote aggregates from a label that component promotions move"
        )
    if not layout.use_components and criteria.component is not None:
        raise InputError(
            f"promotions.{criteria.label}.component is set but the repositories have no components:"
            " remove it or publish with use_components"
        )
    if aggregate:
        current = current_aggregate(layout, criteria.label)
        rows = db.promotions(criteria.label, limit=1, aggregate_hash=current) if current else []
    else:
        current = repo_hash_of(LabelLink(layout, criteria.label, criteria.component).read())
        component = criteria.component if layout.use_components else None
        rows = db.promotions(criteria.label, limit=1, component=component)
    moved_at = rows[0].timestamp if rows else None
    events = _newer(_events(db, layout, criteria, aggregate), current, moved_at)
    votes = db.votes_on([ref for ref, _stamp, _id in events], aggregate=aggregate)
    decision = Decision(criteria.label, criteria.candidate_label, current, [], None, "")
    for ref, stamp, commit_id in events:
        candidate = Candidate(ref_hash=ref, aggregate=aggregate, labelled_at=stamp)
        decision.candidates.append(candidate)
        # Votes first: they are in memory already, and most candidates stop there.
        verdict = evaluate(votes[ref], criteria)
        if not verdict.ok:
            candidate.status, candidate.reason = "criteria not met", verdict.reason()
            continue
        items = (
            _aggregate_items(db, layout, criteria, candidate)
            if aggregate
            else _build_items(db, layout, criteria, candidate, commit_id)
        )
        if items is None:
            continue
        candidate.status = "chosen"
        candidate.reason = ", ".join(
            job if job == winner else f"{job} (by {winner})" for job, winner in verdict.passed.items()
        )
        candidate.reason = f"passed: {candidate.reason}"
        decision.chosen, decision.items = candidate, items
        break
    decision.reason = _summary(decision)
    return decision


def _summary(decision: Decision) -> str:
    if decision.chosen is not None:
        return f"{decision.label}: {decision.current or 'unset'} -> {decision.chosen.ref_hash}"
    if not decision.candidates and decision.current is None:
        return f"{decision.label}: no hash is {decision.candidate_label} yet"
    if not decision.candidates:
        return f"{decision.label}: no {decision.candidate_label} hash newer than {decision.current}"
    return (
        f"{decision.label}: none of {len(decision.candidates)} newer {decision.candidate_label} hash(es) meets the"
        f" criteria (newest {decision.candidates[0].ref_hash}: {decision.candidates[0].reason})"
    )


def _usable(layout: Layout, record: Optional[CommitRecord]) -> Optional[str]:
    """Why a candidate build cannot be promoted, or None."""
    if record is None:
        return "not in the state DB"
    if record.flags & FLAG_PURGED:
        return "purged"
    if not build_dir(layout, record).is_dir():
        return "not published"
    return None


def _build_items(
    db: StateDB, layout: Layout, criteria: Criteria, candidate: Candidate, commit_id: Optional[int]
) -> Optional[List[PromoteItem]]:
    record = db.get(commit_id) if commit_id is not None else find_record(db, candidate.ref_hash)
    why = _usable(layout, record)
    if why is not None:
        candidate.status, candidate.reason = "skipped", why
        return None
    candidate.commit_hash, candidate.distro_hash, candidate.component = (
        record.commit_hash,
        record.distro_hash,
        record.component,
    )
    link = LabelLink(layout, criteria.label, record.component if layout.use_components else None)
    expect = repo_hash_of(link.read()) or ""
    return [PromoteItem(criteria.label, record.commit_hash, record.distro_hash, expect=expect)]


def aggregate_builds(layout: Layout, directory: Path) -> List[str]:
    """The ``<commit>_<distgit8>`` of each component build an aggregate directory's repository file names."""
    prefix = layout.baseurl.rstrip("/") + "/"
    names = []
    for file_name in (layout.repo_file_name("rpm"), layout.repo_file_name("deb")):
        path = directory / file_name
        if not path.is_file():
            continue
        for token in path.read_text(encoding="utf-8").replace("=", " ").split():
            if token.startswith(prefix):
                name = repo_hash_of(token[len(prefix) :])
                if name:
                    names.append(name)
    return names


def _aggregate_records(db: StateDB, layout: Layout, directory: Path) -> Tuple[List[CommitRecord], str]:
    """The component builds an aggregate directory names, or ``[]`` and why it cannot be promoted."""
    if not directory.is_dir():
        return [], "purged (its aggregate directory is gone)"
    records = []
    for name in aggregate_builds(layout, directory):
        record = find_record(db, name)
        why = _usable(layout, record)
        if why is not None:
            return [], f"component build {name} is {why}"
        records.append(record)
    if not records:
        return [], "its repository file names no build of ours"
    return records, ""


def _items_for(layout: Layout, label: str, records: List[CommitRecord]) -> List[PromoteItem]:
    """One item per component build, expecting each component's label where it points now."""
    return [
        PromoteItem(
            label,
            record.commit_hash,
            record.distro_hash,
            expect=repo_hash_of(LabelLink(layout, label, record.component).read()) or "",
        )
        for record in records
    ]


def _aggregate_items(
    db: StateDB, layout: Layout, criteria: Criteria, candidate: Candidate
) -> Optional[List[PromoteItem]]:
    directory = layout.repos_dir / criteria.candidate_label / sharded(candidate.ref_hash)
    records, why = _aggregate_records(db, layout, directory)
    if not records:
        candidate.status, candidate.reason = "skipped", why
        return None
    return _items_for(layout, criteria.label, records)


# -- acting ---------------------------------------------------------------------------------------


def promote_by_criteria(
    db: StateDB, layout: Layout, criteria: Criteria, **options: Any
) -> Tuple[Decision, Optional[PromotionResult]]:
    """Decide, then move the label to the chosen hash (compare-and-swap on what the decision saw).

    ``options`` go to :func:`~.promote.promote_batch` (``user``, ``check_mode``...).
    """
    decision = decide(db, layout, criteria)
    if decision.chosen is None:
        return decision, None
    return decision, promote_batch(db, layout, decision.items, **options)


def require_criteria(db: StateDB, criteria: Criteria, ref_hash: str, *, aggregate: bool = False) -> Verdict:
    """Raise CriteriaNotMet naming the jobs unless the votes on ``ref_hash`` meet ``criteria``."""
    verdict = evaluate(db.votes_on([ref_hash], aggregate=aggregate)[ref_hash], criteria)
    if not verdict.ok:
        raise CriteriaNotMet(f"{ref_hash} cannot become {criteria.label}: {verdict.reason()}")
    return verdict


def aggregate_items(db: StateDB, layout: Layout, aggregate_hash: str, label: str) -> List[PromoteItem]:
    """The batch that moves ``label`` (in each component) to the builds an aggregate names."""
    why = ""
    for directory in find_aggregate(db, aggregate_hash, layout).dirs:
        records, why = _aggregate_records(db, layout, directory)
        if records:
            return _items_for(layout, label, records)
    raise UnknownHash(f"aggregate {aggregate_hash} cannot be promoted: {why}")
