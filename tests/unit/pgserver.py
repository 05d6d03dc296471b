"""A throwaway PostgreSQL server for the tests: its own cluster in a temporary directory, reached by a socket there.

Debian's server binaries (``postgresql``, installed by the bootstrap) run
the cluster: ``initdb`` then ``pg_ctl start``, as the ``postgres`` user when
the tests run as root (initdb refuses root; CI runs as root), else as the
user running the tests.  The server listens on a unix socket in the
cluster's directory only (no TCP port to collide with anything), trusts
local connections, and is stopped and removed by :meth:`PgServer.stop`.

A test gets a state DB of its own in a schema of a shared database
(:meth:`PgServer.new_db`): creating a schema costs milliseconds where a
database costs ~50 ms, and a cluster seconds.  ``durable=False`` (the unit
tests) turns off fsync, which a throwaway cluster does not need;
benchmarks keep it on, as a farm's server runs.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import psycopg

DATABASE = "statedb"


def server_bindir() -> Path:
    """Where initdb and pg_ctl are: Debian's newest /usr/lib/postgresql/<major>/bin, else the PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(re.search(r"/(\d+)/bin/", path).group(1)),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise RuntimeError("no PostgreSQL server binaries (initdb): install Debian's postgresql (make bootstrap does)")


class PgServer:
    """One cluster: started by :meth:`start`, a state DB per :meth:`new_db`, gone after :meth:`stop`."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.bindir = server_bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="df-pg-"))  # short: a socket path has at most 107 bytes
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self._as: list[str] = []
        self._serial = itertools.count(1)
        self._admin: psycopg.Connection | None = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "the tests run as root and there is no postgres user to run the server as:"
                    " install Debian's postgresql (make bootstrap does)"
                ) from None
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str) -> None:
        done = subprocess.run(
            [*self._as, *command], capture_output=True, text=True, timeout=120, check=False, cwd=self.dir
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}\n{log}")

    def start(self) -> PgServer:
        """initdb and start the server; RuntimeError with its log when it cannot (nothing left running)."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        sync = [] if self.durable else ["--no-sync"]
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--no-locale", "-E", "UTF8", *sync,
        )  # fmt: skip
        settings = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.dir}'",
            "max_connections": "200",
        }
        if not self.durable:
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        with self.admin("postgres") as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")

    def url(self, database: str = DATABASE, **params: str) -> str:
        """A libpq URL to ``database`` over this server's socket, as users write one in ``db``."""
        query = "&".join(f"{name}={quote(value, safe='')}" for name, value in {"host": str(self.dir), **params}.items())
        return f"postgresql://postgres@/{database}?{query}"

    def admin(self, database: str = DATABASE) -> psycopg.Connection:
        """A new autocommit connection as the superuser."""
        return psycopg.connect(self.url(database), autocommit=True)

    def new_db(self) -> str:
        """A URL to an empty state DB of its own: a new schema, first on its search_path."""
        name = f"t{next(self._serial)}"
        if self._admin is None:
            self._admin = self.admin()
        self._admin.execute(f"CREATE SCHEMA {name}")
        return self.url(options=f"-csearch_path={name}")

    def stop(self) -> None:
        """Stop the server (fast, then immediate) and remove the cluster."""
        if self._admin is not None:
            self._admin.close()
        if (self.data / "postmaster.pid").exists():
            try:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
            except RuntimeError:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
