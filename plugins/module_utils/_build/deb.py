"""DEB packaging: a distgit's debian/, our changelog entry, the source tree the DEB backends build.

The distgit carries ``debian/``; its changelog's top entry gives the source
package name, the distribution and the epoch Debian uses for the package
(``2:`` for keystone): our snapshot keeps that epoch so Debian packages
that depend on it stay satisfied.  The new top entry is dated at the commit
time, which is what makes the .deb reproducible.
"""

from __future__ import annotations

import glob
import os
import shutil
from dataclasses import dataclass
from email.utils import formatdate

from .._common.errors import InputError
from .._versions import pbr
from . import archive
from .contain import fresh_dir, regular_file
from .sandbox import base_env
from .source import BuildInputs, sdist_scope

try:
    from debian.changelog import Changelog
except ImportError as exc:  # reported when a DEB build is asked for
    Changelog = None  # type: ignore[assignment,misc]
    _IMPORT_ERROR: ImportError | None = exc
else:
    _IMPORT_ERROR = None

MAINTAINER = "distroforge <builder@distroforge.invalid>"


@dataclass(frozen=True)
class DebianInfo:
    """What the distgit's debian/ says about the package."""

    source: str
    epoch: int | None
    distribution: str
    source_format: str
    version: str = ""  # the top entry's full version, e.g. 2:22.0.2-1


def read_debian(distgit_dir: str, where: str) -> DebianInfo:
    """Source name, epoch, distribution and source format from ``debian/``."""
    if _IMPORT_ERROR is not None:
        raise InputError("python-debian is not installed on this builder; run the builder_setup role")
    changelog_path = os.path.join(distgit_dir, "debian", "changelog")
    if not os.path.isfile(changelog_path):
        raise InputError(f"{where}: the distgit has no debian/changelog; DEB backends need a debian/ directory")
    with open(changelog_path, encoding="utf-8") as handle:
        try:
            changelog = Changelog(handle, max_blocks=1, strict=True)
        except Exception as exc:  # python-debian raises several types for bad changelogs
            raise InputError(f"{where}: debian/changelog does not parse: {str(exc).splitlines()[0]}") from None
    if not changelog.package:
        raise InputError(f"{where}: debian/changelog has no entry; add one naming the source package")
    epoch = changelog.epoch
    fmt_path = os.path.join(distgit_dir, "debian", "source", "format")
    source_format = "1.0"
    if os.path.isfile(fmt_path):
        with open(fmt_path, encoding="utf-8") as handle:
            source_format = handle.read().strip()
    return DebianInfo(
        source=changelog.package,
        epoch=int(epoch) if epoch else None,
        distribution=changelog.distributions or "unstable",
        source_format=source_format,
        version=str(changelog.version or ""),
    )


def release_deb_version(info: DebianInfo, version: pbr.PackageVersion) -> str:
    """The Debian version of a release build of a tag: the changelog's own when it is for this version.

    The top entry of ``debian/changelog`` gives the revision (``-1``, ``-2``
    after a packaging fix) when its upstream part is the tag's; otherwise
    the tag is packaged for the first time: ``-1``, and the build adds the
    entry (prepare_tree).
    """
    wanted = _upstream_part(version.deb_version)
    if info.version and _upstream_part(info.version) == wanted:
        return info.version
    prefix = f"{info.epoch}:" if info.epoch is not None else ""
    return f"{prefix}{wanted}-1"


def changelog_entry(
    info: DebianInfo, version: pbr.PackageVersion, project: str, distro_hash: str, release_build: bool = False
) -> str:
    """Our top changelog entry for this snapshot (or tag), dated at the commit time."""
    date = formatdate(version.commit_time, usegmt=False, localtime=False).replace("-0000", "+0000")
    what = f"Release {version.tag} of" if release_build else "Snapshot of"
    return (
        f"{info.source} ({version.deb_version}) {info.distribution}; urgency=medium\n\n"
        f"  * {what} {project} {version.commit_hash} (upstream {version.upstream_version}),\n"
        f"    packaging {distro_hash}, built by distroforge.\n\n"
        f" -- {MAINTAINER}  {date}\n\n"
    )


def _upstream_part(deb_version: str) -> str:
    """``[epoch:]upstream-revision`` → ``upstream``."""
    return deb_version.split(":", 1)[-1].rsplit("-", 1)[0]


def prepare_tree(inputs: BuildInputs, info: DebianInfo) -> tuple[str, str, dict[str, str]]:
    """Unpack the source, add debian/ and our changelog entry; return (deb_root, package_dir, env)."""
    tarball, top_dir, version = inputs.source.tarball, inputs.source.top_dir, inputs.source.version
    upstream = _upstream_part(version.deb_version)
    deb_root = fresh_dir(inputs.build_dir, "deb", inputs.project)
    package_dir = f"{info.source}-{upstream}"
    # our own normalised tarball (source.py), checked again: the engine unpacks it with the builder's rights
    scope = sdist_scope(inputs.project, os.path.basename(tarball), top=top_dir)
    with archive.open_tar(tarball, scope) as tar:
        archive.extract(tar, deb_root, scope)
    os.rename(os.path.join(deb_root, top_dir), os.path.join(deb_root, package_dir))
    if info.source_format.startswith("3.0 (quilt)"):
        shutil.copy2(tarball, os.path.join(deb_root, f"{info.source}_{upstream}.orig.tar.gz"))
    target = os.path.join(deb_root, package_dir, "debian")
    if os.path.exists(target):  # upstream shipped its own debian/: ours wins
        shutil.rmtree(target)
    shutil.copytree(os.path.join(inputs.distgit_dir, "debian"), target, symlinks=True)
    changelog = os.path.join(target, "changelog")
    # A release build of a version the changelog already has ships the packaging's own entry.
    if not (inputs.release_build and info.version == version.deb_version):
        with open(changelog, encoding="utf-8") as handle:
            old = handle.read()
        with open(changelog, "w", encoding="utf-8") as handle:
            handle.write(changelog_entry(info, version, inputs.project, inputs.distro_hash, inputs.release_build) + old)
    env = base_env(version.commit_time, {"DEBEMAIL": MAINTAINER, "PBR_VERSION": version.upstream_version})
    return deb_root, package_dir, env


def source_package(deb_root: str, project: str) -> str:
    """The one .dsc dpkg-source made in ``deb_root``, once every file beside it is a regular file.

    A tool outside our sandbox (sbuild) reads the .dsc and the files it
    names with the builder's rights: none may be a symlink to one of its files.
    """
    for entry in sorted(os.scandir(deb_root), key=lambda e: e.name):
        if not entry.is_dir(follow_symlinks=False):
            regular_file(os.path.dirname(deb_root), entry.path, project, "source package file")
    dscs = sorted(glob.glob(os.path.join(deb_root, "*.dsc")))
    if len(dscs) != 1:
        raise InputError(f"{project}: dpkg-source made {len(dscs)} .dsc files, expected one")
    return dscs[0]


def collect_debs(directory: str, project: str, tool: str) -> list[str]:
    """The .debs a tool made in ``directory`` and the source package and metadata files beside them."""
    debs = sorted(glob.glob(os.path.join(directory, "*.deb")))
    if not debs:
        raise InputError(f"{project}: {tool} made no .deb")
    extra = []
    for pattern in ("*.dsc", "*.debian.tar.*", "*.orig.tar.*", "*.buildinfo", "*.changes", "*.tar.xz"):
        extra += glob.glob(os.path.join(directory, pattern))
    return sorted(set(debs + extra))
