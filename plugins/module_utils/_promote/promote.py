"""Moving labels to builds: DLRN's ``promote`` and ``promote-batch``, crash-safe and compare-and-swap.

One call is one unit under the publish lock (so no publisher or purge runs
beside it): every hash and label is checked first (unknown 400, forbidden
label 403, purged 410, moved meanwhile 409), then the rows and links are
written together as :mod:`.journal` describes.  A batch moves all its links
or none.  Besides DLRN's behaviour:

* ``previous-<label>`` keeps where the label pointed (link and row), as
  RDO's promoter keeps it through the API; a caller that keeps it itself
  passes ``keep_previous=False`` (and may then name ``previous-*`` labels);
* promoting a label to where it already points changes nothing (no row),
  unless ``record_unchanged`` (DLRN adds a row for every request);
* the label's link and its newest promotion row must agree, else someone
  moved the link by hand and the promotion stops (409) unless ``force``;
* with components every label a batch touches gets its aggregate
  recomputed, and its last row carries the aggregate hash (DLRN recomputes
  only the batch's last label).
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from .._publish.atomic import exclusive_lock
from .._publish.layout import Layout
from .._statedb.db import CommitRecord, StateDB
from . import journal
from .aggregate import AggregatePlan, plan_aggregate, write_aggregate_dir
from .errors import Conflict, InvalidRequest
from .hashes import build_dir, find_build, find_record
from .labels import LabelLink, check_label, previous_of, repo_hash_of

# Called with the name of each step ("rows", "journal", "link <path>",
# "links", "committed"): tests use it to crash or fail between steps.
StepHook = Callable[[str], None]
UNSET = ("", "none", "None")


def _no_hook(_step: str) -> None:
    return None


@dataclasses.dataclass(frozen=True)
class PromoteItem:
    """One label to move to one build (DLRN's promote body)."""

    label: str
    commit_hash: str
    distro_hash: str
    extended_hash: Optional[str] = None
    # Compare-and-swap: the repository (``<commit>_<distgit8>`` or its commit
    # hash) the label must point at now; "" when it must not exist; None: no check.
    expect: Optional[str] = None


@dataclasses.dataclass
class Move:
    """A label and where it goes (``changed`` False: it already pointed there)."""

    label: str
    component: Optional[str]
    link: str
    repo_hash: str
    commit_hash: str
    distro_hash: str
    target: str
    repo_url: str
    previous: Optional[str]
    changed: bool
    aggregate_hash: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        """Plain data for a module result."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class PromotionResult:
    """What a promotion did (or, in check mode, would do)."""

    changed: bool
    moves: List[Move]
    aggregate_hashes: Dict[str, str]
    timestamp: int
    user: Optional[str]
    recovered: Optional[str] = None
    notes: List[str] = dataclasses.field(default_factory=list)

    def as_dict(self) -> Dict[str, Any]:
        """Plain data for a module result."""
        return dataclasses.asdict(self)

    def dlrn(self) -> Dict[str, Any]:
        """DLRN's answer to promote / promote-batch: the last promotion of the request."""
        move = self.moves[-1]
        return {
            "commit_hash": move.commit_hash,
            "distro_hash": move.distro_hash,
            "extended_hash": None,
            "repo_hash": move.repo_hash,
            "repo_url": move.repo_url,
            "promote_name": move.label,
            "component": move.component,
            "timestamp": self.timestamp,
            "user": self.user,
            "aggregate_hash": move.aggregate_hash,
        }


@dataclasses.dataclass(frozen=True)
class _Row:
    ref_hash: str
    label: str
    commit_id: int
    component: Optional[str]
    aggregate_hash: Optional[str] = None


@dataclasses.dataclass
class _Plan:
    moves: List[Move]
    links: List[journal.LinkMove]
    rows: List[_Row]
    aggregates: List[AggregatePlan]
    notes: List[str]
    previous_links: List[journal.LinkMove] = dataclasses.field(default_factory=list)
    # Per label, per component: the build directory the label will lead to.
    aggregate_targets: Dict[str, Dict[str, Optional[Path]]] = dataclasses.field(default_factory=dict)


def promote(
    db: StateDB,
    layout: Layout,
    commit_hash: str,
    distro_hash: str,
    label: str,
    *,
    extended_hash: Optional[str] = None,
    expect: Optional[str] = None,
    **options: Any,
) -> PromotionResult:
    """Move ``label`` to the build ``commit_hash`` + ``distro_hash``; see :func:`promote_batch` for ``options``."""
    item = PromoteItem(label, commit_hash, distro_hash, extended_hash, expect)
    return promote_batch(db, layout, [item], **options)


def promote_batch(
    db: StateDB,
    layout: Layout,
    items: Sequence[PromoteItem],
    *,
    user: Optional[str] = None,
    keep_previous: bool = True,
    force: bool = False,
    record_unchanged: bool = False,
    check_mode: bool = False,
    lock_timeout: float = 600.0,
    now: Optional[int] = None,
    on_step: StepHook = _no_hook,
) -> PromotionResult:
    """Move every item's label to its build, all or nothing, in one transaction.

    In check mode ``db`` may be read-only and nothing is written (no lock
    file either): the result says what would move.
    """
    if not items:
        raise InvalidRequest("nothing to promote: give at least one commit_hash, distro_hash and label")
    for item in items:
        check_label(item.label, allow_previous=not keep_previous, what="promote_name")
    stamp = now if now is not None else int(time.time())
    if check_mode:
        plan = _plan(db, layout, items, keep_previous=keep_previous, force=force, record_unchanged=record_unchanged)
        pending = journal.journal_path(layout).exists()
        notes = plan.notes + (["an interrupted promotion will be recovered first"] if pending else [])
        return _result(plan, stamp, user, recovered=None, notes=notes)
    layout.repos_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(layout.lock, lock_timeout, f"promote in {layout.repos_dir}"):
        # Dated once it holds the lock: a promotion that waited behind others
        # must not get an earlier time than theirs, or the label's newest row
        # (by time) would not be where its link points.
        stamp = now if now is not None else int(time.time())
        recovered = journal.recover(db, layout)
        plan = _plan(db, layout, items, keep_previous=keep_previous, force=force, record_unchanged=record_unchanged)
        if plan.rows:
            for aggregate in plan.aggregates:
                write_aggregate_dir(layout, aggregate)
            _write(db, layout, plan, user=user, stamp=stamp, on_step=on_step)
        return _result(plan, stamp, user, recovered=recovered, notes=plan.notes)


def _result(
    plan: _Plan, stamp: int, user: Optional[str], *, recovered: Optional[str], notes: List[str]
) -> PromotionResult:
    return PromotionResult(
        changed=bool(plan.rows),
        moves=plan.moves,
        aggregate_hashes={aggregate.label: aggregate.digest for aggregate in plan.aggregates},
        timestamp=stamp,
        user=user,
        recovered=recovered,
        notes=notes,
    )


# -- planning -----------------------------------------------------------------------------


def _matches(repo_hash: Optional[str], wanted: str) -> bool:
    return repo_hash is not None and (repo_hash == wanted or repo_hash.split("_", 1)[0] == wanted)


def _check_expect(item: PromoteItem, link: LabelLink, old: Optional[str]) -> None:
    if item.expect is None:
        return
    have = repo_hash_of(old)
    if item.expect in UNSET:
        if old is not None:
            raise Conflict(
                f"label {link.rel} was expected to be unset but points at {have or old}: it moved meanwhile;"
                " decide again"
            )
        return
    if not _matches(have, item.expect):
        raise Conflict(
            f"label {link.rel} points at {have or old or 'nothing'}, not {item.expect}: it moved meanwhile;"
            " decide again"
        )


def _check_agrees_with_db(db: StateDB, layout: Layout, link: LabelLink, old: Optional[str]) -> None:
    """A label link moved by hand (not by a promotion) is not ours to overwrite silently."""
    if old is None:
        return
    rows = db.promotions(link.label, limit=1, component=link.component if layout.use_components else None)
    if rows and rows[0].ref_hash != repo_hash_of(old):
        raise Conflict(
            f"label {link.rel} points at {repo_hash_of(old) or old} but its last promotion in the state DB is"
            f" {rows[0].ref_hash}: it was moved outside distroforge; point it back or promote with force"
        )


def _plan(
    db: StateDB,
    layout: Layout,
    items: Sequence[PromoteItem],
    *,
    keep_previous: bool,
    force: bool,
    record_unchanged: bool,
) -> _Plan:
    plan = _Plan(moves=[], links=[], rows=[], aggregates=[], notes=[])
    seen: Dict[str, int] = {}
    builds: List[CommitRecord] = []
    for index, item in enumerate(items):
        record = find_build(db, item.commit_hash, item.distro_hash, item.extended_hash, layout=layout)
        link = LabelLink(layout, item.label, record.component if layout.use_components else None)
        if link.rel in seen:
            raise InvalidRequest(
                f"items {seen[link.rel]} and {index} both move {link.rel}: promote each label once per batch"
            )
        seen[link.rel] = index
        old = link.read()
        _check_expect(item, link, old)
        if not force:
            _check_agrees_with_db(db, layout, link, old)
        target = link.target_for(record.commit_hash, record.distro_hash)
        changed = old != target
        rel_dir = os.path.relpath(build_dir(layout, record), layout.repos_dir)
        plan.moves.append(
            Move(
                label=item.label,
                component=record.component,
                link=link.rel,
                repo_hash=record.repo_hash,
                commit_hash=record.commit_hash,
                distro_hash=record.distro_hash,
                target=target,
                repo_url=layout.url(rel_dir),
                previous=repo_hash_of(old),
                changed=changed,
            )
        )
        builds.append(record)
        if not changed and not record_unchanged:
            continue
        if changed:
            plan.links.append(journal.LinkMove(link=link.rel, old=old, new=target))
            if layout.use_components:
                plan.aggregate_targets.setdefault(item.label, {})[str(record.component)] = build_dir(layout, record)
        plan.rows.append(_Row(record.repo_hash, item.label, record.id, record.component))
        if keep_previous and changed and old is not None:
            _plan_previous(db, layout, link, old, plan)
    plan.links.extend(plan.previous_links)
    if layout.use_components and plan.aggregate_targets:
        _plan_aggregates(layout, builds, plan)
    return plan


def _plan_previous(db: StateDB, layout: Layout, link: LabelLink, old: str, plan: _Plan) -> None:
    """``previous-<label>`` follows the label's old target, if that build is still there."""
    previous = LabelLink(layout, previous_of(link.label), link.component)
    old_dir = link.base / old
    if not old_dir.is_dir():
        plan.notes.append(f"{previous.rel} not moved: {link.rel} pointed at {old}, which no longer exists")
        return
    if previous.read() != old:
        plan.previous_links.append(journal.LinkMove(link=previous.rel, old=previous.read(), new=old))
        if layout.use_components:
            plan.aggregate_targets.setdefault(previous.label, {})[str(link.component)] = old_dir
    record = find_record(db, repo_hash_of(old))
    if record is not None:
        plan.rows.insert(0, _Row(record.repo_hash, previous.label, record.id, record.component))
    else:
        plan.notes.append(f"{previous.rel}: {old} is not in the state DB, so no promotion row records it")


def _plan_aggregates(layout: Layout, builds: List[CommitRecord], plan: _Plan) -> None:
    rpm_name = layout.repo_file_name("rpm")
    file_name = rpm_name if (build_dir(layout, builds[0]) / rpm_name).is_file() else layout.repo_file_name("deb")
    for label, targets in plan.aggregate_targets.items():
        aggregate = plan_aggregate(layout, label, file_name, targets)
        plan.aggregates.append(aggregate)
        plan.links.extend(aggregate.moves)
        # DLRN's Promotion row names the aggregate its promotion produced: the label's last row.
        for index in range(len(plan.rows) - 1, -1, -1):
            if plan.rows[index].label == label:
                plan.rows[index] = dataclasses.replace(plan.rows[index], aggregate_hash=aggregate.digest)
                break
        for move in plan.moves:
            if move.label == label:
                move.aggregate_hash = aggregate.digest


# -- writing ----------------------------------------------------------------------------------


def _write(db: StateDB, layout: Layout, plan: _Plan, *, user: Optional[str], stamp: int, on_step: StepHook) -> None:
    """Rows, journal, links, commit — undoing the links if anything before the commit fails."""
    done: List[journal.LinkMove] = []
    committed = False
    try:
        with db.writer():
            mark = db.last_promotion_id()
            for row in plan.rows:
                db.record_promotion(
                    row.ref_hash,
                    row.label,
                    user,
                    stamp,
                    commit_id=row.commit_id,
                    component=row.component,
                    aggregate_hash=row.aggregate_hash,
                )
            on_step("rows")
            journal.write(
                layout,
                journal.Journal(
                    mark=mark, moves=tuple(plan.links), rows=tuple((row.label, row.ref_hash) for row in plan.rows)
                ),
            )
            on_step("journal")
            for move in plan.links:
                journal.apply(layout, [move], done)
                on_step(f"link {move.link}")
            on_step("links")
        committed = True
        on_step("committed")
    except BaseException as exc:
        if committed:
            raise  # the promotion holds; the journal is cleared by the next recover
        stuck = journal.undo(layout, done)
        if stuck:
            # Keep the journal: the next promotion's recover() puts them back.
            raise Conflict(
                f"promotion failed ({exc}) and {', '.join(stuck)} could not be put back yet: the next promotion"
                " restores them"
            ) from exc
        journal.clear(layout)
        raise
    journal.clear(layout)
