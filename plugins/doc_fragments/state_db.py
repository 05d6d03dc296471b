# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations


class ModuleDocFragment:
    """The options of every module that uses the state DB (DistroforgeModule's STATE_DB_OPTIONS)."""

    DOCUMENTATION = r"""
options:
  db:
    description:
      - Path of the state DB (SQLite) on the target host, or the C(postgresql://) URL of a
        database on a PostgreSQL server (libpq's connection URI), for a farm whose builders,
        promoters and API workers write at once (docs/statedb.md).
      - Modules that record create it (or its tables) on first use; in check mode nothing
        creates, migrates or writes it, and modules that only read fail in
        one line when it does not exist yet.
      - Keep passwords out of a URL (C(~/.pgpass) or C(PGPASSWORD) of the user running
        the task); one written there anyway is never logged nor returned.
    type: path
    required: true
  busy_timeout:
    description:
      - Seconds SQLite waits for another process that keeps the DB busy
        before the task fails in one line naming the state DB.
      - With PostgreSQL, seconds to wait for the server to accept the connection.
    type: float
    default: 30.0
  lock_timeout:
    description:
      - Seconds to wait for another writer's lock (the state DB's, and the
        repository's for the modules that publish) before the task fails
        in one line naming the lock.
    type: float
    default: 120.0
notes:
  - Readers never wait for writers and leave no file behind (no C(-wal) or
    C(-shm) beside a DB nobody writes); writers take the lock in turn.
  - With PostgreSQL the host running the task needs the psycopg driver
    (Debian C(python3-psycopg), or C(psycopg) from PyPI in its venv).
"""
