"""Python requirement names → package names, from data (``pymod2pkg.yml``).

The map is data so that a distribution can read, review and extend it
without code: a default rule per packaging format and the exceptions.
pymod2pkg (OpenStack's map, which rdopkg uses) is Python code, knows no
Debian (its "ubuntu" map names Python 2 packages for several modules) and
would be one more dependency on every controller; the test suite holds our
data equal to its answers wherever Debian and it agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .._common.errors import InputError

try:
    import yaml
except ImportError:  # ansible-test imports modules without it; need_yaml() says so when it is used
    yaml = None  # type: ignore[assignment]
from . import pymod_data

# The map's source; modules read the copy embedded in pymod_data.py (tools/embed_pymod_map.py).
DATA = Path(__file__).with_name("pymod2pkg.yml")
FORMATS = ("rpm", "deb")


def canonical(name: str) -> str:
    """PEP 503's normalised name: lower case, runs of ``-``, ``_``, ``.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Rule:
    """The default naming rule of one format."""

    prefix: str
    strip_prefixes: tuple[str, ...] = ()
    strip_suffixes: tuple[str, ...] = ()
    lower: bool = True
    replace: tuple[tuple[str, str], ...] = ()

    def apply(self, name: str) -> str:
        """The package name the rule gives requirement ``name``."""
        base = name.lower() if self.lower else name
        for suffix in self.strip_suffixes:
            if base.endswith(suffix) and len(base) > len(suffix):
                base = base[: -len(suffix)]
        for prefix in self.strip_prefixes:
            if base.startswith(prefix) and len(base) > len(prefix):
                base = base[len(prefix) :]
        for old, new in self.replace:
            base = base.replace(old, new)
        return f"{self.prefix}{base}"


@dataclass(frozen=True)
class PackageMap:
    """The whole map: default rules, exceptions and the per-format facts reqcheck needs."""

    rules: Mapping[str, Rule]
    exceptions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    build_tools: Mapping[str, frozenset[str]] = field(default_factory=dict)
    python_prefixes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    python_version: Mapping[str, str] = field(default_factory=dict)

    def package(self, requirement: str, fmt: str) -> str:
        """The ``fmt`` (``rpm`` or ``deb``) package providing Python requirement ``requirement``."""
        special = self.exceptions.get(canonical(requirement), {})
        if fmt in special:
            return special[fmt]
        return self.rules[fmt].apply(requirement)

    def is_python(self, package: str, fmt: str) -> bool:
        """Whether ``package`` names a Python library of format ``fmt`` (only those can be excess)."""
        return package.startswith(self.python_prefixes.get(fmt, ("python3-",)))

    def with_overrides(self, mapped: Mapping[str, Mapping[str, str]]) -> "PackageMap":
        """This map with ``mapped`` (canonical name → {format: package}) taking precedence."""
        merged = {key: dict(value) for key, value in self.exceptions.items()}
        for key, value in mapped.items():
            merged.setdefault(key, {}).update(value)
        return PackageMap(self.rules, merged, self.build_tools, self.python_prefixes, self.python_version)


def _fail(path: Path, where: str, why: str) -> InputError:
    return InputError(f"{path}: {where} {why}; restore the file from the collection or fix that entry")


def _strings(value: Any, path: Path, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _fail(path, where, "must be a list of strings")
    return tuple(value)


def need_yaml() -> None:
    """Fail in one line when PyYAML is missing on this host."""
    if yaml is None:
        raise InputError("the Python library PyYAML is not installed on this host; pip install PyYAML")


def load(path: Path | None = None) -> PackageMap:
    """Read the map from ``path``, or the collection's own (``pymod2pkg.yml``, embedded in :mod:`.pymod_data`)."""
    if path is None:
        return parse(pymod_data.TEXT, DATA)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the package map ({exc})") from None
    return parse(text, path)


def parse(text: str, path: Path) -> PackageMap:
    """The map in YAML ``text`` (read from ``path``), its shape checked."""
    need_yaml()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: cannot read the package map ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise _fail(path, "the top", "must be a mapping")
    rules = {}
    for fmt in FORMATS:
        raw = (data.get("default") or {}).get(fmt)
        if not isinstance(raw, dict) or not isinstance(raw.get("prefix"), str):
            raise _fail(path, f"default.{fmt}", "needs a 'prefix' string")
        replace = raw.get("replace") or {}
        if not isinstance(replace, dict) or not all(isinstance(v, str) for pair in replace.items() for v in pair):
            raise _fail(path, f"default.{fmt}.replace", "must map strings to strings")
        rules[fmt] = Rule(
            prefix=raw["prefix"],
            strip_prefixes=_strings(raw.get("strip_prefixes", []), path, f"default.{fmt}.strip_prefixes"),
            strip_suffixes=_strings(raw.get("strip_suffixes", []), path, f"default.{fmt}.strip_suffixes"),
            lower=bool(raw.get("lower", True)),
            replace=tuple(replace.items()),
        )
    exceptions = parse_mapping(data.get("exceptions") or {}, path, "exceptions")
    return PackageMap(
        rules=rules,
        exceptions=exceptions,
        build_tools={
            fmt: frozenset(_strings((data.get("build_tools") or {}).get(fmt, []), path, f"build_tools.{fmt}"))
            for fmt in FORMATS
        },
        python_prefixes={
            fmt: _strings((data.get("python_prefixes") or {}).get(fmt, ["python3-"]), path, f"python_prefixes.{fmt}")
            for fmt in FORMATS
        },
        python_version={fmt: str((data.get("python_version") or {}).get(fmt, "3.11")) for fmt in FORMATS},
    )


def parse_mapping(raw: Any, path: Path, where: str) -> dict[str, dict[str, str]]:
    """``{requirement: package | {rpm: package, deb: package}}`` → canonical name → {format: package}."""
    if not isinstance(raw, dict):
        raise _fail(path, where, "must map requirement names to a package name or {rpm: ..., deb: ...}")
    out: dict[str, dict[str, str]] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not name:
            raise _fail(path, f"{where}: key {name!r}", "must be a requirement name")
        if isinstance(value, str) and value:
            out[canonical(name)] = {fmt: value for fmt in FORMATS}
        elif (
            isinstance(value, dict)
            and value
            and all(k in FORMATS and isinstance(v, str) and v for k, v in value.items())
        ):
            out[canonical(name)] = dict(value)
        else:
            raise _fail(path, f"{where}.{name}", "must be a package name or a mapping with 'rpm' and/or 'deb'")
    return out
