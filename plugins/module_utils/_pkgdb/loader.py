"""Read a package database in the rdoinfo format, through distroinfo.

distroinfo (the library DLRN and rdopkg use) does the merging of included
files, the package templates (``package-default``, ``package-configs`` and
``conf:``) and the per-release tag overrides.  It reports problems as
exceptions that name neither the file nor, often, the package, so before
handing the data over we keep track of which file defined what and check
the things users get wrong, each with one line naming the file, the package,
the field and the fix.  The public rdoinfo database loads unchanged: every
check here is one it passes.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from dataclasses import dataclass, field
from typing import Any

from .._common.errors import InputError

try:
    import yaml
    from distroinfo import exception as di_exception
    from distroinfo import fetch as di_fetch
    from distroinfo import info as di_info
    from distroinfo import parse as di_parse
    from distroinfo import query as di_query
except ImportError as exc:  # reported by read(), on the host that lacks them
    _IMPORT_ERROR: ImportError | None = exc
    _FetcherBase: type = object
else:
    _IMPORT_ERROR = None
    _FetcherBase = di_fetch.LocalInfoFetcher
    try:  # the C loader is ~10x faster on the 1,400-package public database
        from yaml import CSafeLoader as _Loader
    except ImportError:  # pragma: no cover - PyYAML without libyaml
        from yaml import SafeLoader as _Loader  # type: ignore[assignment]

REQUIRED_FIELDS = ("name", "project", "upstream", "master-distgit", "maintainers")
URL_FIELDS = ("upstream", "master-distgit", "distgit")
# git accepts URLs, scp-like ssh addresses and local paths.
URL_RE = re.compile(r"^((https?|git|ssh|file)://\S+|[\w.-]+@[\w.-]+:\S+|/\S*)$")
# Tags that are not releases but mark packages in the public database.
DEFAULT_EXTRA_TAGS = ("dependency", "under-review", "version-locked", "build-tags-only")


@dataclass
class _Origin:
    """Where a package's fields were written."""

    file: str
    index: int
    entry: dict[str, Any]


@dataclass
class _Tracked:
    files: list[str] = field(default_factory=list)
    packages: dict[str, list[_Origin]] = field(default_factory=dict)
    configs: dict[str, str] = field(default_factory=dict)
    releases: dict[str, str] = field(default_factory=dict)


class _TrackingFetcher(_FetcherBase):  # type: ignore[misc,valid-type]
    """distroinfo's local fetcher, remembering which file said what."""

    def __init__(self, source: str, cache_dir: str | None = None) -> None:
        super().__init__(source)
        self.tracked = _Tracked()
        self.cache_dir = cache_dir

    def _cached(self, path: str) -> tuple[str | None, tuple[int, int] | None, Any]:
        """(cache file, stamp, data or None) for ``path``."""
        if not self.cache_dir:
            return None, None, None
        stat = os.stat(path)
        stamp = (stat.st_mtime_ns, stat.st_size)
        cache_file = os.path.join(self.cache_dir, hashlib.sha256(path.encode()).hexdigest()[:32] + ".pickle")
        try:
            with open(cache_file, "rb") as handle:
                cached_stamp, data = pickle.load(handle)  # our own cache file, written below
        except (OSError, EOFError, pickle.PickleError, ValueError, TypeError):
            return cache_file, stamp, None
        return cache_file, stamp, data if cached_stamp == stamp else None

    def _store(self, cache_file: str | None, stamp: tuple[int, int] | None, data: Any) -> None:
        if cache_file is None:
            return
        try:
            os.makedirs(self.cache_dir, exist_ok=True)
            tmp = f"{cache_file}.{os.getpid()}.tmp"
            with open(tmp, "wb") as handle:
                pickle.dump((stamp, data), handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, cache_file)
        except OSError:
            pass  # a cache that cannot be written only costs speed

    def get_file_data(self, fn: str) -> dict[str, Any]:
        path = os.path.normpath(os.path.join(self.source, fn))
        try:
            cache_file, stamp, data = self._cached(path)
            if data is not None:
                self._track(path, data)
                return data
            with open(path, encoding="utf-8") as handle:
                content = handle.read()
        except FileNotFoundError:
            where = self.tracked.files[-1] if self.tracked.files else "the entry file"
            raise InputError(f"{path}: no such file (imported from {where}); fix the import: list") from None
        try:
            data = yaml.load(content, Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise InputError(f"{path}{at}: YAML syntax error: {problem}") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InputError(f"{path}: the top level must be a mapping (releases:, packages:, import:)")
        self._track(path, data)
        self._store(cache_file, stamp, data)
        return data

    def _track(self, path: str, data: dict[str, Any]) -> None:
        tracked = self.tracked
        tracked.files.append(path)
        imports = data.get("import", [])
        if not isinstance(imports, list) or not all(isinstance(i, str) for i in imports):
            raise InputError(f"{path}: import: must be a list of file names relative to {self.source}")
        for name in data.get("package-configs") or {}:
            tracked.configs.setdefault(name, path)
        releases = data.get("releases") or []
        if not isinstance(releases, list):
            raise InputError(f"{path}: releases: must be a list of releases, each with name: and repos:")
        for index, release in enumerate(releases):
            if not isinstance(release, dict) or not isinstance(release.get("name"), str):
                raise InputError(f"{path}: releases[{index}]: missing field 'name'")
            tracked.releases.setdefault(release["name"], path)
        packages = data.get("packages") or []
        if not isinstance(packages, list):
            raise InputError(f"{path}: packages: must be a list of packages, each with project:")
        for index, pkg in enumerate(packages):
            if not isinstance(pkg, dict):
                raise InputError(f"{path}: packages[{index}]: each package must be a mapping with project:")
            project = pkg.get("project")
            if not isinstance(project, str) or not project:
                raise InputError(f"{path}: packages[{index}]: missing field 'project' (the upstream project name)")
            origins = tracked.packages.setdefault(project, [])
            for seen in origins:
                if seen.file == path and _conflicts(seen.entry, pkg):
                    raise InputError(
                        f"{path}: package '{project}' is defined twice with different values "
                        f"(packages[{seen.index}] and packages[{index}]); keep one entry"
                    )
            # a shallow copy: distroinfo merges the file's data in place later
            origins.append(_Origin(path, index, dict(pkg)))


def _conflicts(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return any(key in a and a[key] != value for key, value in b.items())


@dataclass
class PackageDB:
    """A loaded package database."""

    path: str
    packages: list[dict[str, Any]]
    releases: list[dict[str, Any]]
    files: list[str]


def _home(tracked: _Tracked, project: str) -> _Origin:
    """The entry that introduced a project (the first file naming it)."""
    return tracked.packages[project][0]


def _where(origin: _Origin, project: str) -> str:
    return f"{origin.file}: package '{project}'"


def _check_conf(tracked: _Tracked, configs: dict[str, Any]) -> None:
    for project, origins in tracked.packages.items():
        for origin in origins:
            conf = origin.entry.get("conf")
            if conf is not None and conf not in configs:
                known = ", ".join(sorted(configs)) or "none defined"
                raise InputError(
                    f"{_where(origin, project)}: conf: unknown template '{conf}' (package-configs defines: {known})"
                )


def _check_tags(tracked: _Tracked, releases: set[str], extra_tags: set[str]) -> None:
    release_sub = re.compile(r"^(" + "|".join(re.escape(r) for r in sorted(releases)) + r")-[\w.-]+$")
    for project, origins in tracked.packages.items():
        for origin in origins:
            tags = origin.entry.get("tags")
            if tags is None:
                continue
            if not isinstance(tags, dict):
                raise InputError(f"{_where(origin, project)}: tags: must map release names to overrides (or nothing)")
            for tag, value in tags.items():
                if tag not in releases and tag not in extra_tags and not (releases and release_sub.match(str(tag))):
                    raise InputError(
                        f"{_where(origin, project)}: tags: '{tag}' is not a release "
                        f"(releases: {', '.join(sorted(releases))}); fix the name or add it to releases:"
                    )
                if value is not None and not isinstance(value, dict):
                    raise InputError(f"{_where(origin, project)}: tags.{tag}: must be a mapping of overrides or empty")


def _check_package(pkg: dict[str, Any], origin: _Origin) -> None:
    project = pkg["project"]
    for name in URL_FIELDS:
        value = pkg.get(name)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str) or not URL_RE.match(item):
                raise InputError(
                    f"{_where(origin, project)}: {name}: '{item}' is not a git URL "
                    "(https://, git://, ssh://, file://, user@host:path or an absolute path)"
                )


def _check_names(packages: list[dict[str, Any]], tracked: _Tracked) -> None:
    """Two projects may share a package name only if no tag (release) has both."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for pkg in packages:
        by_name.setdefault(pkg["name"], []).append(pkg)
    for name, same in by_name.items():
        for i, first in enumerate(same):
            for second in same[i + 1 :]:
                shared = set(first.get("tags") or {}) & set(second.get("tags") or {})
                if shared or not (first.get("tags") or second.get("tags")):
                    origin = _home(tracked, second["project"])
                    other = _home(tracked, first["project"])
                    both = f" in {', '.join(sorted(shared))}" if shared else ""
                    raise InputError(
                        f"{_where(origin, second['project'])}: name: duplicate package name '{name}'{both} "
                        f"(also project '{first['project']}' in {other.file}); rename one"
                    )


def _translate(exc: Exception, path: str) -> InputError:
    """Last resort for what our checks did not catch first."""
    return InputError(f"{path}: {exc} (rdoinfo format)")


def load(
    path: str, *, extra_tags: tuple[str, ...] = DEFAULT_EXTRA_TAGS, cache_dir: str | None = None
) -> tuple[dict[str, Any], _Tracked]:
    """Load and validate every file of the database whose entry file is ``path``.

    With ``cache_dir``, each file's parsed YAML is kept there keyed by its
    path, size and mtime: YAML parsing is 80 % of loading the public
    database, and a poller rereads unchanged files every few minutes.
    """
    if _IMPORT_ERROR is not None:
        raise InputError(f"pkgdb: {_IMPORT_ERROR.name} is not installed on this host; install distroinfo and PyYAML")
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such package database file; fix the path")
    fetcher = _TrackingFetcher(os.path.dirname(path), cache_dir=cache_dir)
    distro = di_info.DistroInfo(info_files=os.path.basename(path), fetcher=fetcher)
    try:
        raw_infos = fetcher.fetch(*distro.info_files)
    except di_exception.CircularInfoInclude as exc:
        raise InputError(f"{path}: circular import: {exc}; remove it from import:") from None
    tracked = fetcher.tracked
    merged = di_parse.merge_infos(*raw_infos)
    configs = merged.get("package-configs") or {}
    _check_conf(tracked, configs)
    release_names = set(tracked.releases)
    if not release_names:
        raise InputError(f"{path}: no releases: section in it or its imports; add one (name:, branch:, repos:)")
    _check_tags(tracked, release_names, set(extra_tags))
    return merged, tracked


def _release_view(merged: dict[str, Any], release: str | None, tracked: _Tracked) -> list[dict[str, Any]]:
    """Expand every package through distroinfo, one at a time so errors name it."""
    try:
        di_parse.parse_releases(merged)
    except di_exception.DistroInfoException as exc:
        raise _translate(exc, tracked.files[0]) from None
    default = merged.get("package-default") or {}
    configs = merged.get("package-configs") or {}
    packages = []
    for pkg in merged.get("packages") or []:
        origin = _home(tracked, pkg["project"])
        # distroinfo checks only some required fields, with messages that name no file
        expanded = {**default, **configs.get(pkg.get("conf"), {}), **pkg}
        for name in REQUIRED_FIELDS:
            if not expanded.get(name):
                raise InputError(
                    f"{_where(origin, pkg['project'])}: missing field '{name}' "
                    "(set it on the package or in its conf: template)"
                )
        maintainers = expanded["maintainers"]
        if not isinstance(maintainers, list) or not all(isinstance(m, str) and "@" in m for m in maintainers):
            raise InputError(f"{_where(origin, pkg['project'])}: maintainers: must be a list of e-mail addresses")
        try:
            parsed = di_parse.parse_package(pkg, merged, apply_tag=release)
        except di_exception.DistroInfoException as exc:
            raise InputError(f"{_where(origin, pkg['project'])}: {exc} (rdoinfo format)") from None
        _check_package(parsed, origin)
        packages.append(parsed)
    return packages


def read(
    path: str,
    *,
    release: str | None = None,
    names: list[str] | None = None,
    extra_tags: tuple[str, ...] = DEFAULT_EXTRA_TAGS,
    cache_dir: str | None = None,
    source_branch: str = "master",
    distgit_branch: str = "rpm-master",
) -> PackageDB:
    """Load the database, keep the packages tagged for ``release`` and named in ``names``.

    Returns packages as dicts with the rdoinfo fields plus ``distgit``
    (``master-distgit`` after template expansion), ``tags`` (names),
    ``source_branch`` and ``distgit_branch`` (package, then release, then the
    given defaults), and with ``release`` the release name.
    ``cache_dir`` keeps parsed files between runs (see :func:`load`).
    """
    merged, tracked = load(path, extra_tags=extra_tags, cache_dir=cache_dir)
    releases = merged["releases"]
    rel = None
    if release is not None:
        rel = di_query.get_release(merged, release)
        if rel is None:
            raise InputError(
                f"{tracked.files[0]}: release '{release}' is not in releases: "
                f"(known: {', '.join(sorted(tracked.releases))}); fix the release option"
            )
    packages = _release_view(merged, release, tracked)
    if rel is not None:
        packages = [p for p in packages if release in (p.get("tags") or {})]
    _check_names(packages, tracked)
    if names:
        wanted = set(names)
        packages = [p for p in packages if p["name"] in wanted or p["project"] in wanted]
        missing = wanted - {p["name"] for p in packages} - {p["project"] for p in packages}
        if missing:
            scope = f" tagged for {release}" if release else ""
            raise InputError(f"{tracked.files[0]}: no package{scope} named {', '.join(sorted(missing))}")
    return PackageDB(
        path=path,
        packages=[_normalise(p, rel, (source_branch, distgit_branch)) for p in packages],
        releases=[_release_summary(r) for r in releases],
        files=list(dict.fromkeys(tracked.files)),
    )


def _normalise(pkg: dict[str, Any], release: dict[str, Any] | None, branches: tuple[str, str]) -> dict[str, Any]:
    out = dict(pkg)
    out["distgit"] = pkg["master-distgit"]
    out["tags"] = sorted(pkg.get("tags") or {})
    rel = release or {}
    if release is not None:
        out["release"] = release["name"]
    # DLRN: a package's source-branch/distro-branch win over the release's
    # (distroinfo has applied the release's tag overrides already), and the
    # release's win over the worker's defaults (projects.ini source=/distro=).
    out["source_branch"] = pkg.get("source-branch") or rel.get("upstream_branch") or branches[0]
    out["distgit_branch"] = pkg.get("distro-branch") or rel.get("branch") or branches[1]
    return out


def _release_summary(release: dict[str, Any]) -> dict[str, Any]:
    return dict(release)
