"""What is worth a message, derived from the state DB.

Three kinds of event:

- ``ftbfs``: a package's finished build FAILED and the one before it (in
  commit order, DLRN's order, as ``StateDB.failures`` uses) did not - a new
  failure to build from source, not every build of a failing package;
- ``fixed``: the first successful build after failed ones;
- ``stale_promotion``: a label whose newest promotion is ``stale_days`` old
  or older.

Every event has an id that names what happened (the build or the promotion
row), not when it was seen, so asking again yields the same ids: the sent
record in the state DB keys on them and a message is never sent twice.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import quote

from .._common.errors import InputError
from .._statedb.db import CommitRecord, StateDB
from .._statedb.schema import FAILED, SUCCESS

FTBFS = "ftbfs"
FIXED = "fixed"
STALE_PROMOTION = "stale_promotion"
KINDS = (FTBFS, FIXED, STALE_PROMOTION)
DAY = 86400


@dataclasses.dataclass(frozen=True)
class Event:
    """One thing to tell people about; fields that do not apply to its kind are None."""

    id: str
    kind: str
    # When it happened (the build's or the promotion's time), epoch seconds UTC: events go out oldest first.
    time: int
    project: Optional[str] = None
    release: Optional[str] = None
    commit_hash: Optional[str] = None
    distro_hash: Optional[str] = None
    repo_path: Optional[str] = None
    commit_subject: Optional[str] = None
    author: Optional[str] = None
    builder: Optional[str] = None
    nvr: Optional[str] = None
    log_line: Optional[str] = None
    log_url: Optional[str] = None
    # ftbfs: the last good build; fixed: the first failed build of the streak the fix ends.
    other_commit_hash: Optional[str] = None
    other_time: Optional[int] = None
    failed_builds: Optional[int] = None
    label: Optional[str] = None
    ref_hash: Optional[str] = None
    days: Optional[int] = None

    def as_dict(self) -> Dict[str, Any]:
        """The event as plain data, without the fields its kind leaves empty."""
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}

    def replace(self, **changes: Any) -> "Event":
        """A copy with ``changes`` (masked text)."""
        return dataclasses.replace(self, **changes)


def _part(name: str) -> str:
    """A name as a part of an event id: percent-encoded, so an id is one line of ASCII (mail headers carry it)."""
    return quote(name, safe="")


def _build_event(kind: str, build: CommitRecord, **extra: Any) -> Event:
    facts: Dict[str, Any] = {
        "project": build.project,
        "release": build.release,
        "commit_hash": build.commit_hash,
        "distro_hash": build.distro_hash,
        "repo_path": build.repo_path,
        "commit_subject": build.subject,
        "author": build.author,
        "builder": build.builder,
        "nvr": build.nvr,
        "log_line": (build.notes or "").strip() or None,
        "log_url": build.log_url,
    }
    facts.update(extra)
    return Event(
        id=f"{kind}/{_part(build.release)}/{_part(build.project)}/{_part(build.repo_hash)}",
        kind=kind,
        time=build.dt_build or build.dt_queued,
        **facts,
    )


def _failed_streak(db: StateDB, fix: CommitRecord) -> List[CommitRecord]:
    """The FAILED builds just before ``fix`` (commit order), oldest first."""
    streak: List[CommitRecord] = []
    for build in db.finished_builds(fix.project, fix.release):
        if build.id == fix.id:
            break
        streak = [*streak, build] if build.status == FAILED else []
    return streak


def build_events(db: StateDB, since: int, *, release: Optional[str] = None) -> List[Event]:
    """FTBFS and fix events of the builds finished at or after ``since``, oldest first."""
    events = []
    for change in db.build_changes(since, release=release):
        build, previous = change.build, change.previous
        if build.status == FAILED:
            events.append(
                _build_event(
                    FTBFS,
                    build,
                    other_commit_hash=previous.commit_hash if previous else None,
                    other_time=(previous.dt_build if previous else None),
                )
            )
        elif build.status == SUCCESS and previous is not None:
            streak = _failed_streak(db, build)
            first = streak[0] if streak else previous
            events.append(
                _build_event(
                    FIXED,
                    build,
                    log_line=None,
                    other_commit_hash=first.commit_hash,
                    other_time=first.dt_build,
                    failed_builds=len(streak) or 1,
                )
            )
    return events


def stale_promotions(db: StateDB, now: int, stale_days: int, labels: Optional[Sequence[str]] = None) -> List[Event]:
    """One event per label whose newest promotion is at least ``stale_days`` old; labels never promoted have none.

    The id names the promotion row, so a label that stays stuck is told once,
    and once more each time it moves and sticks again.
    """
    if stale_days < 1:
        raise InputError(f"stale_days must be 1 or more days, got {stale_days}")
    events = []
    for head in db.label_heads(labels):
        days = (now - head.timestamp) // DAY
        if days < stale_days:
            continue
        events.append(
            Event(
                id=f"{STALE_PROMOTION}/{_part(head.label)}/{head.id}",
                kind=STALE_PROMOTION,
                time=head.timestamp + stale_days * DAY,
                project=None,
                release=None,
                label=head.label,
                ref_hash=head.ref_hash,
                other_time=head.timestamp,
                days=int(days),
            )
        )
    return events


def collect(
    db: StateDB,
    now: int,
    *,
    kinds: Sequence[str] = KINDS,
    max_age_days: int = 7,
    stale_days: int = 3,
    release: Optional[str] = None,
    labels: Optional[Sequence[str]] = None,
) -> List[Event]:
    """Every event of ``kinds`` the DB holds now, oldest first.

    Builds finished more than ``max_age_days`` ago are old news (a first run
    on a DB with years of history tells the last days only).  Which events
    were sent already is the run's business (:mod:`.run`), not this one's.
    """
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise InputError(f"events: {', '.join(unknown)} is not an event kind; use {', '.join(KINDS)}")
    if max_age_days < 1:
        raise InputError(f"max_age_days must be 1 or more days, got {max_age_days}")
    found: List[Event] = []
    with db.reader():  # one snapshot for every query
        if FTBFS in kinds or FIXED in kinds:
            builds = build_events(db, now - max_age_days * DAY, release=release)
            found += [event for event in builds if event.kind in kinds]
        if STALE_PROMOTION in kinds:
            found += stale_promotions(db, now, stale_days, labels)
    return sorted(found, key=lambda event: (event.time, event.id))
