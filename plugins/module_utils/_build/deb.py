"""The dpkg backend: dpkg-buildpackage in the sandbox, with our changelog entry.

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
import tarfile
from dataclasses import dataclass
from email.utils import formatdate

from .._common.errors import InputError
from .._common.proc import run
from .._versions import pbr
from .sandbox import BUILD_ROOT, base_env, bwrap_argv, unpacked_deps_env
from .source import BuildInputs

try:
    from debian.changelog import Changelog
except ImportError as exc:  # reported when a DEB build is asked for
    Changelog = None  # type: ignore[assignment,misc]
    _IMPORT_ERROR: ImportError | None = exc
else:
    _IMPORT_ERROR = None

MAINTAINER = "distroforge <builder@distroforge.invalid>"
HOST_DPKG_DB = "/var/lib/dpkg"
DEPS = f"{BUILD_ROOT}/deps"  # the distro's own earlier packages, inside the sandbox


@dataclass(frozen=True)
class DebianInfo:
    """What the distgit's debian/ says about the package."""

    source: str
    epoch: int | None
    distribution: str
    source_format: str


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
    )


def changelog_entry(info: DebianInfo, version: pbr.PackageVersion, project: str, distgit_hash: str) -> str:
    """Our top changelog entry for this snapshot, dated at the commit time."""
    date = formatdate(version.commit_time, usegmt=False, localtime=False).replace("-0000", "+0000")
    return (
        f"{info.source} ({version.deb_version}) {info.distribution}; urgency=medium\n\n"
        f"  * Snapshot of {project} {version.commit_hash} (upstream {version.upstream_version}),\n"
        f"    packaging {distgit_hash}, built by distroforge.\n\n"
        f" -- {MAINTAINER}  {date}\n\n"
    )


def _upstream_part(deb_version: str) -> str:
    """``[epoch:]upstream-revision`` → ``upstream``."""
    return deb_version.split(":", 1)[-1].rsplit("-", 1)[0]


def _prepare(inputs: BuildInputs, info: DebianInfo) -> tuple[str, str, dict[str, str]]:
    """Unpack the source, add debian/ and our changelog entry; return (deb_root, package_dir, env)."""
    tarball, top_dir, version = inputs.source.tarball, inputs.source.top_dir, inputs.source.version
    upstream = _upstream_part(version.deb_version)
    deb_root = os.path.join(inputs.build_dir, "deb")
    os.makedirs(deb_root, exist_ok=True)
    package_dir = f"{info.source}-{upstream}"
    with tarfile.open(tarball) as tar:
        # our own normalised tarball (source.py): regular files, dirs and symlinks under one top dir
        tar.extractall(deb_root)
    os.rename(os.path.join(deb_root, top_dir), os.path.join(deb_root, package_dir))
    if info.source_format.startswith("3.0 (quilt)"):
        shutil.copy2(tarball, os.path.join(deb_root, f"{info.source}_{upstream}.orig.tar.gz"))
    target = os.path.join(deb_root, package_dir, "debian")
    if os.path.exists(target):  # upstream shipped its own debian/: ours wins
        shutil.rmtree(target)
    shutil.copytree(os.path.join(inputs.distgit_dir, "debian"), target, symlinks=True)
    changelog = os.path.join(target, "changelog")
    with open(changelog, encoding="utf-8") as handle:
        old = handle.read()
    with open(changelog, "w", encoding="utf-8") as handle:
        handle.write(changelog_entry(info, version, inputs.project, inputs.distgit_hash) + old)
    env = base_env(version.commit_time, {"DEBEMAIL": MAINTAINER, "PBR_VERSION": version.upstream_version})
    return deb_root, package_dir, env


def _artifacts(directory: str, project: str, tool: str) -> list[str]:
    debs = sorted(glob.glob(os.path.join(directory, "*.deb")))
    if not debs:
        raise InputError(f"{project}: {tool} made no .deb")
    extra = []
    for pattern in ("*.dsc", "*.debian.tar.*", "*.orig.tar.*", "*.buildinfo", "*.changes", "*.tar.xz"):
        extra += glob.glob(os.path.join(directory, pattern))
    return sorted(set(debs + extra))


def _status_paragraph(deb: str) -> str:
    """The package's control fields as an installed entry of a dpkg status file."""
    fields = run(["dpkg-deb", "--field", deb], what=f"dpkg-deb --field {os.path.basename(deb)}").stdout.strip()
    return f"{fields}\nStatus: install ok installed\n"


def stage_against(inputs: BuildInputs, debs: list[str]) -> tuple[list[str], dict[str, str]]:
    """Make the distro's earlier .debs part of the sandbox's system; return (dpkg options, env).

    dpkg in bubblewrap builds with the builder's own packages (its ``/usr``),
    which cannot be changed per build.  So the earlier waves' .debs are
    added beside it: registered as installed in a private copy of the dpkg
    database (``--admindir``), so build dependencies are checked against the
    builder's packages plus these, and unpacked under ``/build/deps/root``
    with their Python modules and programs on ``PYTHONPATH``/``PATH``.
    """
    if not debs:
        return [], {}
    deps = os.path.join(inputs.build_dir, "deps")
    pkgs, admin, root = (os.path.join(deps, sub) for sub in ("pkgs", "dpkg", "root"))
    for path in (pkgs, os.path.join(admin, "updates"), root):
        os.makedirs(path, exist_ok=True)
    ours = [_status_paragraph(deb) for deb in debs]
    names = {para.split("\n", 1)[0] for para in ours}  # "Package: <name>"
    with open(os.path.join(HOST_DPKG_DB, "status"), encoding="utf-8") as handle:
        host = [p.strip("\n") for p in handle.read().split("\n\n") if p.strip()]
    # ours replace the builder's own copy of a package (e.g. Debian's python3-keystoneclient)
    status = [p + "\n" for p in host if p.split("\n", 1)[0] not in names] + ours
    with open(os.path.join(admin, "status"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(status))
    for name in ("arch",):
        if os.path.exists(os.path.join(HOST_DPKG_DB, name)):
            shutil.copy2(os.path.join(HOST_DPKG_DB, name), os.path.join(admin, name))
    for deb in debs:
        shutil.copy2(deb, os.path.join(pkgs, os.path.basename(deb)))
    inputs.log.run(
        bwrap_argv(
            inputs.build_dir,
            ["sh", "-c", f'for deb in {DEPS}/pkgs/*.deb; do dpkg-deb -x "$deb" {DEPS}/root || exit 1; done'],
            env=base_env(inputs.source.version.commit_time),
        ),
        what="unpack the distro's earlier packages under /build/deps/root (no network)",
    )
    return [f"--admindir={DEPS}/dpkg"], unpacked_deps_env(root)


def build(inputs: BuildInputs, info: DebianInfo, *, against: list[str] | None = None) -> list[str]:
    """dpkg-buildpackage on the builder's own packages (plus ``against``), in the sandbox; return artifacts."""
    deb_root, package_dir, env = _prepare(inputs, info)
    dpkg_opts, deps_env = stage_against(inputs, against or [])
    env = env | deps_env
    inside = f"{BUILD_ROOT}/deb/{package_dir}"
    log = inputs.log
    log.run(
        bwrap_argv(inputs.build_dir, ["dpkg-checkbuilddeps", *dpkg_opts], env=env, cwd=inside),
        what="dpkg-checkbuilddeps",
    )
    buildpackage = ["dpkg-buildpackage", "-us", "-uc", "--build=full", "--no-pre-clean", *dpkg_opts]
    log.run(bwrap_argv(inputs.build_dir, buildpackage, env=env, cwd=inside), what="dpkg-buildpackage (no network)")
    return _artifacts(deb_root, inputs.project, "dpkg-buildpackage")


def sbuild_build(
    inputs: BuildInputs, info: DebianInfo, chroot: str, *, dist: str = "bookworm", against: list[str] | None = None
) -> list[str]:
    """A clean-chroot build: source package in our sandbox, then sbuild in unshare mode.

    sbuild installs the build dependencies from the chroot's mirror (the
    only network it uses) plus ``against`` (the distro's earlier packages,
    offered through sbuild's temporary extra repository) and builds without
    network at the fixed path ``/build/<source>`` so two builds of a commit
    give the same bytes.
    """
    deb_root, package_dir, env = _prepare(inputs, info)
    log = inputs.log
    log.run(
        bwrap_argv(inputs.build_dir, ["dpkg-source", "-b", package_dir], env=env, cwd=f"{BUILD_ROOT}/deb"),
        what="dpkg-source -b (no network)",
    )
    dscs = sorted(glob.glob(os.path.join(deb_root, "*.dsc")))
    if len(dscs) != 1:
        raise InputError(f"{inputs.project}: dpkg-source made {len(dscs)} .dsc files, expected one")
    out = os.path.join(inputs.build_dir, "sbuild")
    os.makedirs(out, exist_ok=True)
    argv = [
        "sbuild",
        "--chroot-mode=unshare",
        f"--chroot={chroot}",
        f"--dist={dist}",
        "--arch-all",
        "--no-run-lintian",
        "--no-run-autopkgtest",
        "--no-run-piuparts",
        "--no-apt-upgrade",
        "--no-apt-distupgrade",
        "--nolog",
        f"--build-dir={out}",
        f"--build-path=/build/{info.source}",
        *(f"--extra-package={deb}" for deb in against or []),
        dscs[0],
    ]
    log.run(argv, what="sbuild (clean chroot, unshare mode)", env=env | {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    patterns = ("*.dsc", "*.debian.tar.*", "*.orig.tar.*")
    sources = [path for pattern in patterns for path in glob.glob(os.path.join(deb_root, pattern))]
    return sorted({*_artifacts(out, inputs.project, "sbuild"), *sources})
