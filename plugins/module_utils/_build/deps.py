"""Build order inside the distro: who build-depends on whom, read from the packaging.

A package whose BuildRequires (spec) or Build-Depends (debian/control) name
a binary package another package of the distro makes is built in a later
wave than that package; packages of one wave build in parallel.  Names are
matched without versions or alternatives, after expanding the spec's own
``%global``/``%define`` macros (``%{name}``, ``%{pypi_name}`` ...), which is
what RDO specs use in package names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .._common.errors import InputError
from . import specread

try:
    from debian import deb822
except ImportError as exc:
    deb822 = None
    _DEBIAN_ERROR: ImportError | None = exc
else:
    _DEBIAN_ERROR = None


@dataclass
class Relations:
    """Binary packages a project makes and the packages it needs to build."""

    provides: set[str] = field(default_factory=set)
    build_requires: set[str] = field(default_factory=set)


def spec_relations(text: str) -> Relations:
    """Binary packages and build requirements of a spec file (rpm's reading where it can, see specread)."""
    return _relations(specread.read(text))


# Only tests call this: it is spec_relations' path on hosts without rpm's bindings, reachable on hosts
# with them too, so test_build_order can hold the two equal. Keep it while that fallback exists.
def spec_relations_fallback(text: str) -> Relations:
    """The same without rpm: what controllers without rpm's bindings see (tests hold the two equal)."""
    return _relations(specread.minimal(text))


def _relations(found: specread.SpecDeps) -> Relations:
    return Relations(
        provides=set(found.provides), build_requires={name for name, _flags, _version in found.build_requires}
    )


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


def needs(relations: Mapping[str, Relations]) -> dict[str, set[str]]:
    """Per project, the other projects of ``relations`` it build-depends on (directly).

    A binary package that several projects make names all of them.
    """
    makers: dict[str, set[str]] = {}
    for project, rel in relations.items():
        for binary in rel.provides:
            makers.setdefault(binary, set()).add(project)
    return {
        project: {maker for r in rel.build_requires for maker in makers.get(r, ())} - {project}
        for project, rel in relations.items()
    }


def waves(relations: Mapping[str, Relations]) -> tuple[list[list[str]], list[str]]:
    """Projects in build waves, and the projects caught in a dependency cycle (built last, together)."""
    needs_of = needs(relations)
    done: set[str] = set()
    result: list[list[str]] = []
    while len(done) < len(needs_of):
        ready = sorted(p for p, deps in needs_of.items() if p not in done and deps <= done)
        if not ready:
            cycle = sorted(p for p in needs_of if p not in done)
            result.append(cycle)
            return result, cycle
        result.append(ready)
        done |= set(ready)
    return result, []
