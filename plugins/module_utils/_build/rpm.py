"""RPM packaging: an RDO-style spec filled in as DLRN does, and the SRPM both RPM backends start from.

RDO distgits carry specs with ``Version: XXX`` and ``Release: XXX`` and
name their ``Source0`` after the sdist; DLRN fills them in at build time.
We do the same edits (see :func:`prepare_spec`), with the version and
release computed from the commit, never from the build time.
"""

from __future__ import annotations

import glob
import os
import re
import shutil

from .._common.errors import InputError
from .._versions import pbr
from .contain import fresh_dir, regular_file
from .sandbox import BUILD_ROOT, base_env, bwrap_argv
from .source import BuildInputs

TOPDIR = f"{BUILD_ROOT}/rpmbuild"

# rpm settings that make the same inputs give the same bytes (ENVIRONMENT.md).
REPRODUCIBLE_MACROS = {
    "_topdir": TOPDIR,
    "_buildhost": "distroforge-builder",
    "clamp_mtime_to_source_date_epoch": "1",
    "use_source_date_epoch_as_buildtime": "1",
    "source_date_epoch_from_changelog": "0",
    "_binary_payload": "w19.zstdio",
    "_source_payload": "w19.zstdio",
}


def find_spec(distgit_dir: str, where: str) -> str:
    """The one spec file of a distgit."""
    specs = sorted(glob.glob(os.path.join(distgit_dir, "*.spec")))
    if len(specs) != 1:
        found = "none" if not specs else ", ".join(os.path.basename(s) for s in specs)
        raise InputError(f"{where}: the distgit must hold exactly one .spec at its top (found {found})")
    return specs[0]


def _set_define(lines: list[str], name: str, value: str, kind: str = "define") -> list[str]:
    pattern = re.compile(rf"^%(define|global)\s+{re.escape(name)}\s")
    line = f"%{kind} {name} {value}"
    for index, current in enumerate(lines):
        if pattern.match(current):
            lines[index] = line
            return lines
    return [line, *lines]


# DLRN's placeholder for a value it fills in (``Version: XXX``).
PLACEHOLDER = "XXX"
_RELEASE_NUMBER = re.compile(r"^([0-9][0-9A-Za-z._+^]*)(%\{\?dist\})?$")


def _first_tag(text: str, tag: str) -> str | None:
    for line in text.splitlines():
        match = re.match(rf"^{tag}:\s*(.*?)\s*$", line)
        if match:
            return match.group(1)
        if re.match(r"^%(package|description|prep|build|install|files|changelog)\b", line):
            break
    return None


def spec_release(text: str, tag_version: str, where: str) -> str:
    """The Release of a release build from the spec: its own ``Release:``, ``1`` for DLRN's ``XXX``.

    A ``Version:`` other than the placeholder must be the tag's version
    (the spec was bumped for another release); a Release must be a plain
    number, optionally followed by ``%{?dist}`` (added back at build time).
    """
    version = _first_tag(text, "Version")
    if version not in (None, PLACEHOLDER) and version != tag_version:
        raise InputError(
            f"{where}: Version: {version} but the tag is {tag_version}; set Version: {tag_version} "
            "(or XXX) and Release: 1%{?dist} (the new-version bump does it)"
        )
    release = _first_tag(text, "Release")
    if release is None:
        raise InputError(f"{where}: no Release: line; RDO-style specs need Version:, Release:, Source0:")
    if release == PLACEHOLDER:
        return "1"  # the first build of this version: nothing in the spec says otherwise
    match = _RELEASE_NUMBER.match(release)
    if not match:
        raise InputError(
            f"{where}: Release: {release} is not a release number for a tagged build; write e.g. 2%{{?dist}}"
        )
    return match.group(1)


def prepare_spec(
    text: str, version: pbr.PackageVersion, tarball: str, where: str, *, keep_changelog: bool = False
) -> str:
    """Fill in an RDO-style spec as DLRN's build_srpm.sh does.

    Sets ``upstream_version``, ``dlrn`` and ``dlrn_nvr``, the first
    ``Version:`` and ``Release:`` (with ``%{?dist}``), points ``Source0`` at
    our tarball and drops the changelog entries (they are the distgit's,
    not this snapshot's).
    """
    lines = text.splitlines()
    stem = os.path.basename(tarball).removesuffix(".tar.gz")
    lines = _set_define(lines, "dlrn_nvr", f"{stem}-{version.rpm_release}", "global")
    lines = _set_define(lines, "dlrn", "1", "global")
    lines = _set_define(lines, "upstream_version", version.upstream_version)
    source = os.path.basename(tarball)
    rules = {
        "Version": (r"^Version:\s*", lambda line: f"Version:        {version.rpm_version}"),
        "Release": (r"^Release:\s*", lambda line: f"Release:        {version.rpm_release}%{{?dist}}"),
        "Source0": (r"^Source0?:\s*", lambda line: re.sub(r"^(Source0?):.*", rf"\1: {source}", line)),
    }
    out = []
    for raw in lines:
        line = raw
        for key, (pattern, make) in list(rules.items()):
            if re.match(pattern, raw):
                line = make(raw)
                del rules[key]  # only the first one: subpackages may have their own
                break
        out.append(line)
        if re.match(r"^%changelog\s*$", raw) and not keep_changelog:
            break
    if rules:
        missing = next(iter(rules))
        raise InputError(f"{where}: the spec has no {missing}: line; RDO-style specs need Version:, Release:, Source0:")
    return "\n".join(out) + "\n"


def rpmbuild_args(nodeps: bool, dist: str | None) -> list[str]:
    """rpmbuild options shared by the SRPM and the RPM step."""
    macros = dict(REPRODUCIBLE_MACROS)
    if dist is not None:
        macros["dist"] = dist
    args = []
    for name, value in macros.items():
        args += ["--define", f"{name} {value}"]
    if nodeps:
        args.append("--nodeps")
    return args


def build_srpm(inputs: BuildInputs, *, nodeps: bool = True, dist: str | None = None) -> str:
    """Fill in the spec and build the SRPM in the sandbox; return its path (on the builder)."""
    build_dir, distgit_dir, log, where = inputs.build_dir, inputs.distgit_dir, inputs.log, inputs.project
    tarball, version = inputs.source.tarball, inputs.source.version
    spec = find_spec(distgit_dir, where)
    top = fresh_dir(build_dir, "rpmbuild", where)
    for sub in ("SOURCES", "SPECS", "SRPMS", "RPMS", "BUILD"):
        os.makedirs(os.path.join(top, sub))
    for entry in sorted(os.listdir(distgit_dir)):
        path = os.path.join(distgit_dir, entry)
        if os.path.isfile(path) and not entry.startswith(".") and not entry.endswith(".spec"):
            shutil.copy2(path, os.path.join(top, "SOURCES", entry))
    shutil.copy2(tarball, os.path.join(top, "SOURCES", os.path.basename(tarball)))
    spec_name = os.path.basename(spec)
    with open(spec, encoding="utf-8") as handle:
        # a release build ships the packaging's own changelog; a snapshot's entries would not be its own
        prepared = prepare_spec(handle.read(), version, tarball, where, keep_changelog=inputs.release_build)
    with open(os.path.join(top, "SPECS", spec_name), "w", encoding="utf-8") as handle:
        handle.write(prepared)
    log.write(f"==> prepared spec {spec_name}\n{prepared}")
    log.run(
        bwrap_argv(
            build_dir,
            ["rpmbuild", "-bs", *rpmbuild_args(nodeps, dist), f"{TOPDIR}/SPECS/{spec_name}"],
            env=build_env(inputs),
        ),
        what="rpmbuild -bs (SRPM, no network)",
    )
    srpms = sorted(glob.glob(os.path.join(top, "SRPMS", "*.src.rpm")))
    if len(srpms) != 1:
        raise InputError(f"{where}: rpmbuild -bs made {len(srpms)} SRPMs, expected one")
    return regular_file(build_dir, srpms[0], where, "the SRPM")


def build_env(inputs: BuildInputs) -> dict[str, str]:
    """The environment of the rpmbuild steps: the commit time, and the version for pbr."""
    version = inputs.source.version
    return base_env(version.commit_time, {"PBR_VERSION": version.upstream_version})
