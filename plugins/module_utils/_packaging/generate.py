"""A new package's distgit from its sdist: what a packager starts from when a project joins the distribution.

:func:`render` maps a project's metadata (:mod:`.metadata`) through the
requirement map (``_release/pymod.py``, the map reqcheck uses, with a
distribution's overrides) and renders the templates of a package kind
(:mod:`.templates`): an RDO-style ``<name>.spec`` (``Version: XXX`` and
``Release: XXX``, which the build fills in from the commit as DLRN does)
and a ``debian/`` directory (control, rules with pybuild, changelog,
copyright, source/format).  Runtime requirements become ``Requires`` and
``Depends`` with upstream's minimum (under the package's epoch when one is
known), setup_requires become build requirements; ``%files`` lists what
the install puts where (packages, modules, scripts, data files).

:func:`plan` compares the rendering with the distgit directory and
:func:`apply` writes it.  A manifest (:data:`MANIFEST`, a dotfile the
builds never read) records the sha256 of every file as generated, so a
file edited by hand since is recognised and never overwritten unless
forced; regenerating an unchanged distgit changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import formatdate
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from .._common.errors import InputError
from .._common.files import read_bytes, write_atomic
from .._release import pymod
from .._release.reqcheck import Overrides, UpstreamRequirement, parse_requirements
from .._versions.vercmp import deb_vercmp, rpm_vercmp
from .debian_base import deb_upstream
from .metadata import ProjectMetadata
from .templates import TemplateSet

MANIFEST = ".distroforge-generated.json"
GENERATOR = "distroforge.openstack package_generate"
DEFAULT_MAINTAINER = "distroforge packagers <packagers@distroforge.invalid>"
# Build tools every generated package needs besides setup_requires (the templates name debhelper and dh-python).
BUILD_TOOLS = {"rpm": ("python3-devel", "python3-setuptools"), "deb": ("python3-setuptools",)}
EXECUTABLE = frozenset({"debian/rules"})
WRAP = 72  # RPM %description lines; Debian's long description lines wrap at 79 with their leading space


@dataclass(frozen=True)
class Options:
    """What the packager decides; everything else comes from the metadata and the map."""

    kind: str = "python-library"
    project: str = ""  # the package database's project; defaults to the sdist's name
    repo: str = ""  # the upstream repository name (Source0's URL); defaults to the sdist's name
    rpm_name: str = ""  # the spec's Name: (RDO's package name); defaults to python-<rpm binary stem>
    rpm_epoch: Optional[int] = None
    deb_epoch: Optional[int] = None
    # format (rpm, deb) -> dependency package -> its epoch, written in front of a requirement's minimum
    epochs: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    maintainer: str = DEFAULT_MAINTAINER
    date: Optional[int] = None  # the changelog entries' time (seconds); default: the sdist's PKG-INFO time
    distribution: str = "bookworm"
    homepage: str = ""


@dataclass(frozen=True)
class Names:
    """A project's package names in both formats."""

    rpm_source: str
    rpm_binary: str
    deb_source: str
    deb_binary: str


def names(project_name: str, pkgmap: pymod.PackageMap, rpm_name: str = "") -> Names:
    """The spec's Name and binary package, the Debian source and binary of the Python distribution ``project_name``.

    The binaries are the map's names for the project's own requirement
    name (what any package requiring it will ask for); the sources are
    ``python-<stem>`` for a ``python3-<stem>`` binary (RDO's and Debian's
    habit), else the binary's name.
    """
    rpm_binary = pkgmap.package(project_name, "rpm")
    deb_binary = pkgmap.package(project_name, "deb")

    def source(binary: str) -> str:
        return f"python-{binary[len('python3-') :]}" if binary.startswith("python3-") else binary

    return Names(rpm_name or source(rpm_binary), rpm_binary, source(deb_binary), deb_binary)


@dataclass(frozen=True)
class Requirement:
    """A requirement as a package of one format: its name and upstream's minimum (with the package's epoch)."""

    package: str
    minimum: Optional[str]

    def rpm(self) -> str:
        return f"{self.package} >= {self.minimum}" if self.minimum else self.package

    def deb(self) -> str:
        return f"{self.package} (>= {self.minimum})" if self.minimum else self.package


def requirements_of(meta: ProjectMetadata) -> str:
    """requirements.txt, or PKG-INFO's Requires-Dist without extras when the project has none."""
    if meta.requirements.strip():
        return meta.requirements
    return "\n".join(req for req in meta.requires_dist if "extra ==" not in req.replace("'", '"').replace('"', ""))


def mapped(
    reqs: Iterable[UpstreamRequirement],
    fmt: str,
    *,
    pkgmap: pymod.PackageMap,
    overrides: Overrides,
    epochs: Mapping[str, int],
    own: Iterable[str] = (),
) -> list[Requirement]:
    """Requirements as packages of ``fmt``, sorted, one per package (the highest minimum), ignored ones left out."""
    skip = set(own)
    found: dict[str, Requirement] = {}
    for req in reqs:
        package = pkgmap.package(req.name, fmt)
        if package in skip or pymod.canonical(req.name) in overrides.ignore or package in overrides.ignore:
            continue
        minimum = req.minimum
        if minimum is not None and epochs.get(package):
            minimum = f"{epochs[package]}:{minimum}"
        old = found.get(package)
        if old is None or (minimum and (old.minimum is None or _later(minimum, old.minimum, fmt))):
            found[package] = Requirement(package, minimum)
    return [found[name] for name in sorted(found)]


def _later(a: str, b: str, fmt: str) -> bool:
    return (deb_vercmp(a, b) if fmt == "deb" else rpm_vercmp(a, b)) > 0


# -- descriptions ----------------------------------------------------------------------------------

_HEADING_CHARS = set("=-~^*+#'\"`:.")


def _is_underline(line: str) -> bool:
    return len(line) >= 3 and set(line) <= _HEADING_CHARS and len(set(line)) == 1


def first_paragraph(description: str) -> str:
    """The first prose paragraph of a reST or Markdown long description, inline markup removed.

    Hand-written: docutils (reST's parser) is not a dependency of hosts
    that run modules, and only this much is needed: blocks that are
    headings, directives, comments, field lists, badges or tables are
    skipped, ``inline literals`` and `links <url>`_ keep their text.  The
    unit tests hold it to docutils' first paragraph on the example's sdists.
    """
    blocks: list[list[str]] = [[]]
    for raw in description.splitlines():
        if raw.strip():
            blocks[-1].append(raw.rstrip())
        elif blocks[-1]:
            blocks.append([])
    in_directive = False
    for block in blocks:
        if not block:
            continue
        indented = block[0].startswith((" ", "\t"))
        if in_directive and indented:
            continue
        in_directive = False
        first = block[0].strip()
        if first.startswith(("..", ":", "#", "[!", "![", "|", "+", "* ", "- ", ">")) or indented:
            in_directive = first.startswith("..")
            continue
        lines = [line.strip() for line in block]
        if any(_is_underline(line) for line in lines) or (first.endswith("::") and len(lines) == 1):
            continue
        text = " ".join(lines)
        if len(text.split()) < 4:
            continue
        return _strip_inline(text)
    return ""


def _strip_inline(text: str) -> str:
    """reST inline markup off, as docutils' text of it reads: ``x`` → x, `text <url>`_ → text, *x* → x."""
    out = []
    index = 0
    while index < len(text):
        consumed = False
        for mark in ("``", "**", "*", "`"):
            if not text.startswith(mark, index):
                continue
            end = text.find(mark, index + len(mark))
            if end > index + len(mark):
                inner = text[index + len(mark) : end]
                index = end + len(mark)
                if mark == "`" and text.startswith("_", index):  # a hyperlink reference: its text, not its URL
                    inner = inner.split(" <", 1)[0] if inner.endswith(">") else inner
                    index += 2 if text.startswith("__", index) else 1
                out.append(inner)
                consumed = True
            break  # the longest mark at this position decides (``x`` is no `x`)
        if not consumed:
            out.append(text[index])
            index += 1
    return "".join(out).strip()


def _debian_long(paragraph: str) -> list[str]:
    """A Debian long description's lines (without their leading space), wrapped at 79 columns."""
    return textwrap.wrap(paragraph, 78, break_long_words=False, break_on_hyphens=False) or ["."]


# -- licenses --------------------------------------------------------------------------------------


def license_for(meta: ProjectMetadata, table: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The license entry of ``table`` the metadata names, with the text debian/copyright quotes."""
    stated = [meta.license] if meta.license else []
    stated += [c.split("::")[-1].strip() for c in meta.classifiers if c.startswith("License ::")]
    for wanted in stated:
        for spdx, entry in table.items():
            if wanted.lower() in [str(m).lower() for m in entry.get("match", [])] or wanted.lower() == spdx.lower():
                return _license_entry(spdx, entry, meta)
    said = " / ".join(stated) or "nothing"
    raise InputError(
        f"source: {meta.where}: its license metadata says {said}, which the license table does not know; "
        "add it to licenses.yml in templates_dir (match, rpm, debian)"
    )


def _license_entry(spdx: str, entry: Mapping[str, Any], meta: ProjectMetadata) -> dict[str, Any]:
    if entry.get("common"):
        body = str(entry.get("grant") or "").rstrip("\n").splitlines()
        body += [
            "",
            f"On Debian systems, the complete text of the {spdx} license can be",
            f"found in /usr/share/common-licenses/{entry['common']}.",
        ]
    elif meta.license_text:
        body = meta.license_text.strip("\n").splitlines()
    else:
        raise InputError(
            f"source: {meta.where}: {spdx} has no file in /usr/share/common-licenses and the sdist has no LICENSE "
            "to quote; add the text to licenses.yml (grant) in templates_dir"
        )
    lines = [line.rstrip().replace("\t", "    ") or "." for line in body]
    return {"spdx": spdx, "rpm": entry["rpm"], "debian": entry["debian"], "text_lines": lines}


# -- the rendering ---------------------------------------------------------------------------------


def context(
    meta: ProjectMetadata,
    options: Options,
    pkgmap: pymod.PackageMap,
    overrides: Overrides,
    templates: TemplateSet,
) -> dict[str, Any]:
    """Everything the templates see (docs/packaging_generate.md lists it)."""
    if meta.has_extensions:
        raise InputError(
            f"source: {meta.where}: builds C extensions; the collection's kinds are for pure-Python projects "
            "(Architecture: all, noarch): add an arch-specific kind in templates_dir"
        )
    effective = pkgmap.with_overrides(overrides.mapped)
    own = names(meta.name, effective, options.rpm_name)

    def packages(text: str, what: str, fmt: str, skip: tuple[str, ...] = ()) -> list[Requirement]:
        python = effective.python_version.get(fmt, "3.11")
        reqs = parse_requirements(text, f"{meta.where}: {what}", python)
        return mapped(reqs, fmt, pkgmap=effective, overrides=overrides, epochs=options.epochs.get(fmt, {}), own=skip)

    requirements = requirements_of(meta)
    runtime = {
        fmt: packages(requirements, "requirements", fmt, (own.rpm_binary, own.deb_binary)) for fmt in pymod.FORMATS
    }
    build = {fmt: packages("\n".join(meta.setup_requires), "setup_requires", fmt) for fmt in pymod.FORMATS}
    for fmt, tools in BUILD_TOOLS.items():
        present = {req.package for req in build[fmt]}
        build[fmt] = sorted(
            build[fmt] + [Requirement(t, None) for t in tools if t not in present], key=lambda r: r.package
        )
    paragraph = first_paragraph(meta.description) or meta.summary
    summary = meta.summary.rstrip(".").strip() or meta.name
    date = options.date if options.date is not None else meta.source_time
    version = meta.version
    rpm_evr = f"{options.rpm_epoch}:{version}-1" if options.rpm_epoch else f"{version}-1"
    deb_version = (
        f"{options.deb_epoch}:{deb_upstream(version)}-1" if options.deb_epoch else f"{deb_upstream(version)}-1"
    )
    commands = sorted(set(meta.console_scripts) | set(meta.scripts))
    completions = []
    for path in meta.bash_completions:
        command = os.path.basename(path)[: -len(".bash_completion")]
        completions.append((path, command))
    maintainer_name = options.maintainer.split("<", 1)[0].strip() or options.maintainer
    return {
        "kind": options.kind,
        "project": options.project or meta.name,
        "pypi_name": meta.name,
        "repo": options.repo or meta.name,
        "version": version,
        "summary": summary,
        "description_lines": textwrap.wrap(paragraph, WRAP, break_long_words=False, break_on_hyphens=False)
        or [summary],
        "homepage": options.homepage or meta.home_page or f"https://pypi.org/project/{meta.name}",
        "license": license_for(meta, templates.licenses()),
        "copyright_holder": meta.author or "its authors",
        "maintainer": options.maintainer,
        "maintainer_name": maintainer_name,
        "distribution": options.distribution,
        "is_pbr": meta.is_pbr,
        "egg_info_name": meta.egg_info_name,
        "packages": list(meta.packages),
        "modules": list(meta.modules),
        "namespace_packages": list(meta.namespace_packages),
        "commands": commands,
        "data_files": [list(item) for item in meta.data_files],
        "license_files": list(meta.license_files),
        "doc_files": list(meta.doc_files),
        "bash_completions": completions,
        "tempest_plugins": meta.entry_point_names("tempest.test_plugins"),
        "rpm": {
            "source": own.rpm_source,
            "binary": own.rpm_binary,
            "epoch": options.rpm_epoch,
            "evr": rpm_evr,
            "requires": [req.rpm() for req in runtime["rpm"]],
            "build_requires": [req.rpm() for req in build["rpm"]],
            "changelog_date": datetime.fromtimestamp(date, tz=timezone.utc).strftime("%a %b %d %Y"),
        },
        "deb": {
            "source": own.deb_source,
            "binary": own.deb_binary,
            "epoch": options.deb_epoch,
            "version": deb_version,
            "depends": [req.deb() for req in runtime["deb"]],
            "build_depends": [req.deb() for req in build["deb"]],
            "short_description": summary,
            "long_description": _debian_long(paragraph),
            "pybuild_name": meta.packages[0] if len(meta.packages) == 1 else meta.name,
            "changelog_date": formatdate(date, localtime=False).replace("-0000", "+0000"),
        },
    }


def render(
    meta: ProjectMetadata,
    options: Options,
    pkgmap: pymod.PackageMap,
    overrides: Overrides,
    templates: TemplateSet,
) -> dict[str, str]:
    """The distgit's files, by path (``<rpm name>.spec``, ``debian/...``), for ``options.kind``."""
    return render_context(context(meta, options, pkgmap, overrides, templates), templates)


def render_context(values: Mapping[str, Any], templates: TemplateSet) -> dict[str, str]:
    """The files of :func:`context`'s ``values`` (its kind's templates)."""
    out = {}
    for output, template in templates.outputs(values["kind"]).items():
        path = f"{values['rpm']['source']}.spec" if output == "spec" else output
        out[path] = templates.render(template, values)
    return out


# -- writing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileChange:
    """What generation does to one file of the distgit."""

    path: str  # relative to the distgit
    action: str  # create, update, unchanged, remove, conflict (edited by hand), forced (a hand edit overwritten)
    before: Optional[str]
    after: Optional[str]
    mode: int = 0o644


@dataclass(frozen=True)
class Plan:
    """Every file's change, and the manifest before and after."""

    dest: Path
    files: tuple[FileChange, ...]
    manifest_before: Optional[str]
    manifest_after: str

    @property
    def conflicts(self) -> list[str]:
        """Files edited by hand since they were generated (left alone unless forced)."""
        return [change.path for change in self.files if change.action == "conflict"]

    @property
    def changed(self) -> bool:
        """Whether applying the plan writes or removes anything."""
        writes = any(c.action in ("create", "update", "remove", "forced") for c in self.files)
        return writes or self.manifest_before != self.manifest_after

    def refuse_conflicts(self) -> None:
        """Raise the one-line refusal when a hand edit would be overwritten."""
        if self.conflicts:
            listed = ", ".join(self.conflicts)
            raise InputError(
                f"dest: {self.dest}: {listed} changed by hand since generated (sha256 not the one {MANIFEST} records); "
                "nothing was written: keep the edit (change the template or the options instead), "
                "or set force: true to overwrite it",
                conflicts=self.conflicts,
            )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_text(path: Path) -> Optional[str]:
    data = read_bytes(path)
    return None if data is None else data.decode("utf-8", errors="surrogateescape")


def _recorded(dest: Path) -> tuple[Optional[str], dict[str, str]]:
    text = _read_text(dest / MANIFEST)
    if text is None:
        return None, {}
    try:
        data = json.loads(text)
        files = data["files"]
        if not isinstance(files, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise InputError(
            f"dest: {dest / MANIFEST} is damaged; restore it from git, or remove it and set force: true"
        ) from None
    return text, {str(k): str(v) for k, v in files.items()}


def manifest(files: Mapping[str, str], kind: str) -> str:
    """The manifest's text for ``files`` (path → content) generated as ``kind``."""
    data = {
        "generator": GENERATOR,
        "kind": kind,
        "files": {path: _sha256(text) for path, text in sorted(files.items())},
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def plan(dest: Path | str, files: Mapping[str, str], kind: str, *, force: bool = False) -> Plan:
    """What writing ``files`` into the distgit ``dest`` changes; hand edits are conflicts unless ``force``."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise InputError(f"dest: {dest} is a file; give the distgit's directory")
    before_manifest, recorded = _recorded(dest)
    changes = []
    for path in sorted(set(files) | set(recorded)):
        after = files.get(path)
        before = _read_text(dest / path)
        mode = 0o755 if path in EXECUTABLE else 0o644
        edited = before is not None and (path not in recorded or recorded[path] != _sha256(before))
        if after is None:  # generated before, not any more (a renamed spec, another kind)
            if before is None:
                continue
            action = "remove" if not edited else ("forced" if force else "conflict")
        elif before is None:
            action = "create"
        elif before == after:
            action = "unchanged"
            current = os.stat(dest / path).st_mode & 0o777
            if current != mode:
                action = "update"
        else:
            action = ("forced" if force else "conflict") if edited else "update"
        changes.append(FileChange(path, action, before, after, mode))
    return Plan(dest, tuple(changes), before_manifest, manifest(files, kind))


def apply(plan_: Plan) -> None:
    """Write the plan (refused, nothing written, while a hand edit would be overwritten)."""
    plan_.refuse_conflicts()
    plan_.dest.mkdir(parents=True, exist_ok=True)
    for change in plan_.files:
        path = plan_.dest / change.path
        if change.after is None:
            if change.action in ("remove", "forced"):
                path.unlink()
            continue
        if change.action in ("create", "update", "forced"):
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, change.after.encode("utf-8"), change.mode)
    if plan_.manifest_before != plan_.manifest_after:
        write_atomic(plan_.dest / MANIFEST, plan_.manifest_after.encode("utf-8"), 0o644)
