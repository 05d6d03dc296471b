"""The sbuild backend: the source package made in our sandbox, then sbuild in a clean chroot (unshare mode).

The chroot is a tarball made with mmdebstrap and cached: its name carries
a hash of its inputs (suite, mirror, packages), so a changed recipe makes a
new one and an unchanged one is reused; it is written aside and renamed, so
a killed run never leaves a half tarball.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..._common.locks import exclusive_lock
from ..._common.proc import run
from .. import deb
from ..buildlog import BuildLog
from ..contain import fresh_dir
from ..sandbox import BUILD_ROOT, bwrap_argv
from ..source import BuildInputs
from .base import Backend, Packaging
from .kinds import DEB

# Build tools every Python/OpenStack package needs; more come from Build-Depends.
DEFAULT_PACKAGES = ("debhelper", "dh-python", "python3-all", "python3-setuptools", "python3-pbr")


@dataclass(frozen=True)
class ChrootSpec:
    """What goes into an sbuild chroot."""

    suite: str = "bookworm"
    mirror: str = "http://deb.debian.org/debian"
    packages: tuple[str, ...] = DEFAULT_PACKAGES

    def tarball_name(self) -> str:
        """``<suite>-<arch>-<hash12>.tar.zst``."""
        inputs = {"suite": self.suite, "mirror": self.mirror, "packages": sorted(set(self.packages)), "recipe": 1}
        digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:12]
        arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
        return f"{self.suite}-{arch}-{digest}.tar.zst"


@dataclass(frozen=True)
class SbuildOptions:
    """The chroot to build in, and where its tarball is cached (default ``<workdir>/sbuild-chroots``)."""

    sbuild_chroot: ChrootSpec = field(default_factory=ChrootSpec)
    sbuild_cache: str | None = None


def mmdebstrap_argv(spec: ChrootSpec, target: str) -> list[str]:
    """The command that makes the chroot tarball."""
    argv = ["mmdebstrap", "--variant=buildd", "--mode=unshare", "--skip=output/mknod", "--quiet"]
    if spec.packages:
        argv.append(f"--include={','.join(sorted(set(spec.packages)))}")
    return [*argv, spec.suite, target, spec.mirror]


def ensure_chroot(cache_dir: str, spec: ChrootSpec, *, timeout: float = 1800) -> str:
    """The chroot tarball for ``spec``, made once per machine (a lock keeps parallel builds from racing)."""
    os.makedirs(cache_dir, exist_ok=True)
    target = os.path.join(cache_dir, spec.tarball_name())
    if os.path.exists(target):
        return target
    with exclusive_lock(os.path.join(cache_dir, ".lock"), None):  # as long as the one making it takes
        if not os.path.exists(target):
            tmp = f"{target}.{os.getpid()}.tmp.tar.zst"
            try:
                run(
                    mmdebstrap_argv(spec, tmp),
                    timeout=timeout,
                    what=f"sbuild chroot {spec.suite} from {spec.mirror} (check the mirror is reachable)",
                )
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    return target


def _cache_dir(workdir: str, options: SbuildOptions) -> str:
    return options.sbuild_cache or os.path.join(workdir, "sbuild-chroots")


class SbuildBackend(Backend):
    """A clean-chroot build: source package in our sandbox, then sbuild in unshare mode.

    sbuild installs the build dependencies from the chroot's mirror (the
    only network it uses) plus the earlier waves' packages (offered through
    sbuild's temporary extra repository) and builds without network at the
    fixed path ``/build/<source>`` so two builds of a commit give the same
    bytes.
    """

    name = "sbuild"
    kind = DEB
    options_type = SbuildOptions
    required_tools = ("sbuild", "mmdebstrap", "dpkg-source")
    toolchain_probes: ClassVar[Mapping[str, Sequence[str]]] = {
        "dpkg-buildpackage": ("dpkg-buildpackage", "--version"),
        "sbuild": ("sbuild", "--version"),
        "mmdebstrap": ("mmdebstrap", "--version"),
    }
    options: SbuildOptions

    def __init__(self, options: Any, workdir: str) -> None:
        super().__init__(options, workdir)
        self.chroot: str | None = None

    @classmethod
    def owned_dirs(cls, workdir: str, options: Any) -> list[str]:
        # the default cache is the build's to fill; a given one is the admin's
        return [] if options.sbuild_cache else [_cache_dir(workdir, options)]

    def prepare(self, log: BuildLog) -> None:
        super().prepare(log)
        self.chroot = ensure_chroot(_cache_dir(self.workdir, self.options), self.options.sbuild_chroot)

    def build(self, inputs: BuildInputs, packaging: Packaging, against: Sequence[str]) -> None:
        if not isinstance(packaging, deb.DebianInfo) or self.chroot is None:
            raise TypeError("sbuild builds Debian packaging in a prepared chroot (prepare() first)")
        deb_root, package_dir, env = deb.prepare_tree(inputs, packaging)
        log = inputs.log
        log.run(
            bwrap_argv(inputs.build_dir, ["dpkg-source", "-b", package_dir], env=env, cwd=f"{BUILD_ROOT}/deb"),
            what="dpkg-source -b (no network)",
        )
        dsc = deb.source_package(deb_root, inputs.project)
        out = fresh_dir(inputs.build_dir, "sbuild", inputs.project)
        argv = [
            "sbuild",
            "--chroot-mode=unshare",
            f"--chroot={self.chroot}",
            f"--dist={self.options.sbuild_chroot.suite}",
            "--arch-all",
            "--no-run-lintian",
            "--no-run-autopkgtest",
            "--no-run-piuparts",
            "--no-apt-upgrade",
            "--no-apt-distupgrade",
            "--nolog",
            f"--build-dir={out}",
            f"--build-path=/build/{packaging.source}",
            *(f"--extra-package={path}" for path in against),
            dsc,
        ]
        log.run(argv, what="sbuild (clean chroot, unshare mode)", env=env | {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})

    def collect(self, inputs: BuildInputs, packaging: Packaging) -> list[str]:
        deb_root = os.path.join(inputs.build_dir, "deb")
        patterns = ("*.dsc", "*.debian.tar.*", "*.orig.tar.*")
        sources = [path for pattern in patterns for path in glob.glob(os.path.join(deb_root, pattern))]
        built = deb.collect_debs(os.path.join(inputs.build_dir, "sbuild"), inputs.project, "sbuild")
        return sorted({*built, *sources})

    def describe(self) -> dict[str, Any]:
        return {"sbuild_chroot": os.path.basename(self.chroot) if self.chroot else None}
