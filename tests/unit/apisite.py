"""A repo server's state for API tests: state DB, published build directories, an API user, the WSGI app."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from werkzeug.test import Client

from ansible_collections.distroforge.openstack.plugins.module_utils._api import passwords
from ansible_collections.distroforge.openstack.plugins.module_utils._api.config import ApiConfig
from ansible_collections.distroforge.openstack.plugins.module_utils._api.wsgi import create_app
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.layout import VERSIONS_HEADER
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import CommitRecord, StateDB

from .pkgfactory import add_build

USER = "ci"
PASSWORD = "s3cret pass"
BASEURL = "http://repo.example/repos"


def basic(username: str, password: str) -> dict[str, str]:
    """An HTTP basic Authorization header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


class Site:
    """State DB + repos/ + the API over them, driven through Werkzeug's test client."""

    def __init__(self, tmp_path: Path, *, use_components: bool = False, db: str | Path | None = None) -> None:
        """``db``: the state DB (the ``statedb_target`` fixture's value); an SQLite file in ``tmp_path`` by default."""
        self.tmp = tmp_path
        target = db if db is not None else tmp_path / "state.db"
        self.db = StateDB(target)
        self.config = ApiConfig(
            db=target,
            repos_dir=tmp_path / "repos",
            baseurl=BASEURL,
            use_components=use_components,
            target="master-uc",
            lock_timeout=5.0,
        )
        self.layout = self.config.layout()
        self.layout.repos_dir.mkdir(parents=True, exist_ok=True)
        # Cheap scrypt parameters keep the tests fast; the format is the one production uses.
        self.add_user(USER, PASSWORD)
        self.app = create_app(self.config)
        self.client = Client(self.app)
        self.seq = 0

    def add_user(self, username: str, password: str) -> None:
        """An API user with a fast (low-cost) hash."""
        with self.db.writer() as conn:
            conn.execute(
                "INSERT INTO users (username, password, dt_updated) VALUES (?, ?, 1)",
                (username, passwords.hash_password(password, log_n=4)),
            )

    def build(
        self, project: str = "nova", *, status: str = "SUCCESS", component: str | None = None, publish: bool = True
    ) -> CommitRecord:
        """A finished build; successful ones get a published directory with a .repo file, as the publisher leaves it."""
        record = add_build(self.db, project, self.seq, status=status, component=component)
        self.seq += 1
        if status == "SUCCESS" and publish:
            directory = self.layout.commit_dir(record.commit_hash, record.distro_hash, component)
            directory.mkdir(parents=True)
            section = self.layout.repo_id(component)
            rel = self.layout.commit_rel(record.commit_hash, record.distro_hash, component)
            (directory / "delorean.repo").write_text(f"[{section}]\nname={section}\nbaseurl={BASEURL}/{rel}\n")
            (directory / "versions.csv").write_text(f"{VERSIONS_HEADER}\n{project},x,{record.commit_hash}\n")
        return record

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        auth: tuple[str, str] | None = (USER, PASSWORD),
        content_type: str | None = "application/json",
        data: bytes | str | None = None,
    ) -> tuple[int, Any]:
        """Send one request; the status and the decoded JSON (or the text when it is not JSON)."""
        headers = basic(*auth) if auth else {}
        if body is not None:
            data = json.dumps(body)
        response = self.client.open(
            path, method=method, query_string=query, data=data, content_type=content_type, headers=headers
        )
        text = response.get_data(as_text=True)
        if response.mimetype == "application/json":
            return response.status_code, json.loads(text)
        return response.status_code, text

    def get(self, path: str, **query: Any) -> tuple[int, Any]:
        """An anonymous GET with query parameters."""
        return self.request("GET", path, query=query, auth=None, content_type=None)

    def post(self, path: str, body: Any, **options: Any) -> tuple[int, Any]:
        """An authenticated JSON POST."""
        return self.request("POST", path, body=body, **options)

    def vote(self, record: CommitRecord, job_id: str, success: bool = True, timestamp: int | None = None) -> dict:
        """report_result through the API; the answer."""
        status, answer = self.post(
            "/api/report_result",
            {
                "job_id": job_id,
                "commit_hash": record.commit_hash,
                "distro_hash": record.distro_hash,
                "url": f"https://ci.example/{job_id}",
                "timestamp": timestamp if timestamp is not None else int(time.time()),
                "success": "true" if success else "false",
            },
        )
        assert status == 201, answer
        return answer

    def label(self, name: str, component: str | None = None) -> str | None:
        """Where a label link points (None: no link)."""
        base = self.layout.repos_dir / "component" / component if component else self.layout.repos_dir
        try:
            return str((base / name).readlink())
        except FileNotFoundError:
            return None
