"""Build order inside the distro: who build-depends on whom, read from the packaging.

A package whose BuildRequires (spec) or Build-Depends (debian/control) name
a binary package another package of the distro makes is built in a later
wave than that package; packages of one wave build in parallel.  Names are
matched without versions or alternatives, after expanding the spec's own
``%global``/``%define`` macros (``%{name}``, ``%{pypi_name}`` ...), which is
what RDO specs use in package names.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field

from .._common.errors import InputError

try:
    import rpm as rpm_lib
except ImportError:  # controllers without rpm's Python bindings use the fallback
    rpm_lib = None
try:
    from debian import deb822
except ImportError as exc:
    deb822 = None
    _DEBIAN_ERROR: ImportError | None = exc
else:
    _DEBIAN_ERROR = None

_MACRO = re.compile(r"%\{?\??(\w+)\}?")
_DEF = re.compile(r"^%(?:global|define)\s+(\w+)\s+(\S+)")


@dataclass
class Relations:
    """Binary packages a project makes and the packages it needs to build."""

    provides: set[str] = field(default_factory=set)
    build_requires: set[str] = field(default_factory=set)


def spec_relations(text: str) -> Relations:
    """Binary packages and build requirements of a spec file.

    rpm's own parser (the Python bindings) is used where it is installed; the
    fallback below reads the few lines that name packages, for controllers
    without rpm (tests compare the two on the example distro's specs).
    """
    if rpm_lib is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".spec", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            try:
                parsed = rpm_lib.spec(handle.name)
            except ValueError:  # rpm could not parse it: the build will say why
                return spec_relations_fallback(text)
        return Relations(
            provides={pkg.header[rpm_lib.RPMTAG_NAME] for pkg in parsed.packages},
            build_requires=set(parsed.sourceHeader[rpm_lib.RPMTAG_REQUIRENAME]),
        )
    return spec_relations_fallback(text)


def spec_relations_fallback(text: str) -> Relations:
    """Binary packages and build requirements of a spec file, without rpm."""
    macros: dict[str, str] = {}
    relations = Relations()

    def expand(value: str) -> str:
        for _depth in range(5):
            new = _MACRO.sub(lambda m: macros.get(m.group(1), m.group(0)), value)
            if new == value:
                break
            value = new
        return value

    for line in text.splitlines():
        defined = _DEF.match(line)
        if defined:
            macros[defined.group(1)] = expand(defined.group(2))
        elif line.startswith("Name:"):
            macros["name"] = expand(line.split(":", 1)[1].strip())
            relations.provides.add(macros["name"])
        elif line.startswith("%package"):
            words = line.split()[1:]
            if words[:1] == ["-n"] and len(words) > 1:
                relations.provides.add(expand(words[1]))
            elif words:
                relations.provides.add(f"{macros.get('name', '')}-{expand(words[0])}")
        elif line.startswith("BuildRequires:"):
            # rpm allows several names per line, separated by commas or spaces
            value = expand(line.split(":", 1)[1])
            value = re.sub(r"\s*[<>=]+\s*\S+", "", value)
            relations.build_requires |= {n for n in re.split(r"[,\s]+", value) if n}
    return relations


def control_relations(text: str) -> Relations:
    """Binary packages and build dependencies of a debian/control file (python-debian parses it)."""
    if _DEBIAN_ERROR is not None:
        raise InputError("python-debian is not installed on this host; install it to order DEB builds")
    relations = Relations()
    for paragraph in deb822.Deb822.iter_paragraphs(text.splitlines()):
        if "Package" in paragraph:
            relations.provides.add(paragraph["Package"])
        for name in ("Build-Depends", "Build-Depends-Indep", "Build-Depends-Arch"):
            if name in paragraph:
                for alternatives in deb822.PkgRelation.parse_relations(paragraph[name]):
                    relations.build_requires |= {alt["name"] for alt in alternatives}
    return relations


def waves(relations: Mapping[str, Relations]) -> tuple[list[list[str]], list[str]]:
    """Projects in build waves, and the projects caught in a dependency cycle (built last, together)."""
    maker = {binary: project for project, rel in relations.items() for binary in rel.provides}
    needs = {
        project: {maker[r] for r in rel.build_requires if r in maker and maker[r] != project}
        for project, rel in relations.items()
    }
    done: set[str] = set()
    result: list[list[str]] = []
    while len(done) < len(needs):
        ready = sorted(p for p, deps in needs.items() if p not in done and deps <= done)
        if not ready:
            cycle = sorted(p for p in needs if p not in done)
            result.append(cycle)
            return result, cycle
        result.append(ready)
        done |= set(ready)
    return result, []
