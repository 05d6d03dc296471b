"""The API's reads: what DLRN's endpoints select, over the state DB's schema.

Every function runs inside the caller's ``db.reader()`` (or ``writer()``)
block, so one request sees one state of the DB.  Votes of commit
repositories and of aggregates share the ``votes`` table (``aggregate``
tells them apart, where DLRN has ``civotes`` and ``civotes_agg``).  The SQL
is what SQLite and PostgreSQL both run (``?`` placeholders, ``"user"``
quoted: a reserved word in PostgreSQL); rows are read by index or name.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

from .._promote.hashes import no_extended_hash
from .._statedb.db import CommitRecord, StateDB
from .._statedb.schema import FAILED, RETRY, STATUSES, SUCCESS

CONSISTENT_JOB = "consistent"


def has_commits(db: StateDB) -> bool:
    """Whether the DB holds any commit (DLRN's health check)."""
    with db.reader() as conn:
        return conn.execute("SELECT 1 FROM commits LIMIT 1").fetchone() is not None


def find_commit(
    db: StateDB, commit_hash: str, distro_hash: str, extended_hash: Optional[str] = None
) -> Optional[CommitRecord]:
    """DLRN's ``_get_commit``: the newest successful build of those hashes (distro hash: full or a prefix).

    Our builds have no extended hash, so naming one finds nothing, as in DLRN
    for a commit without one.
    """
    if not no_extended_hash(extended_hash) or not commit_hash or not distro_hash:
        return None
    found = db.commits(status=SUCCESS, commit_hash=commit_hash, distro_hash=distro_hash, limit=1)
    return found[0] if found else None


def commit_votes(db: StateDB, commit: CommitRecord, success: Optional[bool]) -> List[Any]:
    """The votes on one build, in the order they were recorded (DLRN's repo_status)."""
    sql = "SELECT * FROM votes WHERE ref_hash = ? AND aggregate = 0 AND commit_id = ?"
    args: List[Any] = [commit.repo_hash, commit.id]
    if success is not None:
        sql += " AND success = ?"
        args.append(int(success))
    with db.reader() as conn:
        return conn.execute(sql + " ORDER BY id", args).fetchall()


def aggregate_votes(db: StateDB, aggregate_hash: str, success: Optional[bool]) -> List[Any]:
    """The votes on one aggregate hash, in the order they were recorded (DLRN's agg_status)."""
    sql = "SELECT * FROM votes WHERE ref_hash = ? AND aggregate = 1"
    args: List[Any] = [aggregate_hash]
    if success is not None:
        sql += " AND success = ?"
        args.append(int(success))
    with db.reader() as conn:
        return conn.execute(sql + " ORDER BY id", args).fetchall()


@dataclasses.dataclass(frozen=True)
class LastVote:
    """A vote found by last_tested_repo, with the build it is on."""

    vote_id: int
    timestamp: int
    job_id: str
    success: bool
    in_progress: bool
    user: Optional[str]
    commit_id: int
    commit_hash: str
    distro_hash: str
    component: Optional[str]


def _newest_vote(
    db: StateDB,
    since: float,
    *,
    success: Optional[bool],
    job_id: Optional[str] = None,
    component: Optional[str] = None,
    skip_consistent: bool = False,
) -> Optional[LastVote]:
    # Votes on builds that are not (or no longer) successful are skipped: DLRN
    # would answer them with a 500.
    sql = (
        'SELECT v.id, v.timestamp, v.job_id, v.success, v.in_progress, v."user", v.commit_id,'
        " c.commit_hash, c.distro_hash, c.component"
        " FROM votes AS v JOIN commits AS c ON c.id = v.commit_id"
        " WHERE v.aggregate = 0 AND v.timestamp > ? AND c.status = ?"
    )
    args: List[Any] = [since, SUCCESS]
    if skip_consistent:
        sql += " AND v.job_id != ?"
        args.append(CONSISTENT_JOB)
    if success is not None:
        sql += " AND v.success = ?"
        args.append(int(success))
    if job_id is not None:
        sql += " AND v.job_id = ?"
        args.append(job_id)
    if component is not None:
        sql += " AND c.component = ?"
        args.append(component)
    sql += " ORDER BY v.timestamp DESC, v.id DESC LIMIT 1"
    with db.reader() as conn:
        row = conn.execute(sql, args).fetchone()
    if row is None:
        return None
    return LastVote(
        vote_id=row[0],
        timestamp=row[1],
        job_id=row[2],
        success=bool(row[3]),
        in_progress=bool(row[4]),
        user=row[5],
        commit_id=row[6],
        commit_hash=row[7],
        distro_hash=row[8],
        component=row[9],
    )


def last_vote(
    db: StateDB,
    since: float,
    *,
    success: Optional[bool],
    job_id: Optional[str],
    component: Optional[str],
    fallback: bool,
) -> Optional[LastVote]:
    """DLRN's ``getVote``: the newest vote after ``since`` by these filters, with DLRN's fallbacks.

    First any CI's vote but ``consistent`` (of ``job_id`` when given).
    Without ``fallback`` (sequential mode) that is all.  Else, when
    ``job_id`` found nothing, the newest vote of any job, ``consistent``
    included and the component not looked at; then the newest vote of the
    component, ``consistent`` included.  (DLRN 0.26.1 means to filter the
    fallbacks by job name too, but its filters there are discarded; clients
    rely on what it does, so this does the same.)
    """
    vote = _newest_vote(db, since, success=success, job_id=job_id, component=component, skip_consistent=True)
    if vote is not None or not fallback:
        return vote
    if job_id is not None:
        vote = _newest_vote(db, since, success=success)
    if vote is None:
        vote = _newest_vote(db, since, success=success, component=component)
    return vote


@dataclasses.dataclass(frozen=True)
class PromotionRow:
    """A commit promotion with the build it moved the label to."""

    timestamp: int
    label: str
    user: Optional[str]
    component: Optional[str]
    aggregate_hash: Optional[str]
    commit_hash: str
    distro_hash: str
    commit_component: Optional[str]


def promotions(
    db: StateDB,
    *,
    commit_id: Optional[int],
    label: Optional[str],
    aggregate_hash: Optional[str],
    component: Optional[str],
    offset: int,
    limit: int,
) -> List[PromotionRow]:
    """DLRN's promotions listing: newest recorded first, after ``offset``, at most ``limit``."""
    sql = (
        "SELECT p.timestamp, p.label, p.user, p.component, p.aggregate_hash, c.commit_hash, c.distro_hash,"
        " c.component FROM promotions AS p JOIN commits AS c ON c.id = p.commit_id WHERE p.aggregate = 0"
    )
    args: List[Any] = []
    for column, value in (
        ("p.commit_id", commit_id),
        ("p.label", label),
        ("p.aggregate_hash", aggregate_hash),
        ("p.component", component),
    ):
        if value is not None:
            sql += f" AND {column} = ?"
            args.append(value)
    sql += " ORDER BY p.id DESC LIMIT ? OFFSET ?"
    args.extend([limit, offset])
    with db.reader() as conn:
        return [PromotionRow(*row) for row in conn.execute(sql, args)]


def build_counts(db: StateDB, start: int, end: int, project: Optional[str]) -> Tuple[int, int]:
    """Builds that succeeded in ``[start, end)`` and failed in ``[start, end]`` (DLRN's bounds, kept as they are)."""
    extra = " AND project = ?" if project else ""
    tail: List[Any] = [project] if project else []
    with db.reader() as conn:
        succeeded = conn.execute(
            f"SELECT COUNT(*) FROM commits WHERE status = ? AND dt_build >= ? AND dt_build < ?{extra}",
            [SUCCESS, start, end, *tail],
        ).fetchone()[0]
        failed = conn.execute(
            f"SELECT COUNT(*) FROM commits WHERE status = ? AND dt_build >= ? AND dt_build <= ?{extra}",
            [FAILED, start, end, *tail],
        ).fetchone()[0]
    return int(succeeded), int(failed)


def status_counts(db: StateDB) -> Dict[str, int]:
    """Commits per build status, every status present."""
    counts = dict.fromkeys(STATUSES, 0)
    with db.reader() as conn:
        for status, count in conn.execute("SELECT status, COUNT(*) FROM commits GROUP BY status"):
            counts[str(status)] = int(count)
    return counts


def last_processed(db: StateDB, project: str) -> Optional[CommitRecord]:
    """DLRN's ``getLastProcessedCommit``: the project's newest recorded commit that is not RETRY."""
    for record in db.commits(project=project, limit=None):
        if record.status != RETRY:
            return record
    return None


# -- the civotes pages -------------------------------------------------------------------------


def vote_page(db: StateDB, offset: int, limit: int, *, aggregate: bool) -> Tuple[List[Dict[str, Any]], int]:
    """The page of newest votes (without ``consistent``'s) grouped per build or aggregate, newest first.

    As DLRN, the counts cover only the votes of this page.  Returns the
    lines and the number of votes on the page.
    """
    if aggregate:
        sql = (
            "SELECT ref_hash, success, timestamp, NULL, NULL, NULL FROM votes WHERE aggregate = 1"
            " ORDER BY timestamp DESC, id DESC LIMIT ? OFFSET ?"
        )
    else:
        sql = (
            "SELECT v.ref_hash, v.success, v.timestamp, c.commit_hash, c.distro_hash, c.component FROM votes AS v"
            " JOIN commits AS c ON c.id = v.commit_id WHERE v.aggregate = 0 AND v.job_id != ?"
            " ORDER BY v.timestamp DESC, v.id DESC LIMIT ? OFFSET ?"
        )
    args: List[Any] = [limit, offset] if aggregate else [CONSISTENT_JOB, limit, offset]
    with db.reader() as conn:
        rows = conn.execute(sql, args).fetchall()
    lines: Dict[str, Dict[str, Any]] = {}
    for ref_hash, success, timestamp, commit_hash, distro_hash, component in rows:
        line = lines.setdefault(
            ref_hash,
            {
                "ref_hash": ref_hash,
                "commit_hash": commit_hash,
                "distro_hash": distro_hash,
                "component": component,
                "success": 0,
                "failure": 0,
                "timestamp": timestamp,
            },
        )
        line["success" if success else "failure"] += 1
        line["timestamp"] = max(line["timestamp"], timestamp)
    ordered = sorted(lines.values(), key=lambda line: line["timestamp"], reverse=True)
    return ordered, len(rows)


def vote_details(
    db: StateDB,
    *,
    aggregate: bool,
    commit: Optional[CommitRecord] = None,
    ref_hash: Optional[str] = None,
    component: Optional[str] = None,
    job_id: Optional[str] = None,
    success: Optional[bool] = None,
    limit: int = 1000,
) -> List[Dict[str, Any]]:
    """Votes for the civotes detail pages, newest first, by build, aggregate, component and/or job."""
    sql = (
        "SELECT v.*, c.commit_hash, c.distro_hash, c.component FROM votes AS v"
        " LEFT JOIN commits AS c ON c.id = v.commit_id WHERE v.aggregate = ?"
    )
    args: List[Any] = [int(aggregate)]
    if commit is not None:
        sql += " AND v.commit_id = ?"
        args.append(commit.id)
    if ref_hash is not None:
        sql += " AND v.ref_hash = ?"
        args.append(ref_hash)
    if component is not None:
        sql += " AND c.component = ?"
        args.append(component)
    if job_id is not None:
        sql += " AND v.job_id = ?"
        args.append(job_id)
    if success is not None:
        sql += " AND v.success = ?"
        args.append(int(success))
    sql += " ORDER BY v.timestamp DESC, v.id DESC LIMIT ?"
    args.append(limit)
    with db.reader() as conn:
        return [dict(row) for row in conn.execute(sql, args)]
