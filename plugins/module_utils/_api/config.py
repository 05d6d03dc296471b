"""What the API serves: its settings file, written by the api_serve role (JSON)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Dict, Union

from .._common.errors import InputError
from .._publish.layout import Layout

DEFAULT_MAX_BODY = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ApiConfig:
    """Settings of one API instance.

    ``db`` is the state DB (an SQLite file's path or a ``postgresql://``
    URL, kept as written: a URL is not a path), ``repos_dir`` the published ``repos/`` whose
    labels promotions move, ``baseurl`` its public URL (DLRN's ``baseurl``,
    for ``repo_url``), ``target`` the title of the HTML pages (DLRN's
    ``target``), ``release`` the release imported commits are recorded in.
    """

    db: Union[str, Path]
    repos_dir: Path
    baseurl: str
    reponame: str = "delorean"
    use_components: bool = False
    target: str = "distroforge"
    release: str = "master"
    max_body: int = DEFAULT_MAX_BODY
    # Seconds a request waits for another writer (state DB) or promotion (publish lock).
    lock_timeout: float = 20.0
    # Seconds and bytes for POST /api/remote/import's downloads.
    import_timeout: float = 10.0
    import_max_bytes: int = 4 * 1024 * 1024

    def layout(self) -> Layout:
        """The published repositories' layout."""
        return Layout(
            repos_dir=self.repos_dir,
            baseurl=self.baseurl,
            reponame=self.reponame,
            use_components=self.use_components,
        )

    @classmethod
    def from_dict(cls, data: Dict[str, Any], where: str = "API settings") -> "ApiConfig":
        """Settings from plain data; InputError naming the field when one is wrong."""
        if not isinstance(data, dict):
            raise InputError(f"{where}: must be a JSON object")
        fields = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise InputError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
        for name in ("db", "repos_dir", "baseurl"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise InputError(f"{where}: {name} must be a non-empty string")
        values: Dict[str, Any] = {}
        for name, value in data.items():
            default = fields[name].default
            if name in ("db", "repos_dir"):
                values[name] = Path(value) if name == "repos_dir" else value
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise InputError(f"{where}: {name} must be true or false, got {value!r}")
                values[name] = value
            elif isinstance(default, (int, float)) and not isinstance(default, bool):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise InputError(f"{where}: {name} must be a positive number, got {value!r}")
                values[name] = type(default)(value)
            else:
                if not isinstance(value, str) or not value:
                    raise InputError(f"{where}: {name} must be a non-empty string, got {value!r}")
                values[name] = value
        return cls(**values)

    @classmethod
    def load(cls, path: Union[str, Path]) -> "ApiConfig":
        """Read the settings file at ``path``."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"API settings {path}: cannot read ({exc.strerror})") from exc
        except ValueError as exc:
            raise InputError(f"API settings {path}: not JSON ({exc})") from exc
        return cls.from_dict(data, where=f"API settings {path}")
