"""State DB backends: one module per engine, and this registry of them.

The ``db`` value says which: a ``postgresql://`` URL is PostgreSQL, anything
else a path to an SQLite file (the embedded default).  Everything
engine-specific lives in the engine's module (:class:`.base.Backend`);
adding one is a module and a line in ``_BACKENDS``.
"""

from __future__ import annotations

import os
from typing import List, Tuple, Type, Union

from .base import Backend, StateDBBusy, StateDBError, StateDBUnavailable
from .postgresql import PostgreSQLBackend
from .sqlite import SQLiteBackend

# Asked in order; the first that handles the value wins (SQLite takes every path).
_BACKENDS: Tuple[Type[Backend], ...] = (PostgreSQLBackend, SQLiteBackend)

__all__ = [
    "Backend",
    "PostgreSQLBackend",
    "SQLiteBackend",
    "StateDBBusy",
    "StateDBError",
    "StateDBUnavailable",
    "for_target",
    "secrets",
]


def for_target(target: Union[str, "os.PathLike[str]"]) -> Type[Backend]:
    """The backend of the DB ``target`` names."""
    value = os.fspath(target)
    return next(backend for backend in _BACKENDS if backend.handles(value))


def secrets(target: Union[str, "os.PathLike[str]"]) -> List[str]:
    """What in ``target`` must never be shown (a password in a URL); modules add them to their no_log values."""
    value = os.fspath(target)
    return for_target(value).secrets(value)
