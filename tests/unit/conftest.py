"""Make the working tree importable as ``ansible_collections.distroforge.openstack``; the state DB engines."""

import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
COLLECTIONS = TOP / ".venv" / "collections"
if not (COLLECTIONS / "ansible_collections" / "distroforge" / "openstack").exists():
    raise SystemExit("tests/unit: run `make` first; it links the collection into .venv/collections")
sys.path.insert(0, str(COLLECTIONS))


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL cluster for the session (tests/unit/pgserver.py); started on first use, never skipped."""
    from .pgserver import PgServer  # noqa: PLC0415 -- only sessions with a postgresql test start a server

    server = PgServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def statedb_target(request, tmp_path):
    """The ``db`` value of an empty state DB: an SQLite file's path, or a PostgreSQL URL (a schema of its own)."""
    if request.param == "sqlite":
        return tmp_path / "state.db"
    return request.getfixturevalue("pg_server").new_db()
