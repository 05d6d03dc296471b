"""reqcheck: an upstream's requirements at a tag against its packaging's dependencies.

What ``rdopkg reqcheck`` does for RDO, for RPM and DEB at once: each line of
``requirements.txt`` (runtime) and ``test-requirements.txt`` (build) is
parsed by the ``packaging`` library (PEP 508: extras, version specifiers,
environment markers, which are evaluated for the target's Python), mapped to
a package name (:mod:`.pymod`) and looked up among the packaging's
``Requires``/``Depends`` (runtime) or ``BuildRequires``/``Build-Depends``
(build).  Each requirement is:

* ``met``: packaged, and its packaged minimum is at least upstream's (or
  upstream states none);
* ``any_version``: packaged without a version while upstream wants a minimum
  (rdopkg's ANY; Debian packaging often relies on the release's repository);
* ``mismatch``: packaged with a lower minimum than upstream's;
* ``missing``: not packaged.

A packaged Python library nothing upstream requires is ``excess``; a
requirement the old tag had and the new one has not is ``removed``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .._common.errors import InputError

try:
    from packaging.markers import default_environment
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version
except ImportError:  # ansible-test imports modules without it; need_packaging() says so when it is used
    HAS_PACKAGING = False

    class InvalidRequirement(ValueError):  # type: ignore[no-redef]
        """Stands in for packaging's (never raised)."""

    class InvalidVersion(ValueError):  # type: ignore[no-redef]
        """Stands in for packaging's (never raised)."""

    Requirement = Version = default_environment = None  # type: ignore[assignment,misc]
else:
    HAS_PACKAGING = True


def need_packaging() -> None:
    """Fail in one line when the ``packaging`` library is missing on this host."""
    if not HAS_PACKAGING:
        raise InputError("the Python library 'packaging' is not installed on this host; pip install packaging")


from .._versions.vercmp import rpm_vercmp
from .pkgfiles import Dependencies, Dependency
from .pymod import FORMATS, PackageMap, canonical, need_yaml, parse_mapping, yaml

STATUSES = ("met", "any_version", "mismatch", "missing", "excess", "removed")
KINDS = {"runtime": "requirements.txt", "build": "test-requirements.txt"}


@dataclass(frozen=True)
class UpstreamRequirement:
    """One requirement line that applies to the target."""

    name: str
    specifier: str
    line: str
    lineno: int

    @property
    def minimum(self) -> str | None:
        """The lowest version upstream accepts (``>=``, ``>``, ``==``, ``~=``), the highest of them."""
        best: str | None = None
        for spec in Requirement(self.line).specifier:
            lower = spec.operator in (">=", ">", "==", "~=", "===") and "*" not in spec.version
            if lower and (best is None or _version_cmp(spec.version, best) > 0):
                best = spec.version
        return best


@dataclass(frozen=True)
class Overrides:
    """What a distribution decided: requirements not to check, and names mapped by hand."""

    ignore: frozenset[str] = frozenset()
    ignore_build: frozenset[str] = frozenset()
    mapped: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def load_overrides(path: Path | str | None, package: str = "") -> Overrides:
    """Read an overrides file: ``ignore``, ``ignore_build``, ``map`` and per-package ``packages.<name>``.

    Names are requirement names (normalised as PEP 503 says) or package names.
    """
    if path is None:
        return Overrides()
    need_yaml()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the reqcheck overrides ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or set(data) - {"ignore", "ignore_build", "map", "packages"}:
        raise InputError(f"{path}: the overrides file holds only 'ignore', 'ignore_build', 'map' and 'packages'")
    sections = [data]
    per_package = data.get("packages") or {}
    if not isinstance(per_package, dict):
        raise InputError(f"{path}: 'packages' must map package names to their own ignore/ignore_build/map")
    if package in per_package:
        sections.append(per_package[package] or {})
    ignore: set[str] = set()
    ignore_build: set[str] = set()
    mapped: dict[str, dict[str, str]] = {}
    for number, section in enumerate(sections):
        where = "" if number == 0 else f"packages.{package}."
        if not isinstance(section, dict):
            raise InputError(f"{path}: {where or 'the top'} must be a mapping")
        for key, target in (("ignore", ignore), ("ignore_build", ignore_build)):
            names = section.get(key) or []
            if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
                raise InputError(f"{path}: {where}{key} must be a list of requirement or package names")
            target.update(canonical(n) for n in names)
        mapped.update(parse_mapping(section.get("map") or {}, path, f"{where}map"))
    return Overrides(frozenset(ignore), frozenset(ignore_build), mapped)


def marker_environment(python_version: str) -> dict[str, str]:
    """PEP 508 marker values of a Linux target running CPython ``python_version`` (e.g. ``3.9``)."""
    env = dict(default_environment())
    full = python_version if python_version.count(".") >= 2 else f"{python_version}.0"
    env.update(
        python_version=".".join(full.split(".")[:2]),
        python_full_version=full,
        sys_platform="linux",
        platform_system="Linux",
        os_name="posix",
        implementation_name="cpython",
        platform_python_implementation="CPython",
        extra="",
    )
    return env


def parse_requirements(text: str, where: str, python_version: str) -> list[UpstreamRequirement]:
    """The requirement lines of ``text`` whose markers hold for ``python_version``; a broken line is one error."""
    need_packaging()
    env = marker_environment(python_version)
    out = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if line.startswith("#") or not line:
            continue
        if line.startswith("-"):  # -r other.txt, -c constraints, -e url: pip options, no requirement
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            why = str(exc).splitlines()[0]
            raise InputError(
                f"{where} line {lineno}: {line!r} is not a PEP 508 requirement ({why}); fix it upstream"
            ) from None
        if req.url:
            continue
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        out.append(UpstreamRequirement(req.name, str(req.specifier), line, lineno))
    return out


def _version_cmp(a: str, b: str) -> int:
    try:
        left, right = Version(a), Version(b)
    except InvalidVersion:  # a distribution's spelling (1.0~rc1): rpm's order
        return rpm_vercmp(a, b)
    return (left > right) - (left < right)


def _packaged_minimum(dep: Dependency) -> str | None:
    best: str | None = None
    for op, version in dep.constraints:
        if op in (">=", ">", "="):
            plain = version.split(":", 1)[-1]  # epochs are the distribution's, not upstream's
            if op == "=" and "-" in plain:
                plain = plain.rsplit("-", 1)[0]
            if best is None or _version_cmp(plain, best) > 0:
                best = plain
    return best


@dataclass
class Finding:
    """One line of the report."""

    status: str
    package: str
    requirement: str = ""
    required: str = ""
    packaged: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def classify(
    requirements: Iterable[UpstreamRequirement],
    deps: Iterable[Dependency],
    *,
    fmt: str,
    kind: str,
    pkgmap: PackageMap,
    overrides: Overrides,
    provides: Iterable[str] = (),
    also_wanted: Iterable[str] = (),
) -> list[Finding]:
    """Findings of one kind (runtime/build) for one format (rpm/deb).

    ``also_wanted`` are packages another kind's requirements ask for (a build
    dependency that is a runtime requirement is not excess).
    """
    deps = list(deps)
    by_name: dict[str, Dependency] = {}
    for dep in deps:
        for name in dep.names:
            by_name.setdefault(name, dep)
    ignored = overrides.ignore | (overrides.ignore_build if kind == "build" else frozenset())
    findings: list[Finding] = []
    wanted = set(also_wanted)
    for req in requirements:
        package = pkgmap.package(req.name, fmt)
        wanted.add(package)
        if canonical(req.name) in ignored or canonical(package) in ignored:
            continue
        dep = by_name.get(package)
        minimum = req.minimum
        finding = Finding("met", package, req.line.split(";")[0].strip(), req.specifier)
        if dep is None:
            finding.status = "missing"
        else:
            finding.packaged = dep.text()
            have = _packaged_minimum(dep)
            if minimum is None:
                finding.status = "met"
            elif have is None:
                finding.status = "any_version"
            elif _version_cmp(have, minimum) < 0:
                finding.status = "mismatch"
                finding.note = f"packaged minimum {have} is below upstream's {minimum}"
        findings.append(finding)
    own = set(provides)
    tools = pkgmap.build_tools.get(fmt, frozenset()) if kind == "build" else frozenset()
    seen: set[str] = set()
    for dep in deps:
        name = dep.name
        if name in seen or name in own or name in tools or not pkgmap.is_python(name, fmt):
            continue
        seen.add(name)
        if any(n in wanted for n in dep.names) or canonical(name) in ignored:
            continue
        findings.append(Finding("excess", name, packaged=dep.text(), note=f"no {KINDS[kind]} line asks for it"))
    return findings


def removed(
    old: Iterable[UpstreamRequirement],
    new: Iterable[UpstreamRequirement],
    *,
    fmt: str,
    pkgmap: PackageMap,
    deps: Iterable[Dependency],
) -> list[Finding]:
    """Requirements the old tag had and the new one has not; ``note`` says whether the packaging still has them."""
    kept = {canonical(req.name) for req in new}
    names = {name for dep in deps for name in dep.names}
    out = []
    for req in old:
        if canonical(req.name) in kept:
            continue
        package = pkgmap.package(req.name, fmt)
        still = package in names
        out.append(
            Finding(
                "removed",
                package,
                req.line.split(";")[0].strip(),
                req.specifier,
                note="still packaged: drop it" if still else "not packaged",
            )
        )
    return out


@dataclass
class Report:
    """reqcheck's answer for one package: findings per format and kind, and counts."""

    package: str
    tag: str
    old_tag: str | None
    findings: dict[str, dict[str, list[Finding]]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """How many findings of each status, over every format and kind."""
        out = dict.fromkeys(STATUSES, 0)
        for kinds in self.findings.values():
            for items in kinds.values():
                for item in items:
                    out[item.status] += 1
        return out

    def failing(self, fail_on: Iterable[str]) -> list[Finding]:
        """Findings whose status is in ``fail_on``."""
        wanted = set(fail_on)
        return [
            item
            for kinds in self.findings.values()
            for items in kinds.values()
            for item in items
            if item.status in wanted
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "tag": self.tag,
            "old_tag": self.old_tag,
            "counts": self.counts(),
            "findings": {
                fmt: {kind: [item.as_dict() for item in items] for kind, items in kinds.items()}
                for fmt, kinds in self.findings.items()
            },
        }

    def text(self) -> str:
        """rdopkg-like text: per format and kind, a heading per status and one line per finding."""
        lines = []
        for fmt, kinds in self.findings.items():
            for kind, items in kinds.items():
                lines.append(f"{self.package} {self.tag} {fmt} {kind}:")
                for status in STATUSES:
                    chosen = [item for item in items if item.status == status]
                    if not chosen:
                        continue
                    lines.append(f"  {status.upper().replace('_', ' ')}:")
                    for item in chosen:
                        shown = item.requirement or item.packaged
                        where = f"  ({item.packaged} packaged)" if item.packaged and item.requirement else ""
                        note = f"  [{item.note}]" if item.note else ""
                        lines.append(f"    {item.package}: {shown}{where}{note}")
        return "\n".join(lines)


def check(
    *,
    package: str,
    tag: str,
    requirements: Mapping[str, str | None],
    old_requirements: Mapping[str, str | None] | None,
    old_tag: str | None,
    packaging: Mapping[str, Dependencies],
    pkgmap: PackageMap,
    overrides: Overrides,
    kinds: Iterable[str] = ("runtime", "build"),
    python_version: Mapping[str, str] | None = None,
) -> Report:
    """The whole reqcheck of one package.

    ``requirements``/``old_requirements``: file name → text at the tag (None
    when the file is not there); ``packaging``: format → its dependencies.
    """
    effective = pkgmap.with_overrides(overrides.mapped)
    report = Report(package, tag, old_tag)
    for fmt in FORMATS:
        if fmt not in packaging:
            continue
        deps = packaging[fmt]
        python = (python_version or {}).get(fmt) or pkgmap.python_version.get(fmt, "3.11")
        parsed = {
            kind: parse_requirements(requirements.get(KINDS[kind]) or "", f"{package} {tag}: {KINDS[kind]}", python)
            for kind in KINDS
        }
        runtime_wanted = {effective.package(req.name, fmt) for req in parsed["runtime"]}
        report.findings[fmt] = {}
        for kind in kinds:
            report.findings[fmt][kind] = classify(
                parsed[kind],
                deps.runtime if kind == "runtime" else deps.build,
                fmt=fmt,
                kind=kind,
                pkgmap=effective,
                overrides=overrides,
                provides=deps.provides,
                also_wanted=runtime_wanted if kind == "build" else (),
            )
            if old_requirements is not None:
                old = parse_requirements(
                    old_requirements.get(KINDS[kind]) or "", f"{package} {old_tag}: {KINDS[kind]}", python
                )
                report.findings[fmt][kind] += removed(
                    old, parsed[kind], fmt=fmt, pkgmap=effective, deps=deps.runtime if kind == "runtime" else deps.build
                )
    return report
