"""SQLite: the embedded default, one file in WAL mode on the repo server, one writer at a time.

Writers take an exclusive ``flock`` on ``<db>.lock`` and then ``BEGIN
IMMEDIATE``, so there is one writer at a time across processes, each
waiting a bounded time with a clear error; readers never take the lock and,
thanks to WAL, read the last committed state while a writer works.
``synchronous=FULL`` makes every commit durable before it returns, so losing
power loses nothing committed.  Shared and exclusive write transactions are
the same here: SQLite has one writer whatever.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ContextManager, Iterator, List, Optional, Sequence, Tuple
from urllib.parse import quote

from ..._common.errors import InputError
from ..._common.locks import exclusive_lock
from .base import Backend, StateDBBusy


class SQLiteBackend(Backend):
    """The state DB in an SQLite file (any ``db`` value that is not a URL of another engine)."""

    engine = "sqlite"

    def __init__(self, target: str, *, readonly: bool, busy_timeout: float, lock_timeout: float) -> None:
        super().__init__(target, readonly=readonly, busy_timeout=busy_timeout, lock_timeout=lock_timeout)
        self.path = Path(target)
        self.name = str(self.path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        # Set when read as immutable: what the file looked like, checked again on close.
        self._stamp: Optional[Tuple[int, ...]] = None
        self.conn: sqlite3.Connection = self._connect()

    @classmethod
    def handles(cls, target: str) -> bool:
        """Every path: SQLite is what a ``db`` value means unless another backend claims it."""
        return True

    @classmethod
    def exists(cls, target: str) -> bool:
        """Whether the file is there."""
        return os.path.lexists(target)

    # -- the file -------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            if not self.path.is_file():
                raise InputError(
                    f"state DB {self.path} does not exist: it is created by the first poll "
                    "(distroforge.openstack.source_poll)"
                )
            target, uri = self._readonly_uri(), True
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(f"state DB {self.path}: cannot create its directory: {exc.strerror}") from exc
            target, uri = str(self.path), False
            self._keep_private()
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so the
            # sqlite3 module never opens a transaction behind our back.
            conn = sqlite3.connect(target, uri=uri, timeout=self.busy_timeout, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            # FULL: fsync the WAL at every commit; NORMAL would lose the last
            # commits on power loss.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.OperationalError as exc:
            raise InputError(f"state DB {self.path}: cannot open ({exc}): check the path and its permissions") from exc
        except sqlite3.DatabaseError as exc:
            raise InputError(f"state DB {self.path} is not an SQLite database ({exc}): move it aside") from exc
        return conn

    def _side_files(self) -> List[Path]:
        return [self.path.with_name(self.path.name + suffix) for suffix in ("-wal", "-journal")]

    def _file_stamp(self) -> Tuple[int, ...]:
        info = self.path.stat()
        return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)

    def _readonly_uri(self) -> str:
        """The URI that reads the DB without leaving a trace (check mode and queries must change nothing).

        SQLite's read-only mode still creates ``-wal`` and ``-shm`` beside a
        WAL database, and cannot remove them afterwards.  When there is no
        ``-wal`` (nor a rollback ``-journal``), every committed change is in
        the database file itself, so it is read as ``immutable``: no side
        file, no lock.  A writer that starts meanwhile only appends to a new
        WAL, which leaves our snapshot consistent; one that checkpoints into
        the file changes its stamp, which :meth:`close` reports.  When a
        ``-wal`` exists, a writer is active (or crashed): the side files are
        there already and ordinary read-only mode shares them.
        """
        path = quote(str(self.path.resolve()))
        if any(side.exists() for side in self._side_files()):
            return f"file:{path}?mode=ro"
        self._stamp = self._file_stamp()
        return f"file:{path}?mode=ro&immutable=1"

    def _keep_private(self) -> None:
        """Create the DB file readable by its owner only, and take back wider modes.

        It will hold API users' password hashes: its mode must not depend on
        the umask of whoever ran first. SQLite gives its WAL and shared-memory
        files the mode of the database file.
        """
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            info = self.path.stat()
            if info.st_mode & 0o077 and info.st_uid == os.geteuid():
                self.path.chmod(0o600)
        except OSError as exc:
            raise InputError(
                f"state DB {self.path}: cannot create it ({exc.strerror}): check the path and its permissions"
            ) from exc

    # -- dialect --------------------------------------------------------------------------------

    @classmethod
    def user_version(cls, conn: Any) -> int:
        """``PRAGMA user_version`` (0 for a new file)."""
        return int(conn.execute("PRAGMA user_version").fetchone()[0])

    @classmethod
    def set_user_version(cls, conn: Any, version: int) -> None:
        """DDL and the ``user_version`` bump are transactional in SQLite: they commit or roll back together."""
        # PRAGMA takes no bound parameters; version is an int from our table.
        conn.execute(f"PRAGMA user_version = {int(version)}")

    @classmethod
    def insert_id(cls, conn: Any, sql: str, args: Sequence[Any]) -> Optional[int]:
        """``lastrowid``: RETURNING would need SQLite 3.35, newer than some repo servers' (EL9 has 3.34)."""
        cursor = conn.execute(sql, args)
        return int(cursor.lastrowid) if cursor.rowcount == 1 else None

    def read_version(self) -> int:
        """The DB's schema version; a file that is not SQLite is a one-line error."""
        try:
            return self.user_version(self.conn)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"state DB {self.path} is not an SQLite database ({exc}): move it aside") from exc

    def ready_for_writes(self) -> bool:
        """WAL is what lets readers run beside the writer; the mode is stored in the file."""
        return str(self.conn.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"

    @contextmanager
    def migration(self) -> Iterator[None]:
        """Under the writer lock: WAL mode (switching needs no open transaction), then BEGIN IMMEDIATE."""
        with self._flock():
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise InputError(
                    f"state DB {self.path}: the filesystem refused WAL mode (got {mode}): put the DB on a local disk"
                )
            with self._immediate():
                yield

    # -- transactions ---------------------------------------------------------------------------

    def _flock(self) -> ContextManager[None]:
        """The exclusive writer lock on ``<db>.lock`` (released by the kernel if we die)."""
        return exclusive_lock(
            self.lock_path,
            self.lock_timeout,
            busy=lambda: StateDBBusy(
                f"state DB {self.path}: another writer held {self.lock_path} for more than "
                f"{self.lock_timeout:.0f} s: wait for it to finish or find the stuck process"
            ),
            cannot_open=lambda exc: InputError(f"state DB lock {self.lock_path}: cannot open: {exc.strerror}"),
        )

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        # IMMEDIATE takes SQLite's write lock now, so even a writer that
        # ignores our flock (sqlite3 CLI) cannot interleave.
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    @contextmanager
    def write_transaction(self, *, shared: bool) -> Iterator[None]:
        """flock, then BEGIN IMMEDIATE: one writer at a time, shared or not."""
        with self._flock(), self._immediate():
            yield

    @contextmanager
    def read_transaction(self) -> Iterator[None]:
        """A deferred transaction: WAL gives it the last committed state and never blocks it."""
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")

    @property
    def in_transaction(self) -> bool:
        """sqlite3's own flag."""
        return self.conn.in_transaction

    # -- the rest -------------------------------------------------------------------------------

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` verdict."""
        return "; ".join(str(row[0]) for row in self.conn.execute("PRAGMA integrity_check"))

    def close(self, *, checked: bool = True) -> None:
        """Close; when ``checked``, StateDBBusy if a writer changed the file under an immutable read."""
        self.conn.close()
        if checked and self._stamp is not None and self._file_stamp() != self._stamp:
            raise StateDBBusy(f"state DB {self.path}: a writer changed it while it was being read; run the task again")
