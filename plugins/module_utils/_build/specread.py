"""What an RPM spec says it makes and needs: rpm's own reading, in the sandbox, or a minimal one.

One reader for the build order (which binary packages a spec makes and
which it build-requires) and for the release checks (runtime and build
requirements with their versions).  rpm's Python bindings expand macros and
conditionals, but parsing a spec runs its ``%(shell)`` and ``%{lua:}``
macros, code from the distgit, so rpm parses it in the build sandbox (no
network, the spec read-only, nothing of the builder writable), never in
this process.  Where rpm's bindings or bwrap are missing, :func:`minimal`
reads the ``Name:``, ``%package``, ``Requires:`` and ``BuildRequires:``
lines after expanding the spec's own ``%global``/``%define`` macros (what
RDO specs use in package names); tests hold the two equal on the example
distro's specs and against ``rpmspec -q``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Optional

from .._common.errors import InputError
from .sandbox import BUILD_ROOT, base_env, bwrap_argv

try:
    import rpm as rpm_lib
except ImportError:  # controllers without rpm's Python bindings use the minimal reader
    rpm_lib = None

PARSE_TIMEOUT = 60
# rpm's RPMSENSE_* bits of a dependency's comparison.
LESS, GREATER, EQUAL = 2, 4, 8
_OP_FLAGS = {"<": LESS, "<=": LESS | EQUAL, "=": EQUAL, ">=": GREATER | EQUAL, ">": GREATER}
_MACRO = re.compile(r"%\{?\??(\w+)\}?")
_DEFINE = re.compile(r"^%(?:global|define)\s+(\w+)\s+(.+?)\s*$")
_DEP_LINE = re.compile(r"^(?P<kind>Requires|BuildRequires)(?:\((?P<qual>[^)]*)\))?:\s*(?P<value>.+?)\s*$")
_DEP_TOKEN = re.compile(r"(?P<name>[^\s,<>=]+)(?:\s*(?P<op><=|>=|=|<|>)\s*(?P<version>[^\s,]+))?")

_PARSE_SPEC = """
import json, sys, rpm
try:
    spec = rpm.spec(sys.argv[1])
except ValueError as exc:
    print(json.dumps({"error": str(exc)}))
    raise SystemExit(0)
def text(value):
    return value.decode() if isinstance(value, bytes) else value
def deps(header):
    names = header[rpm.RPMTAG_REQUIRENAME] or []
    flags = header[rpm.RPMTAG_REQUIREFLAGS] or []
    versions = header[rpm.RPMTAG_REQUIREVERSION] or []
    return [[text(n), int(f), text(v)] for n, f, v in zip(names, flags, versions)]
print(json.dumps({
    "provides": [text(pkg.header[rpm.RPMTAG_NAME]) for pkg in spec.packages],
    "requires": [dep for pkg in spec.packages for dep in deps(pkg.header)],
    "build_requires": deps(spec.sourceHeader),
}))
"""


@dataclass
class SpecDeps:
    """Binary packages a spec makes, and its requirements as (name, RPMSENSE flags, version)."""

    provides: list = field(default_factory=list)
    requires: list = field(default_factory=list)
    build_requires: list = field(default_factory=list)
    by_rpm: bool = False  # rpm's own reading, not the minimal one


def read(text: str, where: Optional[str] = None) -> SpecDeps:
    """The spec's packages and requirements, by rpm when it can (``rpmlib(...)`` features left out).

    ``where`` names the spec: a spec rpm refuses is then an InputError
    naming it; without it the minimal reader answers instead (the build,
    in the sandbox too, will say what is wrong).
    """
    if rpm_lib is not None and shutil.which("bwrap"):
        found = _sandboxed(text, where)
        if found is not None:
            return found
    return minimal(text)


def _sandboxed(text: str, where: Optional[str]) -> Optional[SpecDeps]:
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
        except subprocess.TimeoutExpired:
            if where is None:
                return None
            raise InputError(f"{where}: rpm did not parse the spec within {PARSE_TIMEOUT} s; fix its macros") from None
    lines = proc.stdout.strip().splitlines()
    try:
        found = json.loads(lines[-1]) if proc.returncode == 0 and lines else None
    except ValueError:
        found = None
    if not isinstance(found, dict):
        return None  # no usable rpm in the sandbox: the minimal reader answers
    if "error" in found:
        if where is None:
            return None
        why = (proc.stderr.strip().splitlines() or [found["error"]])[-1]
        raise InputError(f"{where}: rpm cannot parse the spec ({why}); fix the spec")

    def keep(deps: list) -> list:
        return [
            (str(name), int(flags), str(version)) for name, flags, version in deps if not name.startswith("rpmlib(")
        ]

    return SpecDeps(
        provides=[str(name) for name in found["provides"]],
        requires=keep(found["requires"]),
        build_requires=keep(found["build_requires"]),
        by_rpm=True,
    )


def minimal(text: str) -> SpecDeps:
    """The spec's own lines read without rpm: ``%global``/``%define`` and ``%{name}`` expanded, no ``%if``."""
    macros: dict[str, str] = {}
    found = SpecDeps()

    def expand(value: str) -> str:
        for _depth in range(8):
            new = _MACRO.sub(lambda m: macros.get(m.group(1), m.group(0)), value)
            if new == value:
                break
            value = new
        return value

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("%changelog"):
            break
        defined = _DEFINE.match(line)
        if defined:
            macros[defined.group(1)] = expand(defined.group(2))
            continue
        tag, _sep, value = line.partition(":")
        if tag.lower() in ("version", "release", "epoch") and _sep:
            macros.setdefault(tag.lower(), expand(value.strip()))
        if line.startswith("Name:"):
            macros["name"] = expand(value.strip())
            found.provides.append(macros["name"])
        elif line.startswith("%package"):
            words = line.split()[1:]
            if words[:1] == ["-n"] and len(words) > 1:
                found.provides.append(expand(words[1]))
            elif words:
                found.provides.append(f"{macros.get('name', '')}-{expand(words[0])}")
        match = _DEP_LINE.match(line)
        if match:
            target = found.build_requires if match["kind"] == "BuildRequires" else found.requires
            for token in _DEP_TOKEN.finditer(expand(match["value"])):
                target.append((token["name"], _OP_FLAGS.get(token["op"] or "", 0), token["version"] or ""))
    return found
