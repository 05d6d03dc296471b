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
from .._common.files import open_atomic
from .reading import Refused, decode, parse, show
from .schema import check_file, key_text

try:
    from distroinfo import exception as di_exception
    from distroinfo import fetch as di_fetch
    from distroinfo import info as di_info
    from distroinfo import parse as di_parse
    from distroinfo import query as di_query
except ImportError as exc:  # reported by read(), on the host that lacks them
    _IMPORT_ERROR: ImportError | None = exc
    _FetcherBase: type = object
else:
    try:
        # reading.py needs it; say so here, once.
        import yaml  # noqa: F401  # pylint: disable=unused-import
    except ImportError as exc:
        _IMPORT_ERROR = exc
    else:
        _IMPORT_ERROR = None
    _FetcherBase = di_fetch.LocalInfoFetcher

REQUIRED_FIELDS = ("name", "project", "upstream", "master-distgit", "maintainers")
URL_FIELDS = ("upstream", "master-distgit", "distgit")
# git accepts URLs, scp-like ssh addresses and local paths.
URL_RE = re.compile(r"^((https?|git|ssh|file)://\S+|[\w.-]+@[\w.-]+:\S+|/\S*)$")
# Package and project names end up in paths and URLs: no '/', no spaces.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
# Tags that are not releases but mark packages in the public database.
DEFAULT_EXTRA_TAGS = ("dependency", "under-review", "version-locked", "build-tags-only")
# The public database imports 103 files, 4 levels deep; a few files that
# import each other twice over would otherwise be read 2**n times.
MAX_IMPORT_DEPTH = 32
MAX_FILE_READS = 2_000
# Part of the cache key: bump it when what a cached file holds, or what it
# was checked for before it was stored, changes.
CACHE_FORMAT = "2"
# In a template value, '%' starts %(field)s or is doubled; anything else is
# a stray '%' (URL-encoded text) that distroinfo's 'value % package' chokes
# on, or a width that makes it allocate gigabytes.
_TEMPLATE_PART = re.compile(r"%(\(([^()]*)\)s|%)?")


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
    # file that last set each field of package-default / of a template (the later file wins in distroinfo)
    default_fields: dict[str, str] = field(default_factory=dict)
    config_fields: dict[tuple[str, str], str] = field(default_factory=dict)


class _TrackingFetcher(_FetcherBase):  # type: ignore[misc,valid-type]
    """distroinfo's local fetcher, remembering which file said what.

    Imports are paths relative to the database's folder and must stay in it
    (symbolic links included); they are rewritten to their real path from
    the folder, so distroinfo's circular-import check sees through ``./``.
    """

    def __init__(self, source: str, cache_dir: str | None = None) -> None:
        super().__init__(source)
        self.tracked = _Tracked()
        self.cache_dir = cache_dir
        self.real_root = os.path.realpath(source)
        self.reads = 0
        self._last_read: str | None = None
        # distroinfo calls fetch(*imports) right after reading the file that lists them
        self._importers: list[str | None] = []

    def fetch(self, *info_files: Any, **kwargs: Any) -> list[dict[str, Any]]:
        importer = self._last_read
        if len(self._importers) > MAX_IMPORT_DEPTH:
            raise InputError(
                f"{importer}: import: files import each other more than {MAX_IMPORT_DEPTH} levels deep; "
                "import them from fewer levels"
            )
        self._importers.append(importer)
        try:
            return super().fetch(*info_files, **kwargs)
        except di_exception.CircularInfoInclude as exc:
            again = show(exc.kwargs.get("info"))
            raise InputError(
                f"{importer}: import: circular import: {again} is already being read (it imports this file, "
                "directly or not); remove it from import:"
            ) from None
        finally:
            self._importers.pop()

    def _cached(self, path: str) -> tuple[str | None, tuple[int, int] | None, Any]:
        """(cache file, stamp, data or None) for ``path``."""
        if not self.cache_dir:
            return None, None, None
        stat = os.stat(path)
        stamp = (stat.st_mtime_ns, stat.st_size)
        key = hashlib.sha256(f"{CACHE_FORMAT}\0{path}".encode(errors="surrogatepass")).hexdigest()[:32]
        cache_file = os.path.join(self.cache_dir, key + ".pickle")
        try:
            with open(cache_file, "rb") as handle:
                cached_stamp, data = pickle.load(handle)  # our own cache file, written below
        except Exception:  # a damaged cache file only costs speed
            return cache_file, stamp, None
        return cache_file, stamp, data if cached_stamp == stamp else None

    def _store(self, cache_file: str | None, stamp: tuple[int, int] | None, data: Any) -> None:
        if cache_file is None:
            return
        try:
            os.makedirs(self.cache_dir, exist_ok=True)
            # Derived data: not fsynced; a damaged entry is read as a miss.
            with open_atomic(cache_file, 0o644, durable=False) as handle:
                pickle.dump((stamp, data), handle, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError:
            pass  # a cache that cannot be written only costs speed

    def get_file_data(self, fn: str) -> dict[str, Any]:
        path = os.path.normpath(os.path.join(self.source, fn))
        importer = self._importers[-1] if self._importers else None
        self.reads += 1
        if self.reads > MAX_FILE_READS:
            raise InputError(
                f"{importer}: import: more than {MAX_FILE_READS} files read in all (the same files imported "
                "again and again); import each file once"
            )
        fix = "fix that file's import: list" if importer else "fix the path"
        try:
            cache_file, stamp, data = self._cached(path)
            if data is None:
                with open(path, "rb") as handle:
                    content = handle.read()
        except FileNotFoundError:
            raise InputError(f"{path}: no such file (imported from {importer or 'nowhere'}); {fix}") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read it ({exc.strerror or exc}); {fix}") from None
        if data is None:
            try:
                data = parse(decode(content))
            except Refused as exc:
                at = f":{exc.line}" if exc.line else ""
                raise InputError(f"{path}{at}: {exc}") from None
            if data is None:
                data = {}
            if not isinstance(data, dict):
                raise InputError(
                    f"{path}: the top level must be a mapping (releases:, packages:, import:), not a "
                    f"{type(data).__name__}; fix the file"
                )
            self._track(path, data)
            self._store(cache_file, stamp, data)
        else:
            self._track(path, data)
        self._last_read = path
        return data

    def _import_name(self, path: str, index: int, name: object) -> str:
        """The import's path from the database folder, refusing any that leave it."""
        field = f"{path}: import[{index}]"
        if not isinstance(name, str) or not name or not name.isprintable():
            raise InputError(f"{field}: {show(name)} is not a file name relative to {self.source}; fix it")
        if os.path.isabs(name):
            raise InputError(
                f"{field}: {show(name)} is an absolute path; imports are paths relative to the database "
                f"folder {self.source}, inside it"
            )
        target = os.path.realpath(os.path.join(self.source, name))
        if os.path.commonpath([target, self.real_root]) != self.real_root:
            lexical = os.path.normpath(os.path.join(self.real_root, name))
            how = " through a symbolic link" if lexical.startswith(self.real_root + os.sep) else ""
            raise InputError(
                f"{field}: {show(name)} leads out of the database folder {self.source}{how}; "
                "imports must stay inside it"
            )
        if os.path.isdir(target):
            raise InputError(f"{field}: {show(name)} is a folder, not a file; name the file to import")
        if os.path.exists(target) and not os.path.isfile(target):  # a FIFO would block the read for ever
            raise InputError(f"{field}: {show(name)} is not a regular file; name the file to import")
        return os.path.relpath(target, self.real_root)

    def _track(self, path: str, data: dict[str, Any]) -> None:
        tracked = self.tracked
        tracked.files.append(path)
        imports = data.get("import")
        if imports is not None:
            if not isinstance(imports, list):
                raise InputError(f"{path}: import: must be a list of file names relative to {self.source}")
            data["import"] = [self._import_name(path, index, name) for index, name in enumerate(imports)]
        check_file(path, data)
        for key in data.get("package-default") or {}:
            tracked.default_fields[key] = path
        for name, template in (data.get("package-configs") or {}).items():
            tracked.configs.setdefault(name, path)
            for key in template:
                tracked.config_fields[(name, key)] = path
        for release in data.get("releases") or []:
            tracked.releases.setdefault(release["name"], path)
        for index, pkg in enumerate(data.get("packages") or []):
            project = pkg["project"]
            origins = tracked.packages.setdefault(project, [])
            for seen in origins:
                if seen.file == path and _conflicts(seen.entry, pkg):
                    raise InputError(
                        f"{path}: package {show(project)} is defined twice with different values "
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
    return f"{origin.file}: package {show(project)}"


def _check_conf(tracked: _Tracked, configs: dict[str, Any]) -> None:
    for project, origins in tracked.packages.items():
        for origin in origins:
            conf = origin.entry.get("conf")
            if conf is not None and conf not in configs:
                known = ", ".join(key_text(name) for name in sorted(configs)) or "none defined"
                raise InputError(
                    f"{_where(origin, project)}: conf: unknown template {show(conf)} (package-configs defines: {known})"
                )


def _check_tags(tracked: _Tracked, releases: set[str], extra_tags: set[str]) -> None:
    release_sub = re.compile(r"^(" + "|".join(re.escape(r) for r in sorted(releases)) + r")-[\w.-]+$")
    for project, origins in tracked.packages.items():
        for origin in origins:
            for tag in origin.entry.get("tags") or {}:  # types checked by schema.check_file
                if tag not in releases and tag not in extra_tags and not (releases and release_sub.match(tag)):
                    raise InputError(
                        f"{_where(origin, project)}: tags: {show(tag)} is not a release "
                        f"(releases: {', '.join(key_text(r) for r in sorted(releases))}); fix the name or add it to "
                        "releases:"
                    )


def _check_releases(merged: dict[str, Any], tracked: _Tracked) -> None:
    """What distroinfo needs of a release once its parts from every file are merged."""
    for release in merged.get("releases") or []:
        where = f"{tracked.releases[release['name']]}: release {show(release['name'])}"
        if "repos" not in release:
            raise InputError(f"{where}: missing field 'repos' (the repositories it is built for)")
        for index, repo in enumerate(release["repos"]):
            if "branch" not in repo and not release.get("branch"):
                raise InputError(
                    f"{where}: repos[{index}]: missing field 'branch' (set it on the repo or on the release)"
                )


def _check_package(pkg: dict[str, Any], origin: _Origin) -> None:
    project = pkg["project"]
    for name in ("project", "name"):
        if not NAME_RE.match(pkg[name]):
            raise InputError(
                f"{_where(origin, project)}: {name}: {show(pkg[name])} is not a package name (letters, digits, "
                "'.', '_', '+' and '-', starting with a letter or digit); fix it"
            )
    for name in URL_FIELDS:
        value = pkg.get(name)
        if value is not None and not URL_RE.match(value):
            raise InputError(
                f"{_where(origin, project)}: {name}: {show(value)} is not a git URL "
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
                    both = f" in {', '.join(key_text(tag) for tag in sorted(shared))}" if shared else ""
                    raise InputError(
                        f"{_where(origin, second['project'])}: name: duplicate package name {show(name)}{both} "
                        f"(also project {show(first['project'])} in {other.file}); rename one"
                    )


def _translate(exc: Exception, path: str) -> InputError:
    """Last resort for what our checks did not catch first."""
    return InputError(f"{path}: {' '.join(str(exc).split())} (rdoinfo format)")


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
    raw_infos = fetcher.fetch(*distro.info_files)
    tracked = fetcher.tracked
    merged = di_parse.merge_infos(*raw_infos)
    for section in ("package-default", "package-configs"):  # left empty: distroinfo wants a mapping
        if merged.get(section) is None:
            merged[section] = {}
    configs = merged.get("package-configs") or {}
    _check_conf(tracked, configs)
    release_names = set(tracked.releases)
    if not release_names:
        raise InputError(f"{path}: no releases: section in it or its imports; add one (name:, branch:, repos:)")
    _check_releases(merged, tracked)
    _check_tags(tracked, release_names, set(extra_tags))
    return merged, tracked


def _value_origin(
    tracked: _Tracked, pkg: dict[str, Any], key: str, release: str | None, conf: str | None
) -> tuple[str, str]:
    """(file, field) that gave a package its ``key``: as distroinfo applies them, last writer first."""
    origins = tracked.packages[pkg["project"]]
    for origin in reversed(origins):
        overrides = (origin.entry.get("tags") or {}).get(release) if release else None
        if overrides and overrides.get(key) is not None:
            return origin.file, f"package {show(pkg['project'])}: tags.{key_text(release)}.{key_text(key)}"
    for origin in reversed(origins):
        if origin.entry.get(key) is not None:
            return origin.file, f"package {show(pkg['project'])}: {key_text(key)}"
    if conf is not None and (conf, key) in tracked.config_fields:
        field = f"package-configs.{key_text(conf)}.{key_text(key)}"
        return tracked.config_fields[(conf, key)], f"{field} (package {show(pkg['project'])})"
    field = f"package-default.{key_text(key)}"
    return tracked.default_fields.get(key, tracked.files[0]), f"{field} (package {show(pkg['project'])})"


def template_fields(value: str) -> tuple[list[str], int | None]:
    """The fields ``value`` refers to as %(name)s, and the offset of its first stray '%' (or None).

    Hand-written rather than left to Python's % operator, which distroinfo
    uses: that operator also takes widths (``%(project)999999999s``
    allocates a gigabyte), conversions that fail (``%2F``) and unnamed
    ``%s`` (it formats the whole package).  Only %(name)s and %% are
    accepted (the public database uses only %(project)s); for those, a test
    proves the operator does plain substitution.
    """
    names = []
    for part in _TEMPLATE_PART.finditer(value):
        if part.group(1) is None:
            return names, part.start()
        if part.group(2) is not None:
            names.append(part.group(2))
    return names, None


def _check_templates(expanded: dict[str, Any], tracked: _Tracked, release: str | None) -> None:
    """Refuse what distroinfo's ``value % package`` would choke on, naming the file and field."""
    for key, value in expanded.items():
        if not isinstance(value, str) or "%" not in value:
            continue
        names, stray = template_fields(value)
        missing = [name for name in names if name not in expanded]
        if stray is None and not missing:
            continue
        file, field = _value_origin(tracked, expanded, key, release, expanded.get("conf"))
        if stray is not None:
            raise InputError(
                f"{file}: {field}: {show(value)} has a '%' at offset {stray} that starts no %(field)s; "
                "write %% for a literal %"
            )
        raise InputError(
            f"{file}: {field}: {show(value)} refers to field {show(missing[0])}, which the package does not "
            "have; fix the name or add the field"
        )


def _expand(pkg: dict[str, Any], merged: dict[str, Any], release: str | None) -> dict[str, Any]:
    """The package as distroinfo's parse_package builds it, before substitution."""
    default = merged.get("package-default") or {}
    configs = merged.get("package-configs") or {}
    template = (configs.get(pkg["conf"]) or {}) if "conf" in pkg else {}
    expanded = {**default, **template, **pkg}
    overrides = (expanded.get("tags") or {}).get(release) if release else None
    return {**expanded, **overrides} if overrides else expanded


def _release_view(merged: dict[str, Any], release: str | None, tracked: _Tracked) -> list[dict[str, Any]]:
    """Expand every package through distroinfo, one at a time so errors name it."""
    try:
        di_parse.parse_releases(merged)
    except di_exception.DistroInfoException as exc:
        raise _translate(exc, tracked.files[0]) from None
    packages = []
    for entry in merged.get("packages") or []:
        origin = _home(tracked, entry["project"])
        # 'tags:' left empty: in no release (distroinfo would call None.get)
        pkg = {**entry, "tags": {}} if entry.get("tags", {}) is None else entry
        expanded = _expand(pkg, merged, release)
        # distroinfo checks only some required fields, with messages that name no file
        for name in REQUIRED_FIELDS:
            if not expanded.get(name):
                raise InputError(
                    f"{_where(origin, pkg['project'])}: missing field '{name}' "
                    "(set it on the package or in its conf: template)"
                )
        maintainers = expanded["maintainers"]
        if not all("@" in m for m in maintainers):
            raise InputError(f"{_where(origin, pkg['project'])}: maintainers: must be a list of e-mail addresses")
        _check_templates(expanded, tracked, release)
        try:
            parsed = di_parse.parse_package(pkg, merged, apply_tag=release)
        except di_exception.DistroInfoException as exc:
            raise InputError(
                f"{_where(origin, pkg['project'])}: {' '.join(str(exc).split())} (rdoinfo format)"
            ) from None
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
                f"{tracked.files[0]}: release {show(release)} is not in releases: "
                f"(known: {', '.join(key_text(r) for r in sorted(tracked.releases))}); fix the release option"
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
            scope = f" tagged for {key_text(release)}" if release else ""
            raise InputError(
                f"{tracked.files[0]}: no package{scope} named {', '.join(key_text(m) for m in sorted(missing))}"
            )
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
