"""Schema of the state DB as a list of forward migrations.

The DB records the number of the last migration applied (SQLite's ``PRAGMA
user_version``; a one-row table in PostgreSQL).  A migration is never
edited once released: changes go into a new one, so a DB created by any
older collection can be brought forward step by step.  Each step runs
inside the caller's write transaction together with the version bump, so a
crash leaves the DB at the old version or the new one, never between.

The statements are written in SQLite's dialect, the embedded default, and
run as they are there; every other backend turns them into its own
(``Backend.ddl``), so there is one list of migrations for every engine.

Column names follow DLRN's data model where it has a word for the thing
(``commit_hash``, ``distro_hash``, ``dt_commit``, ``dt_build``, ``status``,
``notes``, ``flags``, ``component``, ``commit_branch`` ...); where the
collection has its own word, DLRN's is named beside it: ``project`` is its
``project_name``, ``label`` its ``promotion_name``.  Migration 1 named the
packaging commit ``distgit_hash``; migration 5 renames it to DLRN's
``distro_hash``, the word the API, votes and docs use.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Type

from .backends.sqlite import SQLiteBackend

if TYPE_CHECKING:
    from .backends.base import Backend

# Build states of a commit.  QUEUED and RETRY wait for a builder, BUILDING is
# claimed by one, SUCCESS and FAILED are final for that commit.
QUEUED = "QUEUED"
BUILDING = "BUILDING"
SUCCESS = "SUCCESS"
FAILED = "FAILED"
RETRY = "RETRY"
STATUSES = (QUEUED, BUILDING, SUCCESS, FAILED, RETRY)

# Bits of ``commits.flags``, set only through StateDB.mark_purged and
# mark_published.  0x2 is DLRN's purge flag; 0x4, ours, marks a commit whose
# publication completed (DLRN has no such flag: it publishes in place).
FLAG_PURGED = 0x2
FLAG_PUBLISHED = 0x4

# States of a notification's (event, channel) row: SENDING is written before
# the message goes out, SENT once the server took it (see _notify/run.py).
NOTIFICATION_SENDING = "SENDING"
NOTIFICATION_SENT = "SENT"

_V1 = (
    # One row per package (rdoinfo ``project``); commits name it by text so
    # a poll can queue a commit for a project it sees for the first time.
    """
    CREATE TABLE projects (
        id INTEGER PRIMARY KEY,
        project TEXT NOT NULL UNIQUE,
        component TEXT,
        upstream TEXT,
        distgit TEXT,
        maintainers TEXT NOT NULL DEFAULT '[]',
        dt_added INTEGER NOT NULL,
        dt_updated INTEGER NOT NULL
    )
    """,
    # One row per (project, release, upstream commit, distgit commit): the
    # unit DLRN builds and publishes as repos/<h[:2]>/<h[2:4]>/<hash>_<distgit8>.
    """
    CREATE TABLE commits (
        id INTEGER PRIMARY KEY,
        project TEXT NOT NULL,
        release TEXT NOT NULL,
        commit_hash TEXT NOT NULL,
        distgit_hash TEXT NOT NULL,
        commit_branch TEXT,
        distgit_branch TEXT,
        dt_commit INTEGER NOT NULL,
        dt_distgit INTEGER,
        author TEXT,
        subject TEXT,
        component TEXT,
        status TEXT NOT NULL CHECK (status IN ('QUEUED', 'BUILDING', 'SUCCESS', 'FAILED', 'RETRY')),
        dt_queued INTEGER NOT NULL,
        dt_started INTEGER,
        dt_build INTEGER,
        builder TEXT,
        nvr TEXT,
        artifacts TEXT NOT NULL DEFAULT '[]',
        log_url TEXT,
        notes TEXT,
        flags INTEGER NOT NULL DEFAULT 0,
        UNIQUE (project, release, commit_hash, distgit_hash)
    )
    """,
    "CREATE INDEX commits_by_project ON commits (release, project, dt_commit, dt_distgit, id)",
    "CREATE INDEX commits_by_status ON commits (status, dt_queued, id)",
    "CREATE INDEX commits_by_hash ON commits (commit_hash)",
)

_V2 = (
    # Builds may be retried (network blips, mirror errors); DLRN caps them.
    "ALTER TABLE commits ADD COLUMN retries INTEGER NOT NULL DEFAULT 0",
    # Votes of CI jobs on a commit repo (commit_id set) or on an aggregate
    # hash (aggregate = 1, commit_id NULL): DLRN's civotes and civotes_agg in
    # one table; job_id/success/url/in_progress are its ci_name/ci_vote/
    # ci_url/ci_in_progress, named as the rest of the collection names them.
    """
    CREATE TABLE votes (
        id INTEGER PRIMARY KEY,
        ref_hash TEXT NOT NULL,
        aggregate INTEGER NOT NULL DEFAULT 0 CHECK (aggregate IN (0, 1)),
        commit_id INTEGER REFERENCES commits (id),
        job_id TEXT NOT NULL,
        success INTEGER NOT NULL CHECK (success IN (0, 1)),
        in_progress INTEGER NOT NULL DEFAULT 0 CHECK (in_progress IN (0, 1)),
        url TEXT,
        notes TEXT,
        user TEXT,
        timestamp INTEGER NOT NULL
    )
    """,
    "CREATE INDEX votes_by_hash ON votes (ref_hash, timestamp)",
    # A label (DLRN's promotion_name) moving to a hash; the latest row per
    # label is where it points.
    """
    CREATE TABLE promotions (
        id INTEGER PRIMARY KEY,
        ref_hash TEXT NOT NULL,
        aggregate INTEGER NOT NULL DEFAULT 0 CHECK (aggregate IN (0, 1)),
        commit_id INTEGER REFERENCES commits (id),
        label TEXT NOT NULL,
        user TEXT,
        timestamp INTEGER NOT NULL
    )
    """,
    "CREATE INDEX promotions_by_label ON promotions (label, timestamp)",
)

_V3 = (
    # DLRN's Promotion row carries the commit's component and, with
    # components, the aggregate hash the label's aggregate had after the
    # move: a commit promotion and the aggregate it produced in one row.
    "ALTER TABLE promotions ADD COLUMN component TEXT",
    "ALTER TABLE promotions ADD COLUMN aggregate_hash TEXT",
    "CREATE INDEX promotions_by_aggregate_hash ON promotions (aggregate_hash)",
    # The promoter's candidates from ``consistent`` and DLRN's
    # last_tested_repo both ask for one job's newest votes.
    "CREATE INDEX votes_by_job ON votes (job_id, timestamp)",
)

_V4 = (
    # Users of the REST API (DLRN's ``users`` table): the password column
    # holds a salted KDF hash, never a password.
    """
    CREATE TABLE users (
        username TEXT PRIMARY KEY,
        password TEXT NOT NULL,
        dt_updated INTEGER NOT NULL
    )
    """,
    # DLRN's last_tested_repo asks for the newest vote of any job after a
    # time: without this a million votes are scanned.
    "CREATE INDEX votes_by_time ON votes (timestamp)",
)

_V5 = (
    # One word per concept: the packaging commit is DLRN's ``distro_hash``
    # everywhere (API, votes, buildinfo, modules); SQLite >= 3.25 renames the
    # column in the UNIQUE constraint and the indexes too.
    "ALTER TABLE commits RENAME COLUMN distgit_hash TO distro_hash",
)

_V6 = (
    # The notifications sent (or being sent) per event and channel: an
    # event's id names what happened (a build, a promotion row), so a
    # message is never sent twice; throttling counts rows by dt_claimed.
    """
    CREATE TABLE notifications (
        event_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('SENDING', 'SENT')),
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        recipients TEXT NOT NULL DEFAULT '[]',
        dt_claimed INTEGER NOT NULL,
        dt_sent INTEGER,
        PRIMARY KEY (event_id, channel)
    )
    """,
    "CREATE INDEX notifications_by_time ON notifications (dt_claimed)",
)

MIGRATIONS: Dict[int, Tuple[str, ...]] = {1: _V1, 2: _V2, 3: _V3, 4: _V4, 5: _V5, 6: _V6}
SCHEMA_VERSION = max(MIGRATIONS)
_CREATE_TABLE = re.compile(r"\s*CREATE TABLE (\w+)")


def tables() -> Tuple[str, ...]:
    """The tables the migrations create, in order."""
    return tuple(
        match.group(1)
        for version in sorted(MIGRATIONS)
        for statement in MIGRATIONS[version]
        for match in [_CREATE_TABLE.match(statement)]
        if match
    )


def user_version(conn: Any, dialect: Optional[Type["Backend"]] = None) -> int:
    """Return the schema version recorded in the DB (0 for a new one); ``dialect`` defaults to SQLite's."""
    return (dialect or SQLiteBackend).user_version(conn)


def migrate(conn: Any, target: int = SCHEMA_VERSION, dialect: Optional[Type["Backend"]] = None) -> Tuple[int, int]:
    """Apply the migrations after the DB's version up to ``target``, in ``dialect`` (SQLite's by default).

    The caller owns the transaction (SQLite: ``BEGIN IMMEDIATE``): DDL and
    the version bump are transactional in both engines, so they commit or
    roll back together.  Returns ``(old_version, new_version)``.
    """
    dialect = dialect or SQLiteBackend
    old = dialect.user_version(conn)
    for version in range(old + 1, target + 1):
        for statement in MIGRATIONS[version]:
            conn.execute(dialect.ddl(statement))
        dialect.set_user_version(conn, version)
    return old, max(old, target)
