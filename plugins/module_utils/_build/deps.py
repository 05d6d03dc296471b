"""Build order inside the distro: who build-depends on whom, read from the packaging.

A package whose BuildRequires (spec) or Build-Depends (debian/control) name
a binary package another package of the distro makes is built in a later
wave than that package; packages of one wave build in parallel.  Names are
matched without versions or alternatives, after expanding the spec's own
``%global``/``%define`` macros (``%{name}``, ``%{pypi_name}`` ...), which is
what RDO specs use in package names.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field

from .._common.errors import InputError
from .sandbox import BUILD_ROOT, base_env, bwrap_argv

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
# Parsing a spec runs its %(shell) and %{lua:...} macros: code from the
# distgit.  rpm's parser therefore runs in the sandbox (no network, the spec
# read-only, nothing of the builder writable), never in this process.
PARSE_TIMEOUT = 60
_PARSE_SPEC = """
import json, sys, rpm
try:
    spec = rpm.spec(sys.argv[1])
except ValueError:
    print(json.dumps(None))
    raise SystemExit(0)
def text(value):
    return value.decode() if isinstance(value, bytes) else value
print(json.dumps({
    "provides": sorted({text(pkg.header[rpm.RPMTAG_NAME]) for pkg in spec.packages}),
    "build_requires": sorted({text(name) for name in spec.sourceHeader[rpm.RPMTAG_REQUIRENAME]}),
}))
"""


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
    parsed = _parse_sandboxed(text) if rpm_lib is not None and shutil.which("bwrap") else None
    return parsed if parsed is not None else spec_relations_fallback(text)


def _parse_sandboxed(text: str) -> Relations | None:
    """rpm's reading of the spec ``text``, parsed in the sandbox; None when rpm cannot parse it (or hangs)."""
    site = os.path.dirname(os.path.dirname(rpm_lib.__file__))  # where this Python finds rpm's bindings
    with tempfile.TemporaryDirectory(prefix="distroforge-spec-") as scratch:
        with open(os.path.join(scratch, "parse.spec"), "w", encoding="utf-8") as handle:
            handle.write(text)
        argv = ["/usr/bin/python3", "-c", _PARSE_SPEC, f"{BUILD_ROOT}/parse.spec"]
        env = base_env(0, {"PYTHONPATH": site} if site.startswith("/usr/") else {})
        try:
            proc = subprocess.run(
                bwrap_argv(scratch, argv, env=env, writable=False),
                capture_output=True,
                text=True,
                errors="replace",
                timeout=PARSE_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:  # the build, in the sandbox too, will say why
            return None
    lines = proc.stdout.strip().splitlines()
    try:
        found = json.loads(lines[-1]) if proc.returncode == 0 and lines else None
    except ValueError:
        found = None
    if not isinstance(found, dict):
        return None
    return Relations(
        provides={str(name) for name in found.get("provides") or ()},
        build_requires={str(name) for name in found.get("build_requires") or ()},
    )


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
