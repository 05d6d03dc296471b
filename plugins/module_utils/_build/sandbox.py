"""Run build steps inside bubblewrap: no network, fixed paths, clean environment.

Reproducibility needs the same paths in every build (compilers and rpm
record them), and isolation needs no network and no view of the builder's
other files.  Each build directory is bind-mounted at ``/build`` in a root
made of the host's read-only ``/usr``, ``/etc`` and ``/var``, with private
``/tmp``, ``/var/tmp``, ``/proc`` and ``/dev``, and an environment that
holds only what the build is given.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Mapping, Sequence

from .._common.errors import CommandError

BUILD_ROOT = "/build"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Directories of a merged-/usr system that are symlinks into /usr.
_USR_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def base_env(source_date_epoch: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a build: nothing leaks in from the caller."""
    env = {
        "PATH": DEFAULT_PATH,
        "HOME": BUILD_ROOT,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "SOURCE_DATE_EPOCH": str(source_date_epoch),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DEB_BUILD_OPTIONS": "nocheck",
    }
    env.update(extra or {})
    return env


def bwrap_argv(
    build_dir: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str = BUILD_ROOT,
    network: bool = False,
    extra_ro_binds: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """The bwrap command line running ``argv`` with ``build_dir`` at ``/build``."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise CommandError("bubblewrap (bwrap) is not installed on this builder; run the builder_setup role or `make`")
    cmd = [bwrap, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "builder"]
    if not network:
        cmd.append("--unshare-net")
    cmd += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc", "--ro-bind", "/var", "/var"]
    for name in _USR_LINKS:
        path = f"/{name}"
        if os.path.islink(path):
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            cmd += ["--ro-bind", path, path]
    cmd += ["--tmpfs", "/tmp", "--tmpfs", "/var/tmp", "--dev", "/dev", "--proc", "/proc"]
    for host, inside in extra_ro_binds:
        cmd += ["--ro-bind", host, inside]
    cmd += ["--bind", os.path.abspath(build_dir), BUILD_ROOT, "--chdir", cwd, "--clearenv"]
    for key, value in sorted(env.items()):
        cmd += ["--setenv", key, value]
    return cmd + list(argv)


def unpacked_deps_env(root: str) -> dict[str, str]:
    """PATH and PYTHONPATH for packages unpacked at ``root`` (``/build/deps/root`` in the sandbox).

    One place for the dpkg and rpmbuild backends: Python modules of either
    packaging (``dist-packages`` or ``site-packages``, ``lib`` or ``lib64``)
    and the packages' commands become visible to the build.
    """
    inside = f"{BUILD_ROOT}/deps/root"
    python = sorted(
        glob.glob(os.path.join(root, "usr/lib*/python3*/site-packages"))
        + glob.glob(os.path.join(root, "usr/lib*/python3*/dist-packages"))
    )
    env = {"PATH": f"{inside}/usr/bin:{DEFAULT_PATH}"}
    if python:
        env["PYTHONPATH"] = ":".join(f"{inside}/{os.path.relpath(path, root)}" for path in python)
    return env
