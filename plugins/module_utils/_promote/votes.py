"""Recording a CI job's vote: DLRN's ``report_result`` and the in-progress vote of ``last_tested_repo``.

A vote names a build by ``commit_hash`` + ``distro_hash`` (+ ``extended_hash``)
or an aggregate by ``aggregate_hash``, never both.  The same vote twice (same
hash, job, timestamp, success and in-progress state) is recorded once, so a
re-run playbook changes nothing; DLRN itself stores a duplicate, which an
API wanting that can ask for with ``dedupe=False``.
"""

from __future__ import annotations

import dataclasses
import getpass
import time
from typing import Any, Dict, Optional

from .._publish.layout import Layout
from .._statedb.db import CommitRecord, StateDB, VoteRecord
from .errors import InvalidRequest
from .hashes import find_aggregate, find_build

CONSISTENT_JOB = "consistent"


def default_user() -> Optional[str]:
    """Who votes or promotes when not told: the user running us (None without a user name, as in some containers)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


@dataclasses.dataclass(frozen=True)
class Vote:
    """A job's result as a client reports it (DLRN's report_result body)."""

    job_id: str
    success: bool
    url: Optional[str] = None
    timestamp: Optional[int] = None
    notes: Optional[str] = None
    user: Optional[str] = None
    commit_hash: Optional[str] = None
    distro_hash: Optional[str] = None
    extended_hash: Optional[str] = None
    aggregate_hash: Optional[str] = None
    in_progress: bool = False

    def check(self) -> None:
        """Raise InvalidRequest naming the field when the vote cannot be recorded as given."""
        if not isinstance(self.job_id, str) or not self.job_id.strip():
            raise InvalidRequest(f"job_id must be a non-empty string (the CI job's name), got {self.job_id!r}")
        if self.job_id == CONSISTENT_JOB:
            raise InvalidRequest(
                "job_id 'consistent' is the vote a build makes when its repository is consistent: use your job's name"
            )
        if not isinstance(self.success, bool):
            raise InvalidRequest(f"success must be true or false, got {self.success!r}")
        if self.in_progress and self.success:
            raise InvalidRequest("an in-progress vote cannot be a success: report the result when the job ends")
        if self.timestamp is not None and (
            isinstance(self.timestamp, bool) or not isinstance(self.timestamp, int) or self.timestamp < 0
        ):
            raise InvalidRequest(f"timestamp must be epoch seconds (an integer >= 0), got {self.timestamp!r}")
        for name in ("url", "notes", "user"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InvalidRequest(f"{name} must be a string, got {value!r}")
        build = any(getattr(self, name) for name in ("commit_hash", "distro_hash", "extended_hash"))
        if self.aggregate_hash and build:
            raise InvalidRequest(
                "aggregate_hash and commit_hash/distro_hash cannot be combined: vote on a build or on an aggregate"
            )
        if not self.aggregate_hash and (not self.commit_hash or not self.distro_hash):
            missing = "commit_hash" if not self.commit_hash else "distro_hash"
            raise InvalidRequest(
                f"{missing} is missing: name a build by commit_hash and distro_hash, or an aggregate by aggregate_hash"
            )


@dataclasses.dataclass
class VoteResult:
    """What was recorded (or, in check mode, would be), in DLRN's report_result shape."""

    changed: bool
    ref_hash: str
    vote: Dict[str, Any]

    def as_dict(self) -> Dict[str, Any]:
        """Plain data for a module result."""
        return dataclasses.asdict(self)


def _shape(vote: Vote, stamp: int, record: Optional[CommitRecord], stored: Optional[VoteRecord]) -> Dict[str, Any]:
    """DLRN's report_result answer (our full distro hash, the build's component, the stored user)."""
    source = stored if stored is not None else vote
    return {
        "commit_hash": record.commit_hash if record else None,
        "distro_hash": record.distro_hash if record else None,
        "extended_hash": None,
        "aggregate_hash": vote.aggregate_hash or None,
        "timestamp": stored.timestamp if stored else stamp,
        "job_id": vote.job_id,
        "success": bool(source.success),
        "in_progress": bool(source.in_progress),
        "url": source.url if source.url is not None else "",
        "notes": source.notes if source.notes is not None else "",
        "user": source.user,
        "component": record.component if record else None,
    }


def record_vote(
    db: StateDB,
    vote: Vote,
    *,
    layout: Optional[Layout] = None,
    check_mode: bool = False,
    dedupe: bool = True,
    now: Optional[int] = None,
) -> VoteResult:
    """Record ``vote`` in one transaction; returns whether anything changed.

    The hash must name a successful build that was not purged (or an
    aggregate a promotion produced or, given ``layout``, a label directory
    holds).  In check mode ``db`` may be read-only: nothing is written.
    """
    vote.check()
    stamp = vote.timestamp if vote.timestamp is not None else (now if now is not None else int(time.time()))
    if check_mode:
        return _record(db, vote, stamp, layout, dedupe, write=False)
    with db.writer():
        # One transaction: the hash is looked up, the duplicate searched and
        # the vote inserted with no purge or identical vote in between.
        return _record(db, vote, stamp, layout, dedupe, write=True)


def _record(db: StateDB, vote: Vote, stamp: int, layout: Optional[Layout], dedupe: bool, *, write: bool) -> VoteResult:
    aggregate = bool(vote.aggregate_hash)
    record: Optional[CommitRecord] = None
    if aggregate:
        ref_hash = find_aggregate(db, vote.aggregate_hash, layout).aggregate_hash
    else:
        record = find_build(db, vote.commit_hash, vote.distro_hash, vote.extended_hash, layout=layout)
        ref_hash = record.repo_hash
    existing = None
    if dedupe:
        for stored in db.votes_on([ref_hash], aggregate=aggregate)[ref_hash]:
            if (stored.job_id, stored.timestamp, stored.success, stored.in_progress) == (
                vote.job_id,
                stamp,
                vote.success,
                vote.in_progress,
            ) and (record is None or stored.commit_id == record.id):
                existing = stored
                break
    if existing is not None or not write:
        return VoteResult(changed=existing is None, ref_hash=ref_hash, vote=_shape(vote, stamp, record, existing))
    stored = db.record_vote(
        ref_hash,
        vote.job_id,
        vote.success,
        url=vote.url,
        notes=vote.notes,
        timestamp=stamp,
        aggregate=aggregate,
        in_progress=vote.in_progress,
        user=vote.user,
        commit_id=record.id if record else None,
    )
    return VoteResult(changed=True, ref_hash=ref_hash, vote=_shape(vote, stamp, record, stored))
