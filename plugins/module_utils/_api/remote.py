"""``POST /api/remote/import``: record a build another DLRN-compatible server made, from its ``commit.yaml``.

As DLRN's ``import_commit``: read ``<repo_url>/commit.yaml``, skip a commit
older than what the DB already has for its package, record the others
with the remote's status, artifacts and notes.  Unlike DLRN the packages
are not downloaded here (publishing them is the publisher's job); the
build's ``log_url`` points at the remote repository.  Only http(s) URLs,
bounded in time and size, no redirects elsewhere.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional

try:
    import yaml
except ImportError as exc:  # reported by parse_commits(), on a host without PyYAML
    _IMPORT_ERROR: Optional[ImportError] = exc
else:
    _IMPORT_ERROR = None

from .._statedb.db import NewCommit, StateDB
from .._statedb.schema import FAILED, SUCCESS
from . import queries
from .config import ApiConfig
from .errors import ApiError

_SCHEMES = ("http", "https")


class _SameSchemes(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s) (urllib would also follow ftp)."""

    def redirect_request(  # noqa: PLR0917 - urllib's signature
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Any:
        if urllib.parse.urlsplit(newurl).scheme not in _SCHEMES:
            raise urllib.error.HTTPError(newurl, code, "redirect to a non-http(s) URL refused", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _fetch(url: str, timeout: float, max_bytes: int) -> bytes:
    opener = urllib.request.build_opener(_SameSchemes)
    try:
        with opener.open(urllib.request.Request(url, headers={"User-Agent": "distroforge-api"}), timeout=timeout) as r:
            data = r.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise ApiError(400, f"remote/import: {url} answered {exc.code}: give the URL of a build's repository") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ApiError(502, f"remote/import: cannot fetch {url}: {reason}") from exc
    if len(data) > max_bytes:
        raise ApiError(400, f"remote/import: {url} is larger than {max_bytes} bytes: not a commit.yaml")
    return data


def _field(commit: Dict[str, Any], name: str, where: str) -> str:
    value = commit.get(name)
    if value is None or not isinstance(value, (str, int, float)) or str(value) in ("", "None"):
        raise ApiError(400, f"remote/import: {where}: {name} is missing")
    return str(value)


def _optional(commit: Dict[str, Any], name: str) -> Optional[str]:
    value = commit.get(name)
    return None if value is None or str(value) in ("", "None") else str(value)


def _stamp(commit: Dict[str, Any], name: str, where: str) -> int:
    try:
        return int(float(_field(commit, name, where)))
    except ValueError:
        raise ApiError(400, f"remote/import: {where}: {name} must be epoch seconds") from None


def parse_commits(text: bytes, url: str) -> List[Dict[str, Any]]:
    """The commits of a DLRN ``commit.yaml`` (``commits:`` holding mappings of strings)."""
    if _IMPORT_ERROR is not None:
        raise RuntimeError(f"remote/import needs PyYAML: {_IMPORT_ERROR}")
    try:
        data = yaml.safe_load(text.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ApiError(400, f"remote/import: {url} is not a commit.yaml ({type(exc).__name__})") from exc
    commits = data.get("commits") if isinstance(data, dict) else None
    if not isinstance(commits, list) or not commits or not all(isinstance(c, dict) for c in commits):
        raise ApiError(400, f"remote/import: {url} has no 'commits:' list of builds")
    return commits


def import_commit(db: StateDB, config: ApiConfig, repo_url: str) -> List[str]:
    """Record the builds of ``repo_url``; returns the repository names recorded (skipped ones left out)."""
    parts = urllib.parse.urlsplit(repo_url)
    if parts.scheme not in _SCHEMES or not parts.netloc:
        raise ApiError(400, f"remote/import: repo_url must be an http(s) URL of a build's repository, got {repo_url!r}")
    url = repo_url.rstrip("/") + "/commit.yaml"
    commits = parse_commits(_fetch(url, config.import_timeout, config.import_max_bytes), url)
    recorded = []
    host = parts.netloc
    # The download happened outside the transaction: the writer lock is held for the DB work only.
    with db.writer():
        for index, commit in enumerate(commits):
            where = f"{url} commit #{index}"
            status = _field(commit, "status", where)
            if status not in (SUCCESS, FAILED):
                raise ApiError(400, f"remote/import: {where}: status must be SUCCESS or FAILED, got {status!r}")
            project = _field(commit, "project_name", where)
            dt_commit = _stamp(commit, "dt_commit", where)
            dt_distro = _stamp(commit, "dt_distro", where)
            old = queries.last_processed(db, project)
            if old is not None and old.dt_commit >= dt_commit and (old.dt_distgit or 0) >= dt_distro:
                continue  # DLRN: a newer commit of this package is already built
            new = NewCommit(
                project=project,
                release=config.release,
                commit_hash=_field(commit, "commit_hash", where),
                distro_hash=_field(commit, "distro_hash", where),
                dt_commit=dt_commit,
                dt_distgit=dt_distro,
                commit_branch=_optional(commit, "commit_branch"),
                component=_optional(commit, "component"),
            )
            queued = db.queue([new])
            if not queued:
                continue  # already known
            record = queued[0]
            db.claim(record.id, f"remote:{host}")
            artifacts = [name.rsplit("/", 1)[-1] for name in (_optional(commit, "artifacts") or "").split(",") if name]
            db.finish(
                record.id,
                status,
                artifacts=artifacts,
                notes=_optional(commit, "notes"),
                log_url=f"{repo_url.rstrip('/')}/build.log",
                dt_build=_stamp(commit, "dt_build", where),
            )
            recorded.append(record.repo_hash)
    return recorded
