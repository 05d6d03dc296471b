"""The shape of one rdoinfo file: every field the loader, distroinfo or the
modules downstream read has the type they expect, before any of them reads it.

Hand-written rather than JSON Schema: the module runs on the managed host,
whose requirements stay distroinfo and PyYAML, and a mistake must come out
as one line in rdoinfo's words (``package 'keystone': tags.zed.source-branch``),
with the fix.  Fields this table does not know are passed through as they
are, so they need only be plain data (strings, numbers, booleans, lists and
mappings with string keys, not nested without bound).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

from .._common.errors import InputError
from .reading import show

# Deeper than any rdoinfo field (the public database nests 6 levels);
# distroinfo copies values recursively, so depth must stay well under
# Python's recursion limit.
MAX_DEPTH = 32

_SIMPLE_KEY = re.compile(r"^[\w.+-]+$")


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "true/false"),  # before int: bool is an int
    ((int, float), "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "a mapping"),
    (datetime.date, "a date"),  # datetime.datetime is a date
    ((bytes, bytearray), "binary data"),
    ((set, frozenset), "a set"),
)


def kind(value: object) -> str:
    """What a YAML value is, in the words of a YAML writer."""
    if value is None:
        return "empty (null)"
    return next((words for types, words in _KINDS if isinstance(value, types)), type(value).__name__)


def _fix(expected: str, value: object) -> str:
    if value is None:
        return "give a value or remove the line"
    if isinstance(value, (bool, int, float, datetime.date)) and expected == "a string":
        return "quote it"
    if isinstance(value, (list, dict, set)) and expected == "a string":
        return "write a single value"
    if expected.startswith("a list"):
        return "write one '- item' per line"
    if expected.startswith("a mapping"):
        return "write 'key: value' lines"
    return f"write {expected}"


def key_text(key: object) -> str:
    """A mapping key as part of a field path."""
    if isinstance(key, str) and _SIMPLE_KEY.match(key):
        return key
    return show(key)


class _Bad(Exception):
    """A field of the wrong shape: ``field`` is its path, the message says why and the fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _must(expected: str, value: object, field: str) -> _Bad:
    return _Bad(field, f"must be {expected}, not {kind(value)}; {_fix(expected, value)}")


def _key(key: object, field: str, what: str = "key") -> str:
    """``field.key``, refusing keys that are not strings (YAML reads 2023.1 as a number)."""
    if not isinstance(key, str):
        raise _Bad(f"{field}.{key_text(key)}" if field else key_text(key), f"the {what} is {kind(key)}; quote it")
    return f"{field}.{key_text(key)}" if field else key_text(key)


def _str(value: Any, field: str) -> None:
    if not isinstance(value, str):
        raise _must("a string", value, field)


def _str_or_null(value: Any, field: str) -> None:
    if value is not None:
        _str(value, field)


def _str_list(value: Any, field: str) -> None:
    # Exact types on purpose: a subclass (a bool for an int) is not the field's type.
    if type(value) is list and all(type(item) is str for item in value):  # pylint: disable=unidiomatic-typecheck
        return  # the usual case, without building field paths
    if not isinstance(value, list):
        raise _must("a list", value, field)
    for index, item in enumerate(value):
        _str(item, f"{field}[{index}]")


def _str_map_or_null(value: Any, field: str) -> None:
    if type(value) is dict and all(type(key) is str and type(item) is str for key, item in value.items()):  # pylint: disable=unidiomatic-typecheck
        return  # the usual case (buildsys-tags: 28,000 of them in the public database)
    for key, item in _mapping(value, field).items():
        _str(item, _key(key, field))


def _mapping(value: Any, field: str, what: str = "") -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _must(f"a mapping{what}", value, field)
    return value


def _list(value: Any, field: str, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _must(f"a list of {what}", value, field)
    return value


Check = Callable[[Any, str], None]

# Package fields, as in package entries, package-default, package-configs
# templates and per-release overrides (tags.<release>).  The public database
# leaves patches and review-* empty in its templates.
PACKAGE_FIELDS: dict[str, Check] = {
    "project": _str,
    "name": _str,
    "conf": _str,
    "upstream": _str,
    "master-distgit": _str,
    "distgit": _str,
    "centos-distgit": _str,
    "distgit-path": _str,
    "source-branch": _str,
    "distro-branch": _str,
    "component": _str,
    "patches": _str_or_null,
    "review-origin": _str_or_null,
    "review-patches": _str_or_null,
    "maintainers": _str_list,
    "buildsys-tags": _str_map_or_null,
}
# What a per-release override may not change: distroinfo applies overrides
# after the template and matches packages by project.
NOT_OVERRIDABLE = ("project", "conf", "tags")
RELEASE_FIELDS: dict[str, Check] = {
    "name": _str,
    "branch": _str,
    "upstream_branch": _str,
    "status": _str,
    "identifier": _str,
    "tags_map": _str,
}
REPO_FIELDS: dict[str, Check] = {"name": _str, "branch": _str, "buildsys": _str, "buildsys-tags": _str_list}
DISTREPO_FIELDS: dict[str, Check] = {"name": _str, "url": _str}


def _plain(value: Any, field: str) -> None:
    """Fields we do not know pass through: plain data only, not nested without bound."""
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    while stack:  # iteratively: YAML may nest 1,000 levels
        item, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _Bad(where, f"nested more than {MAX_DEPTH} levels deep; flatten it")
        if isinstance(item, dict):
            stack.extend((sub, _key(key, where), depth + 1) for key, sub in item.items())
        elif isinstance(item, list):
            stack.extend((sub, f"{where}[{index}]", depth + 1) for index, sub in enumerate(item))
        elif item is not None and not isinstance(item, (str, bool, int, float)):
            raise _Bad(where, f"{kind(item)} is not supported here; quote it")


def _fields(data: dict[Any, Any], known: dict[str, Check], field: str) -> None:
    for key, value in data.items():
        check = known.get(key) if isinstance(key, str) else None
        (check or _plain)(value, _key(key, field))


def _package_fields(data: dict[Any, Any], field: str, *, override: bool = False) -> None:
    """Fields of a package, a template or (``override``) a per-release override."""
    for key, value in data.items():
        if override and key in NOT_OVERRIDABLE:
            raise _Bad(_key(key, field), "cannot be set per release; set it on the package")
        if type(key) is str and type(value) is str and PACKAGE_FIELDS.get(key) in (_str, _str_or_null):  # pylint: disable=unidiomatic-typecheck
            continue  # the usual case, without building field paths
        where = _key(key, field)
        if key == "tags":
            _tags(value, where)
        else:
            PACKAGE_FIELDS.get(key, _plain)(value, where)


def _tags(tags: Any, field: str) -> None:
    if tags is not None and not isinstance(tags, dict):
        raise _Bad(field, f"must map release names to overrides (or nothing), not {kind(tags)}")
    for tag, overrides in (tags or {}).items():
        where = _key(tag, field, "release name")
        if overrides is not None and not isinstance(overrides, dict):
            raise _Bad(where, f"must be a mapping of overrides or empty, not {kind(overrides)}")
        _package_fields(overrides or {}, where, override=True)


def _releases(releases: Any, field: str) -> None:
    for index, release in enumerate(_list(releases, field, "releases, each with name: and repos:")):
        where = f"{field}[{index}]"
        if not isinstance(release, dict):
            raise _must("a mapping with name: and repos:", release, where)
        if "name" not in release:
            raise _Bad(where, "missing field 'name'")
        if not isinstance(release["name"], str):
            raise _must("a string", release["name"], f"{where}.name")
        if not release["name"]:
            raise _Bad(f"{where}.name", "is empty; give the release a name")
        _fields({k: v for k, v in release.items() if k != "repos"}, RELEASE_FIELDS, where)
        if "repos" in release:  # else from another file: checked after merging
            _repos(release, where)


def _repos(release: dict[str, Any], field: str) -> None:
    repos = release["repos"]
    if not isinstance(repos, list):
        raise _must("a list", repos, f"{field}.repos")
    for index, repo in enumerate(repos):
        where = f"{field}.repos[{index}]"
        if not isinstance(repo, dict):
            raise _must("a mapping with name:", repo, where)
        if "name" not in repo:
            raise _Bad(where, "missing field 'name'")
        if "branch" not in repo and not release.get("branch"):
            raise _Bad(where, "missing field 'branch' (set it on the repo or on the release)")
        _fields({k: v for k, v in repo.items() if k != "distrepos"}, REPO_FIELDS, where)
        distrepos = repo.get("distrepos")
        if "distrepos" in repo and not isinstance(distrepos, list):
            raise _must("a list", distrepos, f"{where}.distrepos")
        for number, distrepo in enumerate(distrepos or []):
            if not isinstance(distrepo, dict):
                raise _must("a mapping with name: and url:", distrepo, f"{where}.distrepos[{number}]")
            _fields(distrepo, DISTREPO_FIELDS, f"{where}.distrepos[{number}]")


def _top(data: dict[Any, Any]) -> None:
    for key, value in data.items():
        field = _key(key, "", "top-level key")
        if key in ("import", "packages"):
            continue  # import: by the loader (it knows the folder), packages: by check_file
        if key == "releases":
            _releases(value, field)
        elif key == "package-default":
            _package_fields(_mapping(value, field, " of package fields"), field)
        elif key == "package-configs":
            for name, template in _mapping(value, field, " of templates").items():
                where = _key(name, field, "template name")
                if not isinstance(template, dict):
                    raise _must("a mapping of package fields", template, where)
                _package_fields(template, where)
        elif key == "remote-info":
            _plain(_mapping(value, field), field)
        else:
            _plain(value, field)


def check_file(path: str, data: dict[Any, Any]) -> None:
    """Raise InputError (one line: file, package, field, fix) unless ``data`` has rdoinfo's shape."""
    try:
        _top(data)
        packages = _list(data.get("packages"), "packages", "packages, each with project:")
    except _Bad as bad:
        raise InputError(f"{path}: {bad.field}: {bad}") from None
    for index, pkg in enumerate(packages):
        where = f"packages[{index}]"
        if not isinstance(pkg, dict):
            raise InputError(f"{path}: {where}: each package must be a mapping with project:, not {kind(pkg)}")
        if "project" not in pkg:
            raise InputError(f"{path}: {where}: missing field 'project' (the upstream project name)")
        project = pkg["project"]
        if not isinstance(project, str) or not project:
            shown = kind(project) if project != "" else "empty"
            raise InputError(f"{path}: {where}: project: must be the upstream project name, not {shown}")
        try:
            _package_fields(pkg, "")
        except _Bad as bad:
            raise InputError(f"{path}: package {show(project)}: {bad.field}: {bad}") from None
