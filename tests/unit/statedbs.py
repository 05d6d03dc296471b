"""State DBs of either engine for the tests: one at an old schema version, raw SQL on one, its index names.

``target`` is what the ``statedb_target`` fixture gives (tests/unit/conftest.py):
an SQLite file's path or a ``postgresql://`` URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ansible_collections.distroforge.openstack.plugins.module_utils._statedb import backends, schema

# How each engine lists the indexes of the state DB's tables.
_INDEX_NAMES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index'",
    "postgresql": "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()",
}


@contextmanager
def raw(target: Any) -> Iterator[Any]:
    """The backend of ``target`` in one exclusive write transaction, outside StateDB (no migration)."""
    value = os.fspath(target)
    backend = backends.for_target(value)(value, readonly=False, busy_timeout=30.0, lock_timeout=30.0)
    try:
        with backend.migration():
            yield backend
    finally:
        backend.close(checked=False)


def at_version(target: Any, version: int, *statements: tuple[str, tuple]) -> None:
    """Make ``target`` a state DB at schema ``version`` holding what ``statements`` (sql, args) insert."""
    with raw(target) as backend:
        assert schema.migrate(backend.conn, target=version, dialect=type(backend)) == (0, version)
        for sql, args in statements:
            backend.conn.execute(sql, args)


def set_version(target: Any, version: int) -> None:
    """Record another schema version in ``target`` (a DB from a newer collection, say)."""
    with raw(target) as backend:
        type(backend).set_user_version(backend.conn, version)


def version_of(target: Any) -> int:
    """The schema version ``target`` records."""
    with raw(target) as backend:
        return backend.read_version()


def index_names(target: Any) -> set[str]:
    """The names of the indexes in the state DB."""
    with raw(target) as backend:
        return {str(row[0]) for row in backend.conn.execute(_INDEX_NAMES[backend.engine])}
