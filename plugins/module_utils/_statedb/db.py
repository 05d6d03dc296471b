"""The state DB: what was polled, built, voted on and promoted.

One SQLite file in WAL mode on the repo server (the embedded default), or a
PostgreSQL database for a farm whose builders, promoters and API workers on
several hosts write at once; the ``db`` value says which (a path or a
``postgresql://`` URL) and :mod:`.backends` holds what differs.

The concurrency contract, whatever the engine: a :meth:`StateDB.writer`
block runs alone - no other writer changes the DB until it commits - each
writer waiting ``lock_timeout`` at most, then failing with a clear error
(:class:`StateDBBusy`); readers never wait and read the last committed
state while a writer works; every commit is durable before it returns
(SQLite: ``synchronous=FULL``; PostgreSQL: the server's WAL), so losing
power loses nothing committed.  The few writes StateDB knows are safe side
by side (a claim, a build's result, a vote, a flag, a notification claim:
one row locked, or an insert a unique key guards) are *shared* writers,
which PostgreSQL runs at once; SQLite runs every writer in turn
(:mod:`.backends.sqlite`, :mod:`.backends.postgresql`).

SQL is written once, with ``?`` placeholders, in what both engines accept.
All timestamps are integers, epoch seconds UTC.  Records come back as
dataclasses with ``as_dict()`` for modules.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from .._common.errors import InputError
from . import backends, schema
from .schema import (
    BUILDING,
    FAILED,
    FLAG_PUBLISHED,
    FLAG_PURGED,
    NOTIFICATION_SENDING,
    NOTIFICATION_SENT,
    QUEUED,
    RETRY,
    STATUSES,
    SUCCESS,
)

# Raised by StateDB, imported from here by its callers; defined with the backends that raise them.
StateDBError = backends.StateDBError
StateDBBusy = backends.StateDBBusy
StateDBUnavailable = backends.StateDBUnavailable

# Labels DLRN itself moves on every build; a promotion must not steal them.
RESERVED_LABELS = ("current", "consistent")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# The order that makes a commit "newer" for a project: DLRN's
# getLastProcessedCommit (commit time, then insertion), plus the distgit
# time because a packaging-only change makes a new build too.
_NEWEST_FIRST = "dt_commit DESC, COALESCE(dt_distgit, 0) DESC, id DESC"


def _now() -> int:
    return int(time.time())


@dataclasses.dataclass(frozen=True)
class ProjectRecord:
    """A package known to the state DB (rdoinfo ``project``)."""

    id: int
    project: str
    component: Optional[str]
    upstream: Optional[str]
    distgit: Optional[str]
    maintainers: List[str]
    dt_added: int
    dt_updated: int

    def as_dict(self) -> Dict[str, Any]:
        """Return the record as plain data for a module result."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class NewCommit:
    """A commit found by a poll, as given to :meth:`StateDB.queue`."""

    project: str
    release: str
    commit_hash: str
    distro_hash: str
    dt_commit: int
    commit_branch: Optional[str] = None
    distgit_branch: Optional[str] = None
    dt_distgit: Optional[int] = None
    author: Optional[str] = None
    subject: Optional[str] = None
    component: Optional[str] = None
    dt_queued: Optional[int] = None

    def validate(self, where: str) -> None:
        """Raise InputError naming ``where`` and the field when a value is unusable."""
        for name in ("project", "release", "commit_hash", "distro_hash"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"{where}: {name} must be a non-empty string, got {value!r}")
        for name in ("dt_commit", "dt_distgit", "dt_queued"):
            value = getattr(self, name)
            if value is None and name != "dt_commit":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"{where}: {name} must be epoch seconds (an integer >= 0), got {value!r}")


@dataclasses.dataclass(frozen=True)
class CommitRecord:
    """One (project, release, commit_hash, distro_hash) and its build state."""

    id: int
    project: str
    release: str
    commit_hash: str
    distro_hash: str
    commit_branch: Optional[str]
    distgit_branch: Optional[str]
    dt_commit: int
    dt_distgit: Optional[int]
    author: Optional[str]
    subject: Optional[str]
    component: Optional[str]
    status: str
    dt_queued: int
    dt_started: Optional[int]
    dt_build: Optional[int]
    builder: Optional[str]
    nvr: Optional[str]
    artifacts: List[str]
    log_url: Optional[str]
    notes: Optional[str]
    flags: int
    retries: int

    @property
    def repo_hash(self) -> str:
        """DLRN's name for this build's repository: ``<commit_hash>_<distro_hash[:8]>``."""
        return f"{self.commit_hash}_{self.distro_hash[:8]}"

    @property
    def repo_path(self) -> str:
        """DLRN's sharded repository directory, relative to ``repos/``."""
        return f"{self.commit_hash[:2]}/{self.commit_hash[2:4]}/{self.repo_hash}"

    def as_dict(self) -> Dict[str, Any]:
        """Return the record as plain data, with ``repo_hash`` and ``repo_path``."""
        data = dataclasses.asdict(self)
        data["repo_hash"] = self.repo_hash
        data["repo_path"] = self.repo_path
        return data


@dataclasses.dataclass(frozen=True)
class FtbfsRecord:
    """A package that fails to build from source: since which commit, how often, why, and whose it is."""

    project: str
    release: str
    last_failed: CommitRecord  # the newest failed build; its notes hold the telling log line
    first_failed: CommitRecord  # the first failure after the last success
    last_success: Optional[CommitRecord]  # None: it never built
    failures: int  # failed builds since the last success
    maintainers: List[str]

    @property
    def since(self) -> int:
        """When it started failing: the first failed build's time."""
        return self.first_failed.dt_build or self.first_failed.dt_queued

    def as_dict(self) -> Dict[str, Any]:
        """Plain data for a module result or the status page."""
        return {
            "project": self.project,
            "release": self.release,
            "failures": self.failures,
            "since": self.since,
            "error": self.last_failed.notes,
            "maintainers": list(self.maintainers),
            "last_failed": self.last_failed.as_dict(),
            "first_failed": self.first_failed.as_dict(),
            "last_success": self.last_success.as_dict() if self.last_success else None,
        }


class RecheckRefused(InputError):
    """A recheck that cannot be done; ``reason`` is ``none``, ``succeeded`` or ``building``."""

    def __init__(self, message: str, reason: str, record: Optional[CommitRecord] = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.record = record


@dataclasses.dataclass(frozen=True)
class VoteRecord:
    """A CI job's vote on a commit repository or an aggregate hash."""

    id: int
    ref_hash: str
    aggregate: bool
    commit_id: Optional[int]
    job_id: str
    success: bool
    in_progress: bool
    url: Optional[str]
    notes: Optional[str]
    user: Optional[str]
    timestamp: int

    def as_dict(self) -> Dict[str, Any]:
        """Return the record as plain data for a module result."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class PromotionRecord:
    """A label moved to a hash by a user at a time."""

    id: int
    ref_hash: str
    aggregate: bool
    commit_id: Optional[int]
    label: str
    user: Optional[str]
    timestamp: int
    component: Optional[str]
    aggregate_hash: Optional[str]

    def as_dict(self) -> Dict[str, Any]:
        """Return the record as plain data for a module result."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class BuildChange:
    """A finished build whose status differs from the package's previous finished build (commit order)."""

    build: CommitRecord
    previous: Optional[CommitRecord]


@dataclasses.dataclass(frozen=True)
class NotificationRecord:
    """A notification of one event on one channel: being sent (SENDING) or sent (SENT)."""

    event_id: str
    channel: str
    state: str
    kind: str
    subject: str
    recipients: List[str]
    dt_claimed: int
    dt_sent: Optional[int]

    def as_dict(self) -> Dict[str, Any]:
        """Return the record as plain data for a module result."""
        return dataclasses.asdict(self)


_JSON_LISTS = ("artifacts", "maintainers", "recipients")
_BOOLS = ("aggregate", "success", "in_progress")


@functools.lru_cache(maxsize=None)
def _decoders(cls: Any) -> Tuple[Tuple[str, Any], ...]:
    """Per field of a record class, how to decode its column (computed once: a promotion decision reads
    thousands of votes, and ``dataclasses.fields`` per row was most of its time)."""
    return tuple(
        (field.name, json.loads if field.name in _JSON_LISTS else bool if field.name in _BOOLS else None)
        for field in dataclasses.fields(cls)
    )


def _record(cls: Any, row: Any) -> Any:
    """Build a record dataclass from a row, decoding JSON lists and booleans."""
    return cls(**{name: row[name] if decode is None else decode(row[name]) for name, decode in _decoders(cls)})


def summarize(records: Iterable[CommitRecord]) -> Dict[str, int]:
    """Count ``records`` per status (every status present, zero included)."""
    counts = dict.fromkeys(STATUSES, 0)
    for record in records:
        counts[record.status] += 1
    return counts


@contextmanager
def using(db: Union["StateDB", str, "os.PathLike[str]", None]) -> Iterator[Optional["StateDB"]]:
    """For engine functions that take a DB or its path.

    An opened StateDB (or None) is used as it is, a path is opened as a writer.
    """
    if db is None or isinstance(db, StateDB):
        yield db
        return
    with StateDB(db) as opened:
        yield opened


def _timestamp(value: Optional[int], what: str) -> int:
    if value is None:
        return _now()
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{what} must be epoch seconds (an integer >= 0), got {value!r}")
    return value


class StateDB:
    """The state DB that ``target`` names: an SQLite file's path, or a ``postgresql://`` URL.

    Opening for writing creates the DB (SQLite: the file) and migrates its
    schema forward; ``readonly=True`` never writes and refuses a missing or
    outdated DB.  ``busy_timeout`` bounds the engine's own waits (SQLite:
    a busy file; PostgreSQL: connecting), ``lock_timeout`` the wait for
    another writer's lock (both in seconds).  ``name`` is what messages
    call the DB (a URL's password masked); ``path`` is the SQLite file
    (None for another engine).
    """

    def __init__(
        self,
        path: Union[str, "os.PathLike[str]"],
        *,
        readonly: bool = False,
        busy_timeout: float = 30.0,
        lock_timeout: float = 120.0,
    ) -> None:
        target = os.fspath(path)
        self.readonly = readonly
        self.lock_timeout = lock_timeout
        self._depth = 0
        self._shared = False
        self._backend = backends.for_target(target)(
            target, readonly=readonly, busy_timeout=busy_timeout, lock_timeout=lock_timeout
        )
        self.name = self._backend.name
        self.engine = self._backend.engine
        self.path: Optional[Path] = getattr(self._backend, "path", None)
        self._conn = self._backend.conn
        try:
            self.schema_version = self._check_schema()
        except BaseException:
            self._backend.close(checked=False)
            raise

    @staticmethod
    def exists(target: Union[str, "os.PathLike[str]"]) -> bool:
        """Whether ``target`` holds a state DB already (check mode starts from nothing when not)."""
        return backends.for_target(target).exists(os.fspath(target))

    # -- schema and transactions ----------------------------------------------------------

    def _check_schema(self) -> int:
        version = self._backend.read_version()
        if version > schema.SCHEMA_VERSION:
            raise InputError(
                f"state DB {self.name} has schema version {version} but this collection knows only up to "
                f"{schema.SCHEMA_VERSION}: upgrade the distroforge.openstack collection"
            )
        if self.readonly:
            if version < schema.SCHEMA_VERSION:
                raise InputError(
                    f"state DB {self.name} has schema version {version}, this collection needs "
                    f"{schema.SCHEMA_VERSION}: run a poll (distroforge.openstack.source_poll) to migrate it"
                )
            return version
        if version == schema.SCHEMA_VERSION and self._backend.ready_for_writes():
            # The usual case: nothing to change, so do not queue behind a writer.
            return version
        with self._backend.migration():
            # Read again under the lock: another process may have migrated.
            _old, version = schema.migrate(self._conn, dialect=type(self._backend))
        return version

    @contextmanager
    def writer(self, *, shared: bool = False) -> Iterator[Any]:
        """Run the block as a writer: commit on success, roll back on any exception.

        The block runs alone: no other writer changes the DB until it ends,
        so what it reads stays true while it decides.  ``shared=True`` is
        for a block that is safe beside other shared ones by itself (it
        changes one row read with ``FOR UPDATE`` - :attr:`for_update` - or
        inserts under a unique key): PostgreSQL runs those at once, SQLite
        one at a time as every writer.  Nested blocks join the outermost
        transaction; an exclusive block cannot nest in a shared one.
        """
        if self.readonly:
            raise InputError(f"state DB {self.name} is opened read-only: open it with readonly=False to write")
        if self._depth:
            if self._shared and not shared:
                raise RuntimeError("state DB: an exclusive writer() block cannot nest in a shared one")
            self._depth += 1
            try:
                yield self._conn
            finally:
                self._depth -= 1
            return
        with self._backend.write_transaction(shared=shared):
            self._depth, self._shared = 1, shared
            try:
                yield self._conn
            finally:
                self._depth, self._shared = 0, False

    @property
    def broken(self) -> bool:
        """Whether the connection is lost for good (a database server restarted): open a new StateDB."""
        return self._backend.broken

    @property
    def for_update(self) -> str:
        """What ends a SELECT of the row a shared writer is about to change (`` FOR UPDATE`` or nothing)."""
        return self._backend.for_update

    @contextmanager
    def reader(self) -> Iterator[Any]:
        """One consistent snapshot for several SELECTs (never blocks on a writer).

        Nested blocks, and the methods of this class called inside one, join
        the outer snapshot: an API request reads one state of the DB.
        """
        if self._depth or self._backend.in_transaction:
            yield self._conn
            return
        with self._backend.read_transaction():
            yield self._conn

    def close(self) -> None:
        """Close the connection; raise StateDBBusy if a writer changed the file under an immutable read."""
        self._backend.close()

    def __enter__(self) -> "StateDB":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:  # the block's own error is the one to report
            self._backend.close(checked=False)

    def integrity_check(self) -> str:
        """Return the engine's verdict on the DB (SQLite's ``PRAGMA integrity_check``): ``ok`` when healthy."""
        return self._backend.integrity_check()

    # -- projects ---------------------------------------------------------------------

    def upsert_project(
        self,
        project: str,
        *,
        component: Optional[str] = None,
        upstream: Optional[str] = None,
        distgit: Optional[str] = None,
        maintainers: Sequence[str] = (),
        now: Optional[int] = None,
    ) -> Tuple[ProjectRecord, bool]:
        """Create or update a package; returns the record and whether anything changed."""
        if not isinstance(project, str) or not project.strip():
            raise InputError(f"state DB {self.name}: project name must be a non-empty string, got {project!r}")
        stamp = _timestamp(now, "project timestamp")
        wanted = (component, upstream, distgit, json.dumps(list(maintainers)))
        with self.writer() as conn:
            row = conn.execute("SELECT * FROM projects WHERE project = ?", (project,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO projects (project, component, upstream, distgit, maintainers, dt_added, dt_updated)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (project, *wanted, stamp, stamp),
                )
                changed = True
            elif (row["component"], row["upstream"], row["distgit"], row["maintainers"]) != wanted:
                conn.execute(
                    "UPDATE projects SET component = ?, upstream = ?, distgit = ?, maintainers = ?, dt_updated = ?"
                    " WHERE project = ?",
                    (*wanted, stamp, project),
                )
                changed = True
            else:
                changed = False
            row = conn.execute("SELECT * FROM projects WHERE project = ?", (project,)).fetchone()
        return _record(ProjectRecord, row), changed

    def projects(self) -> List[ProjectRecord]:
        """Return every known package, by name."""
        with self.reader() as conn:
            rows = conn.execute("SELECT * FROM projects ORDER BY project").fetchall()
        return [_record(ProjectRecord, row) for row in rows]

    # -- polling ----------------------------------------------------------------------

    def heads(self, release: str) -> Dict[str, CommitRecord]:
        """Return per project the newest commit known for ``release``: what a poll compares against.

        Every status counts (a RETRY or FAILED commit is still known), so a
        poll never queues the same head twice.
        """
        return {record.project: record for record in self._latest(release=release)}

    def queue(self, changes: Iterable[Union[NewCommit, Mapping[str, Any]]]) -> List[CommitRecord]:
        """Record new commits as QUEUED in one transaction; returns only those that were new.

        A (project, release, commit_hash, distro_hash) already in the DB, or
        twice in ``changes``, is skipped, so re-running a poll is harmless.
        """
        items = [change if isinstance(change, NewCommit) else self._new_commit(change) for change in changes]
        for index, item in enumerate(items):
            item.validate(f"state DB {self.name}: queued commit #{index} ({getattr(item, 'project', '?')})")
        if not items:
            return []
        stamp = _now()
        new_ids = []
        with self.writer() as conn:
            for item in items:
                dt_queued = item.dt_queued if item.dt_queued is not None else stamp
                conn.execute(
                    "INSERT INTO projects (project, component, dt_added, dt_updated) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (project) DO NOTHING",
                    (item.project, item.component, dt_queued, dt_queued),
                )
                commit_id = self._backend.insert_id(
                    conn,
                    "INSERT INTO commits (project, release, commit_hash, distro_hash, commit_branch, distgit_branch,"
                    " dt_commit, dt_distgit, author, subject, component, status, dt_queued)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (project, release, commit_hash, distro_hash) DO NOTHING",
                    (
                        item.project,
                        item.release,
                        item.commit_hash,
                        item.distro_hash,
                        item.commit_branch,
                        item.distgit_branch,
                        item.dt_commit,
                        item.dt_distgit,
                        item.author,
                        item.subject,
                        item.component,
                        QUEUED,
                        dt_queued,
                    ),
                )
                if commit_id is not None:
                    new_ids.append(commit_id)
            return [self._get(conn, commit_id) for commit_id in new_ids]

    def _new_commit(self, change: Mapping[str, Any]) -> NewCommit:
        names = {field.name for field in dataclasses.fields(NewCommit)}
        unknown = sorted(set(change) - names)
        if unknown:
            raise InputError(f"state DB {self.name}: queued commit has unknown field(s) {', '.join(unknown)}")
        try:
            return NewCommit(**change)
        except TypeError as exc:
            raise InputError(f"state DB {self.name}: queued commit {dict(change)!r} is incomplete: {exc}") from exc

    # -- build lifecycle ----------------------------------------------------------------

    def claim(self, commit_id: int, builder: str, *, now: Optional[int] = None) -> bool:
        """Move a QUEUED or RETRY commit to BUILDING for ``builder``; False if it is not waiting.

        Atomic across processes: of concurrent claims exactly one wins.
        """
        if not isinstance(builder, str) or not builder.strip():
            raise InputError(f"state DB {self.name}: builder must be a non-empty string, got {builder!r}")
        stamp = _timestamp(now, "claim timestamp")
        # Shared: the UPDATE's own WHERE decides, and the engine re-checks it after a concurrent claim.
        with self.writer(shared=True) as conn:
            cursor = conn.execute(
                "UPDATE commits SET status = ?, builder = ?, dt_started = ? WHERE id = ? AND status IN (?, ?)",
                (BUILDING, builder, stamp, commit_id, QUEUED, RETRY),
            )
            if cursor.rowcount == 1:
                return True
            self._get(conn, commit_id)  # raises for an unknown id
            return False

    def finish(
        self,
        commit_id: int,
        status: str,
        *,
        nvr: Optional[str] = None,
        artifacts: Sequence[str] = (),
        log_url: Optional[str] = None,
        notes: Optional[str] = None,
        dt_build: Optional[int] = None,
    ) -> CommitRecord:
        """Record the outcome of a BUILDING commit: SUCCESS, FAILED or RETRY (which counts a retry).

        ``log_url`` is the build log's URL or path on the repo server.
        """
        if status not in (SUCCESS, FAILED, RETRY):
            raise InputError(f"state DB {self.name}: build status must be SUCCESS, FAILED or RETRY, got {status!r}")
        stamp = _timestamp(dt_build, "dt_build")
        artifact_list = list(artifacts)
        if not all(isinstance(item, str) for item in artifact_list):
            raise InputError(f"state DB {self.name}: artifacts must be a list of strings (file names or paths)")
        with self.writer(shared=True) as conn:
            current = self._get(conn, commit_id, lock=True)
            if current.status != BUILDING:
                raise InputError(
                    f"state DB {self.name}: commit {commit_id} ({current.project} {current.commit_hash[:7]}) is "
                    f"{current.status}, not BUILDING: claim it before finishing it"
                )
            conn.execute(
                "UPDATE commits SET status = ?, nvr = ?, artifacts = ?, log_url = ?, notes = ?,"
                " dt_build = ?, retries = retries + ? WHERE id = ?",
                (
                    status,
                    nvr,
                    json.dumps(artifact_list),
                    log_url,
                    notes,
                    stamp,
                    1 if status == RETRY else 0,
                    commit_id,
                ),
            )
            return self._get(conn, commit_id)

    def mark_published(self, commit_id: int) -> bool:
        """Flag a commit published (its repository is complete in place); False when it already was.

        Inside a caller's ``writer()`` block the flag joins that transaction,
        so what the caller records with it (a vote) commits with it or not at all.
        """
        return self._add_flag(commit_id, FLAG_PUBLISHED)

    def mark_purged(self, commit_id: int) -> bool:
        """Flag a commit purged (its repository directory is gone); False when it already was."""
        return self._add_flag(commit_id, FLAG_PURGED)

    def _add_flag(self, commit_id: int, flag: int) -> bool:
        with self.writer(shared=True) as conn:
            current = self._get(conn, commit_id, lock=True)
            if current.flags & flag:
                return False
            conn.execute("UPDATE commits SET flags = flags | ? WHERE id = ?", (flag, commit_id))
            return True

    def unpublished_count(self) -> int:
        """Return how many finished builds (SUCCESS or FAILED, with a build log) are neither published nor purged.

        What the build queue's ``to_publish`` lists; counted in SQL so that a
        run with nothing to do can tell without reading every row.
        """
        with self.reader() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM commits WHERE status IN (?, ?) AND (flags & ?) = 0 AND log_url IS NOT NULL"
                " AND log_url != ''",
                (SUCCESS, FAILED, FLAG_PUBLISHED | FLAG_PURGED),
            ).fetchone()
        return int(row[0])

    def pending(self, release: Optional[str] = None, limit: Optional[int] = None) -> List[CommitRecord]:
        """Return commits waiting for a builder (QUEUED or RETRY), oldest first.

        Oldest means queued first, then older commit first, so one project's
        commits build in history order as DLRN does.
        """
        sql = "SELECT * FROM commits WHERE status IN (?, ?)"
        args: List[Any] = [QUEUED, RETRY]
        if release is not None:
            sql += " AND release = ?"
            args.append(release)
        sql += " ORDER BY dt_queued, dt_commit, COALESCE(dt_distgit, 0), id"
        return self._select(sql, args, limit)

    # -- queries ---------------------------------------------------------------------

    def get(self, commit_id: int) -> CommitRecord:
        """Return the commit with this id (InputError if there is none)."""
        with self.reader() as conn:
            return self._get(conn, commit_id)

    def last_builds(self, release: Optional[str] = None) -> List[CommitRecord]:
        """Return per package (and release) its newest commit, whatever its status: DLRN's status report."""
        return self._latest(release=release)

    def failures(self, release: Optional[str] = None, since: Optional[int] = None) -> List[CommitRecord]:
        """Return the packages whose latest finished build (SUCCESS or FAILED) FAILED.

        ``since`` keeps only failures built at or after that time.  Queued or
        retrying newer commits do not hide a failure: it stays until a build
        of that package succeeds.
        """
        records = self._latest(release=release, statuses=(SUCCESS, FAILED))
        return [
            record
            for record in records
            if record.status == FAILED and (since is None or (record.dt_build or 0) >= since)
        ]

    # -- API users (DLRN's users table; the password column holds a KDF hash) -----------

    def user_hash(self, username: str) -> Optional[str]:
        """The stored password hash of ``username``, None if there is no such user."""
        with self.reader() as conn:
            row = conn.execute("SELECT password FROM users WHERE username = ?", (username,)).fetchone()
        return None if row is None else str(row[0])

    def store_user(self, username: str, password_hash: str, *, now: Optional[int] = None) -> None:
        """Create ``username`` or replace its password hash, in one transaction."""
        with self.writer() as conn:
            conn.execute(
                "INSERT INTO users (username, password, dt_updated) VALUES (?, ?, ?)"
                " ON CONFLICT (username) DO UPDATE SET password = excluded.password, dt_updated = excluded.dt_updated",
                (username, password_hash, _timestamp(now, "now")),
            )

    def remove_user(self, username: str) -> bool:
        """Delete ``username``; False when there was none."""
        with self.writer() as conn:
            return conn.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount > 0

    def ftbfs(self, release: Optional[str] = None) -> List[FtbfsRecord]:
        """Return the packages failing to build, with their FTBFS lifecycle, longest failing first.

        A package fails while its newest finished build FAILED; its run of
        failures goes back to the build after its last success.
        """
        with self.reader() as conn:
            maintainers = {
                str(row["project"]): json.loads(row["maintainers"] or "[]")
                for row in conn.execute("SELECT project, maintainers FROM projects")
            }
            found = []
            for newest in self.failures(release=release):
                rows = conn.execute(
                    f"SELECT * FROM commits WHERE project = ? AND release = ? AND status IN (?, ?)"
                    f" ORDER BY {_NEWEST_FIRST}",
                    (newest.project, newest.release, SUCCESS, FAILED),
                ).fetchall()
                failed: List[CommitRecord] = []
                success: Optional[CommitRecord] = None
                for row in rows:
                    record = _record(CommitRecord, row)
                    if record.status == SUCCESS:
                        success = record
                        break
                    failed.append(record)
                found.append(
                    FtbfsRecord(
                        project=newest.project,
                        release=newest.release,
                        last_failed=failed[0],
                        first_failed=failed[-1],
                        last_success=success,
                        failures=len(failed),
                        maintainers=maintainers.get(newest.project, []),
                    )
                )
        return sorted(found, key=lambda item: (item.since, item.release, item.project))

    def snapshot(self, commit_id: int) -> Dict[str, CommitRecord]:
        """What a build's repository held: per package of its release the newest success up to that build.

        DLRN builds in order and each build's repository carries every
        package's newest successful build so far; the build itself stands
        for its own package whatever its status.
        """
        with self.reader() as conn:
            record = self._get(conn, commit_id)
            rows = conn.execute(
                "SELECT * FROM (SELECT *, ROW_NUMBER() OVER"
                f" (PARTITION BY project ORDER BY {_NEWEST_FIRST}) AS newest"
                " FROM commits WHERE release = ? AND status = ? AND id <= ? AND project != ?) AS ranked"
                " WHERE newest = 1",
                (record.release, SUCCESS, record.id, record.project),
            ).fetchall()
        found = {str(row["project"]): _record(CommitRecord, row) for row in rows}
        found[record.project] = record
        return found

    def recheck(self, project: str, release: Optional[str] = None) -> CommitRecord:
        """Rebuild a package's last processed build when it FAILED (DLRN's ``recheck_package``).

        The last processed build is the newest that is not RETRY; a FAILED
        one becomes RETRY with a fresh retry budget, so builders take it again
        without waiting for a poll, and its votes are forgotten.  Anything
        else raises :class:`RecheckRefused` saying why.  Returns the record as
        it was before.
        """
        where = "project = ? AND status != ?"
        args: List[Any] = [project, RETRY]
        if release is not None:
            where += " AND release = ?"
            args.append(release)
        with self.writer() as conn:
            row = conn.execute(f"SELECT * FROM commits WHERE {where} ORDER BY {_NEWEST_FIRST} LIMIT 1", args).fetchone()
            if row is None:
                raise RecheckRefused(
                    f"state DB {self.name}: {project} has no build to recheck (none recorded, or it is already"
                    " marked RETRY); check the package name",
                    "none",
                )
            record = _record(CommitRecord, row)
            if record.status == SUCCESS:
                raise RecheckRefused(
                    f"state DB {self.name}: {project}'s last build {record.repo_hash} succeeded; only a failed"
                    " build can be rechecked",
                    "succeeded",
                    record,
                )
            if record.status != FAILED:
                raise RecheckRefused(
                    f"state DB {self.name}: {project}'s commit {record.repo_hash} is {record.status}; wait for"
                    " the build",
                    "building",
                    record,
                )
            conn.execute("DELETE FROM votes WHERE commit_id = ? AND aggregate = 0", (record.id,))
            conn.execute(
                "UPDATE commits SET status = ?, retries = 0, dt_queued = ?, dt_started = NULL, builder = NULL"
                " WHERE id = ? AND status = ?",
                (RETRY, _now(), record.id, FAILED),
            )
        return record

    def commit(
        self, commit_hash: str, distro_hash: Optional[str] = None, *, release: Optional[str] = None
    ) -> Optional[CommitRecord]:
        """Return the newest record of ``commit_hash`` (and distgit hash or its prefix), or None."""
        found = self.commits(commit_hash=commit_hash, distro_hash=distro_hash, release=release, limit=1)
        return found[0] if found else None

    def commits(
        self,
        project: Optional[str] = None,
        status: Optional[str] = None,
        *,
        release: Optional[str] = None,
        commit_hash: Optional[str] = None,
        distro_hash: Optional[str] = None,
        limit: Optional[int] = 100,
    ) -> List[CommitRecord]:
        """Return commits matching every given filter, newest recorded first.

        ``distro_hash`` may be a prefix (DLRN's repo names carry 8 characters).
        """
        if status is not None and status not in STATUSES:
            raise InputError(f"state DB {self.name}: status must be one of {', '.join(STATUSES)}, got {status!r}")
        clauses: List[str] = []
        args: List[Any] = []
        for column, value in (("project", project), ("status", status), ("release", release)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if commit_hash is not None:
            clauses.append("commit_hash = ?")
            args.append(commit_hash)
        if distro_hash:
            # substr, not LIKE: hashes must match literally.
            clauses.append("substr(distro_hash, 1, ?) = ?")
            args.extend([len(distro_hash), distro_hash])
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._select(f"SELECT * FROM commits{where} ORDER BY id DESC", args, limit)

    # -- votes and promotions ------------------------------------------------------------

    def record_vote(
        self,
        ref_hash: str,
        job_id: str,
        success: bool,
        *,
        url: Optional[str] = None,
        notes: Optional[str] = None,
        timestamp: Optional[int] = None,
        aggregate: bool = False,
        in_progress: bool = False,
        user: Optional[str] = None,
        commit_id: Optional[int] = None,
    ) -> VoteRecord:
        """Record a CI job's vote on a commit repo or (``aggregate=True``) an aggregate hash.

        A commit repo is named by ``<commit_hash>_<distgit8>`` or by its
        commit hash alone; it must be in the DB (``commit_id`` names the
        very record when one commit was built in several releases).  Votes
        are history: a job voting again adds a row, the newest wins.
        """
        if not isinstance(job_id, str) or not job_id.strip():
            raise InputError(f"state DB {self.name}: vote job_id must be a non-empty string, got {job_id!r}")
        stamp = _timestamp(timestamp, "vote timestamp")
        # Shared: a vote is a new row; the commit it names is never deleted.
        with self.writer(shared=True) as conn:
            canonical, commit_id = self._resolve(conn, ref_hash, aggregate, commit_id)
            vote_id = self._backend.insert_id(
                conn,
                'INSERT INTO votes (ref_hash, aggregate, commit_id, job_id, success, in_progress, url, notes, "user",'
                " timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    canonical,
                    int(aggregate),
                    commit_id,
                    job_id,
                    int(bool(success)),
                    int(in_progress),
                    url,
                    notes,
                    user,
                    stamp,
                ),
            )
            row = conn.execute("SELECT * FROM votes WHERE id = ?", (vote_id,)).fetchone()
        return _record(VoteRecord, row)

    def votes(self, ref_hash: str, *, aggregate: bool = False) -> List[VoteRecord]:
        """Return the votes on a commit repo or aggregate hash, oldest first."""
        with self.reader() as conn:
            canonical, _commit_id = self._resolve(conn, ref_hash, aggregate)
            rows = conn.execute(
                "SELECT * FROM votes WHERE ref_hash = ? AND aggregate = ? ORDER BY timestamp, id",
                (canonical, int(aggregate)),
            ).fetchall()
        return [_record(VoteRecord, row) for row in rows]

    def votes_on(self, ref_hashes: Sequence[str], *, aggregate: bool = False) -> Dict[str, List[VoteRecord]]:
        """Return the votes on each canonical hash (``<commit_hash>_<distgit8>`` or aggregate), oldest first.

        One query for many hashes: what a promotion decision over the last
        hundred candidates reads.  Hashes without votes map to ``[]``.
        """
        found: Dict[str, List[VoteRecord]] = {ref: [] for ref in ref_hashes}
        unique = list(found)
        with self.reader() as conn:
            # Chunks stay under SQLite's bound-parameter limit.
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                rows = conn.execute(
                    f"SELECT * FROM votes WHERE aggregate = ? AND ref_hash IN ({', '.join('?' * len(chunk))})"
                    " ORDER BY timestamp, id",
                    [int(aggregate), *chunk],
                ).fetchall()
                for row in rows:
                    found[row["ref_hash"]].append(_record(VoteRecord, row))
        return found

    def job_votes(
        self,
        job_id: str,
        *,
        success: Optional[bool] = None,
        aggregate: bool = False,
        component: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> List[VoteRecord]:
        """Return one job's finished votes (not in progress), newest first (timestamp, then recording order).

        ``component`` keeps votes on builds of that component.
        """
        sql = "SELECT * FROM votes WHERE job_id = ? AND aggregate = ? AND in_progress = 0"
        args: List[Any] = [job_id, int(aggregate)]
        if success is not None:
            sql += " AND success = ?"
            args.append(int(bool(success)))
        if component is not None:
            sql += " AND commit_id IN (SELECT id FROM commits WHERE component = ?)"
            args.append(component)
        return self._newest_first(VoteRecord, sql, args, limit)

    def _newest_first(self, cls: type, sql: str, args: List[Any], limit: Optional[int]) -> List[Any]:
        """The ``cls`` records ``sql`` selects, newest first (timestamp, then recording order), ``limit`` at most."""
        sql += " ORDER BY timestamp DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args = [*args, int(limit)]
        with self.reader() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [_record(cls, row) for row in rows]

    def record_promotion(
        self,
        ref_hash: str,
        label: str,
        user: Optional[str] = None,
        timestamp: Optional[int] = None,
        *,
        aggregate: bool = False,
        commit_id: Optional[int] = None,
        component: Optional[str] = None,
        aggregate_hash: Optional[str] = None,
    ) -> PromotionRecord:
        """Record that ``label`` now points at a commit repo or aggregate hash.

        With components a commit's promotion also names its ``component``
        and the ``aggregate_hash`` the label's aggregate got, as DLRN's
        Promotion row does.
        """
        if not isinstance(label, str) or not _LABEL.match(label) or label in RESERVED_LABELS:
            raise InputError(
                f"state DB {self.name}: promotion label {label!r} is not usable: use letters, digits, '.', '_', '-'"
                f" and none of {', '.join(RESERVED_LABELS)}"
            )
        stamp = _timestamp(timestamp, "promotion timestamp")
        # Exclusive: promotion ids then follow commit order, which promotions_after's marks rely on.
        with self.writer() as conn:
            canonical, commit_id = self._resolve(conn, ref_hash, aggregate, commit_id)
            promotion_id = self._backend.insert_id(
                conn,
                'INSERT INTO promotions (ref_hash, aggregate, commit_id, label, "user", timestamp, component,'
                " aggregate_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (canonical, int(aggregate), commit_id, label, user, stamp, component, aggregate_hash),
            )
            row = conn.execute("SELECT * FROM promotions WHERE id = ?", (promotion_id,)).fetchone()
        return _record(PromotionRecord, row)

    def promotions(
        self,
        label: Optional[str] = None,
        limit: Optional[int] = None,
        *,
        component: Optional[str] = None,
        aggregate_hash: Optional[str] = None,
    ) -> List[PromotionRecord]:
        """Return promotions matching every filter given, newest first; the first one per label is where it points now.

        With components, where a label points is per component: filter by ``component``.
        """
        clauses: List[str] = []
        args: List[Any] = []
        for column, value in (("label", label), ("component", component), ("aggregate_hash", aggregate_hash)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT * FROM promotions"
        if clauses:
            sql += f" WHERE {' AND '.join(clauses)}"
        return self._newest_first(PromotionRecord, sql, args, limit)

    def last_promotion_id(self) -> int:
        """The id of the newest promotion row (0 when there is none): a mark to tell later rows by."""
        with self.reader() as conn:
            return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM promotions").fetchone()[0])

    def promotions_after(self, promotion_id: int) -> List[PromotionRecord]:
        """Return the promotions recorded after row ``promotion_id``, oldest first."""
        with self.reader() as conn:
            rows = conn.execute("SELECT * FROM promotions WHERE id > ? ORDER BY id", (int(promotion_id),)).fetchall()
        return [_record(PromotionRecord, row) for row in rows]

    def label_heads(self, labels: Optional[Sequence[str]] = None) -> List[PromotionRecord]:
        """Return per label its newest promotion (where it points and since when), by label; ``labels`` keeps those."""
        where, args = "", []
        if labels is not None:
            if not labels:
                return []
            where = f" WHERE label IN ({', '.join('?' * len(labels))})"
            args = list(labels)
        sql = (
            "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY label ORDER BY timestamp DESC, id DESC)"
            f" AS newest FROM promotions{where}) AS ranked WHERE newest = 1 ORDER BY label"
        )
        with self.reader() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [_record(PromotionRecord, row) for row in rows]

    # -- build history and notifications ---------------------------------------------------

    def finished_builds(self, project: str, release: str) -> List[CommitRecord]:
        """Return one package's SUCCESS and FAILED builds in a release, oldest commit first (DLRN's order)."""
        return self._select(
            "SELECT * FROM commits WHERE project = ? AND release = ? AND status IN (?, ?)"
            " ORDER BY dt_commit, COALESCE(dt_distgit, 0), id",
            [project, release, SUCCESS, FAILED],
            None,
        )

    def build_changes(self, since: int, *, release: Optional[str] = None) -> List[BuildChange]:
        """Return the builds finished at or after ``since`` whose status differs from the build before them.

        "Before" is the package's previous SUCCESS or FAILED build in the
        release in commit order, as :meth:`failures` orders; a first build
        that FAILED is a change too (``previous`` None).  Oldest build first.
        Only the packages with a build finished since ``since`` are walked,
        on their ids and order columns; whole rows are read for the changes.
        """
        finished = "status IN (?, ?)"
        scope: List[Any] = [SUCCESS, FAILED]
        if release is not None:
            finished += " AND release = ?"
            scope.append(release)
        sql = (
            "SELECT id, previous_id FROM (SELECT id, status, dt_build, LAG(id) OVER w AS previous_id,"
            f" LAG(status) OVER w AS previous_status FROM commits WHERE {finished} AND (release, project) IN"
            f" (SELECT release, project FROM commits WHERE {finished} AND dt_build >= ?)"
            " WINDOW w AS (PARTITION BY release, project ORDER BY dt_commit, COALESCE(dt_distgit, 0), id)) AS ordered"
            " WHERE dt_build >= ? AND ((previous_status IS NULL AND status = ?) OR previous_status != status)"
            " ORDER BY dt_build, id"
        )
        with self.reader() as conn:
            pairs = conn.execute(sql, [*scope, *scope, int(since), int(since), FAILED]).fetchall()
            wanted = sorted({int(row[column]) for row in pairs for column in (0, 1) if row[column] is not None})
            records: Dict[int, CommitRecord] = {}
            for start in range(0, len(wanted), 500):  # SQLite's bound-parameter limit
                chunk = wanted[start : start + 500]
                for row in conn.execute(f"SELECT * FROM commits WHERE id IN ({', '.join('?' * len(chunk))})", chunk):
                    records[int(row["id"])] = _record(CommitRecord, row)
        return [
            BuildChange(records[int(row[0])], records[int(row[1])] if row[1] is not None else None) for row in pairs
        ]

    def notifications(self, event_ids: Sequence[str]) -> List[NotificationRecord]:
        """Return what is recorded of these events' notifications (any channel, any state)."""
        found: List[NotificationRecord] = []
        unique = list(dict.fromkeys(event_ids))
        with self.reader() as conn:
            for start in range(0, len(unique), 500):  # SQLite's bound-parameter limit
                chunk = unique[start : start + 500]
                rows = conn.execute(
                    f"SELECT * FROM notifications WHERE event_id IN ({', '.join('?' * len(chunk))})"
                    " ORDER BY dt_claimed, event_id, channel",
                    chunk,
                ).fetchall()
                found += [_record(NotificationRecord, row) for row in rows]
        return found

    def notified_events_since(self, since: int) -> int:
        """How many events had a notification claimed at or after ``since`` (what a throttle counts)."""
        with self.reader() as conn:
            row = conn.execute(
                "SELECT COUNT(DISTINCT event_id) FROM notifications WHERE dt_claimed >= ?", (int(since),)
            ).fetchone()
        return int(row[0])

    def claim_notification(
        self,
        event_id: str,
        channel: str,
        *,
        kind: str,
        subject: str,
        recipients: Sequence[str] = (),
        now: Optional[int] = None,
        retake: bool = False,
    ) -> bool:
        """Record that this event's message is about to go out on ``channel`` (SENDING); False if it is recorded.

        Of concurrent claims exactly one wins.  ``retake`` also takes over a
        SENDING row (a run stopped after claiming): a message sent again.
        """
        for name, value in (("event_id", event_id), ("channel", channel), ("kind", kind)):
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"state DB {self.name}: notification {name} must be a non-empty string, got {value!r}")
        stamp = _timestamp(now, "notification time")
        # Shared: the primary key lets one insert win; a retake's UPDATE checks the state itself.
        with self.writer(shared=True) as conn:
            cursor = conn.execute(
                "INSERT INTO notifications (event_id, channel, state, kind, subject, recipients, dt_claimed)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, channel) DO NOTHING",
                (event_id, channel, NOTIFICATION_SENDING, kind, subject, json.dumps(list(recipients)), stamp),
            )
            if cursor.rowcount == 1:
                return True
            if not retake:
                return False
            cursor = conn.execute(
                "UPDATE notifications SET subject = ?, recipients = ?, dt_claimed = ?"
                " WHERE event_id = ? AND channel = ? AND state = ?",
                (subject, json.dumps(list(recipients)), stamp, event_id, channel, NOTIFICATION_SENDING),
            )
            return cursor.rowcount == 1

    def confirm_notification(self, event_id: str, channel: str, *, now: Optional[int] = None) -> None:
        """Record that the claimed message went out (SENT)."""
        stamp = _timestamp(now, "notification time")
        with self.writer(shared=True) as conn:
            conn.execute(
                "UPDATE notifications SET state = ?, dt_sent = ? WHERE event_id = ? AND channel = ?",
                (NOTIFICATION_SENT, stamp, event_id, channel),
            )

    def release_notification(self, event_id: str, channel: str) -> None:
        """Give back a claim whose message did not go out, so the next run sends it."""
        with self.writer(shared=True) as conn:
            conn.execute(
                "DELETE FROM notifications WHERE event_id = ? AND channel = ? AND state = ?",
                (event_id, channel, NOTIFICATION_SENDING),
            )

    # -- helpers ---------------------------------------------------------------------

    def _get(self, conn: Any, commit_id: int, *, lock: bool = False) -> CommitRecord:
        """The commit ``commit_id``; ``lock``: locked until the transaction ends (a shared writer will change it)."""
        sql = "SELECT * FROM commits WHERE id = ?" + (self.for_update if lock else "")
        row = conn.execute(sql, (commit_id,)).fetchone()
        if row is None:
            raise InputError(f"state DB {self.name}: no commit with id {commit_id!r}")
        return _record(CommitRecord, row)

    def _select(self, sql: str, args: Sequence[Any], limit: Optional[int]) -> List[CommitRecord]:
        if limit is not None:
            sql += " LIMIT ?"
            args = [*args, int(limit)]
        with self.reader() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [_record(CommitRecord, row) for row in rows]

    def _latest(self, *, release: Optional[str], statuses: Sequence[str] = STATUSES) -> List[CommitRecord]:
        """Newest commit per (release, project) among ``statuses``."""
        marks = ", ".join("?" * len(statuses))
        args: List[Any] = list(statuses)
        where = f"status IN ({marks})"
        if release is not None:
            where += " AND release = ?"
            args.append(release)
        sql = (
            "SELECT * FROM (SELECT *, ROW_NUMBER() OVER"
            f" (PARTITION BY release, project ORDER BY {_NEWEST_FIRST}) AS newest"
            f" FROM commits WHERE {where}) AS ranked WHERE newest = 1 ORDER BY release, project"
        )
        return self._select(sql, args, None)

    def _resolve(
        self, conn: Any, ref_hash: str, aggregate: bool, commit_id: Optional[int] = None
    ) -> Tuple[str, Optional[int]]:
        """Return the canonical hash and commit id a vote or promotion refers to."""
        if not isinstance(ref_hash, str) or not ref_hash.strip():
            raise InputError(f"state DB {self.name}: hash must be a non-empty string, got {ref_hash!r}")
        if aggregate:
            return ref_hash, None
        if commit_id is not None:
            named = self._get(conn, commit_id)
            if not named.repo_hash.startswith(ref_hash):
                raise InputError(f"state DB {self.name}: commit {commit_id} is {named.repo_hash}, not {ref_hash}")
            return named.repo_hash, named.id
        commit_hash, _sep, distgit_prefix = ref_hash.partition("_")
        sql = "SELECT * FROM commits WHERE commit_hash = ?"
        args: List[Any] = [commit_hash]
        if distgit_prefix:
            sql += " AND substr(distro_hash, 1, ?) = ?"
            args.extend([len(distgit_prefix), distgit_prefix])
        row = conn.execute(f"{sql} ORDER BY id DESC LIMIT 1", args).fetchone()
        if row is None:
            raise InputError(
                f"state DB {self.name}: no commit {ref_hash}: name a built commit as <commit_hash>_<distgit8>"
                " or pass aggregate=true for an aggregate hash"
            )
        record = _record(CommitRecord, row)
        return record.repo_hash, record.id
