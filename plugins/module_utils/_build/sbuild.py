"""The chroot tarball sbuild builds in (unshare mode), made with mmdebstrap and cached.

The tarball's name carries a hash of its inputs (suite, mirror, packages),
so a changed recipe makes a new one and an unchanged one is reused; it is
written aside and renamed, so a killed run never leaves a half tarball.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
from dataclasses import dataclass

from .._common.proc import run

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
    with open(os.path.join(cache_dir, ".lock"), "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
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
