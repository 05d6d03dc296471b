"""What a state DB backend gives :class:`~.._statedb.db.StateDB`: one connection, its transactions, its dialect.

StateDB and the API's queries write their SQL once, with ``?``
placeholders, in the part of SQL both engines understand (``ON CONFLICT``
upserts, window functions, row values).  What differs between engines lives
in one backend class each, never in ``if`` ladders at the call sites:

- the connection: ``conn.execute(sql, args)`` returns a cursor whose rows
  are read by column index or name (``sqlite3.Row``'s interface);
- how a writer excludes the others and how long it waits
  (:meth:`Backend.write_transaction`), and how a reader gets one snapshot
  (:meth:`Backend.read_transaction`);
- the dialect: the schema's statements (written in SQLite's dialect, the
  embedded default) turned into the engine's (:meth:`Backend.ddl`), the
  schema version (:meth:`Backend.user_version`), a new row's id
  (:meth:`Backend.insert_id`) and row locks (:attr:`Backend.for_update`);
- the driver's errors, turned into this package's (one line, a password
  never shown).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Iterator, List, Optional, Sequence

from ..._common.errors import DistroforgeError


class StateDBError(DistroforgeError):
    """The DB engine refused a statement or lost its server (drivers' errors other than SQLite's, in one line)."""


class StateDBBusy(StateDBError):
    """Another writer held the state DB lock for longer than we may wait."""


class StateDBUnavailable(StateDBError):
    """The DB server cannot be reached, or dropped the connection: try again once it is back."""


class Backend(abc.ABC):
    """One open connection to one state DB, and the SQL dialect of its engine."""

    # The engine's name, as docs and results say it.
    engine: ClassVar[str]
    # Appended to a SELECT of the one row a write is about to change, so two
    # writers allowed at once (a shared write transaction) cannot both act on
    # what they read.  Empty where writers never run at once.
    for_update: ClassVar[str] = ""

    def __init__(self, target: str, *, readonly: bool, busy_timeout: float, lock_timeout: float) -> None:
        self.readonly = readonly
        self.busy_timeout = busy_timeout
        self.lock_timeout = lock_timeout
        # What messages call this DB: a path, or a URL without its password.
        self.name = target
        self.conn: Any = None

    # -- which DB -----------------------------------------------------------------------------

    @classmethod
    @abc.abstractmethod
    def handles(cls, target: str) -> bool:
        """Whether ``target`` (the ``db`` option's value) names a DB of this engine."""

    @classmethod
    @abc.abstractmethod
    def exists(cls, target: str) -> bool:
        """Whether a state DB is there already (check mode starts from nothing when not)."""

    @classmethod
    def secrets(cls, target: str) -> List[str]:
        """What in ``target`` must never be shown (none, unless the engine's values can hold a password)."""
        return []

    # -- schema -------------------------------------------------------------------------------

    @classmethod
    def ddl(cls, statement: str) -> str:
        """A schema statement (SQLite's dialect) in this engine's dialect."""
        return statement

    @classmethod
    @abc.abstractmethod
    def user_version(cls, conn: Any) -> int:
        """The number of the last migration applied to the DB behind ``conn`` (0: none)."""

    @classmethod
    @abc.abstractmethod
    def set_user_version(cls, conn: Any, version: int) -> None:
        """Record ``version`` as the last migration applied, inside the caller's transaction."""

    @classmethod
    @abc.abstractmethod
    def insert_id(cls, conn: Any, sql: str, args: Sequence[Any]) -> Optional[int]:
        """Run an INSERT of one row into a table with an ``id`` column; the new id, None when nothing was inserted."""

    def read_version(self) -> int:
        """The schema version of the DB this connection is open on."""
        return self.user_version(self.conn)

    @property
    def broken(self) -> bool:
        """Whether the connection is lost for good (a server restarted): open a new one."""
        return False

    def ready_for_writes(self) -> bool:
        """Whether the DB needs nothing but migrations before it is written (SQLite: WAL mode)."""
        return True

    @abc.abstractmethod
    def migration(self) -> Iterator[None]:
        """A context: the exclusive write transaction the schema is migrated in."""

    # -- transactions -------------------------------------------------------------------------

    @abc.abstractmethod
    def write_transaction(self, *, shared: bool) -> Iterator[None]:
        """A context: one write transaction, committed at the end of the block, rolled back on an exception.

        An exclusive one (``shared=False``) runs alone: no other writer
        writes until it ends, so what it reads stays true while it decides.
        A shared one only excludes exclusive ones: it must be safe beside
        other shared ones by itself (it changes one row it read with
        :attr:`for_update`, or inserts rows a unique key guards).  Waits at
        most ``lock_timeout``, then raises :class:`StateDBBusy`.
        """

    @abc.abstractmethod
    def read_transaction(self) -> Iterator[None]:
        """A context: one consistent snapshot for several SELECTs, never waiting for a writer."""

    @property
    @abc.abstractmethod
    def in_transaction(self) -> bool:
        """Whether a transaction is open on the connection."""

    # -- the rest -----------------------------------------------------------------------------

    @abc.abstractmethod
    def integrity_check(self) -> str:
        """The engine's verdict on the DB's health: ``ok`` when healthy."""

    @abc.abstractmethod
    def close(self, *, checked: bool = True) -> None:
        """Close the connection; ``checked``: raise when what was read may not have been one state."""
