"""The packaging kinds backends build: RPM (a spec at the distgit's top) and DEB (a debian/ directory)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..._versions import pbr
from .. import deb, deps, rpm
from .base import PackageKind, Packaging


@dataclass(frozen=True)
class SpecInfo:
    """An RDO-style spec; RPM snapshots keep no upstream epoch in the source tarball."""

    path: str
    epoch: int | None = None


class RpmKind(PackageKind):
    """RPM: one ``.spec`` at the distgit's top; SRPM first among the outputs."""

    name = "rpm"
    binary_suffix = ".rpm"

    def is_binary(self, path: str) -> bool:
        return path.endswith(".rpm") and not path.endswith(".src.rpm")

    def read_packaging(self, distgit_dir: str, where: str) -> SpecInfo:
        return SpecInfo(rpm.find_spec(distgit_dir, where))

    def nvr(self, packaging: Packaging, version: pbr.PackageVersion, artifacts: Sequence[str]) -> str:
        return os.path.basename(artifacts[0]).removesuffix(".src.rpm")

    def release_version(self, packaging: Packaging, version: pbr.PackageVersion, where: str) -> pbr.PackageVersion:
        if not isinstance(packaging, SpecInfo):
            raise TypeError(f"an RPM release comes from a spec, not {type(packaging).__name__}")
        with open(packaging.path, encoding="utf-8") as handle:
            release = rpm.spec_release(
                handle.read(), version.rpm_version, f"{where}: {os.path.basename(packaging.path)}"
            )
        return replace(version, rpm_release=release)

    def is_packaging_file(self, name: str) -> bool:
        return name.endswith(".spec") and "/" not in name

    def relations(self, text: str) -> deps.Relations:
        return deps.spec_relations(text)


class DebKind(PackageKind):
    """DEB: ``debian/`` in the distgit, its changelog's top entry naming the source package and epoch."""

    name = "deb"
    binary_suffix = ".deb"
    metadata_suffixes = (".buildinfo", ".changes")

    def read_packaging(self, distgit_dir: str, where: str) -> deb.DebianInfo:
        return deb.read_debian(distgit_dir, where)

    def nvr(self, packaging: Packaging, version: pbr.PackageVersion, artifacts: Sequence[str]) -> str:
        if not isinstance(packaging, deb.DebianInfo):
            raise TypeError(f"a DEB name comes from Debian packaging, not {type(packaging).__name__}")
        return f"{packaging.source}_{version.deb_version}"

    def release_version(self, packaging: Packaging, version: pbr.PackageVersion, where: str) -> pbr.PackageVersion:
        if not isinstance(packaging, deb.DebianInfo):
            raise TypeError(f"a Debian release comes from debian/changelog, not {type(packaging).__name__}")
        return replace(version, deb_version=deb.release_deb_version(packaging, version))

    def is_packaging_file(self, name: str) -> bool:
        return name == "debian/control"

    def relations(self, text: str) -> deps.Relations:
        return deps.control_relations(text)


RPM = RpmKind()
DEB = DebKind()
