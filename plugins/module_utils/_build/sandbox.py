"""Run build steps inside bubblewrap: no network, fixed paths, clean environment.

Reproducibility needs the same paths in every build (compilers and rpm
record them), and isolation needs no network and no view of the builder's
other files.  Each build directory is bind-mounted at ``/build`` in a root
made of the host's read-only ``/usr``, ``/etc`` and ``/var``, with private
``/tmp``, ``/var/tmp``, ``/proc`` and ``/dev``, and an environment that
holds only what the build is given.

A step is pid 2 of its own PID namespace (bubblewrap's reaper is pid 1):
when it ends, the namespace ends and the kernel kills whatever it left
running, and ``--die-with-parent`` does the same when the engine kills
bubblewrap (a timeout).  So that a build that starts daemons is reported,
not only contained, the step runs under a few lines of shell
(:data:`LEFTOVER_CHECK`) that list what is still alive after it, kill it
and say so.  The only writable places are ``/build`` (its size is watched
by the step runner, buildlog.py) and size-limited tmpfs at ``/tmp``,
``/var/tmp`` and ``/dev/shm``; the rest of ``/dev`` is read-only.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Mapping, Sequence

from .._common.errors import CommandError

BUILD_ROOT = "/build"
# The private tmpfs of a step live in memory: each is bounded (the build
# directory, on disk, has its own limit: BuildSettings.disk_limit).
TMPFS_SIZE = 1024 * 1024 * 1024  # /tmp and /var/tmp, each
SHM_SIZE = 256 * 1024 * 1024  # /dev/shm
# After the step (the arguments): anything alive in the PID namespace but
# bubblewrap's pid 1 and this shell is left behind; kill it, say what it was.
LEFTOVER_RC = 125
LEFTOVER_MARKER = "distroforge sandbox: left running after the step ended:"
LEFTOVER_CHECK = (
    '"$@"; rc=$?; left=; '
    'for stat in /proc/[0-9]*/stat; do read -r line < "$stat" || continue; pid=${line%% *}; '
    '{ [ "$pid" = 1 ] || [ "$pid" = $$ ]; } && continue; rest=${line##*) }; [ "${rest%% *}" = Z ] && continue; '
    'name=${line#*(}; left="$left ${name%)*}"; done 2>/dev/null; '
    '[ -z "$left" ] && exit $rc; kill -KILL -1 2>/dev/null; '
    f'echo "{LEFTOVER_MARKER}$left" >&2; exit {LEFTOVER_RC}'
)
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
    writable: bool = True,
) -> list[str]:
    """The bwrap command line running ``argv`` with ``build_dir`` at ``/build`` (read-only unless ``writable``)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise CommandError("bubblewrap (bwrap) is not installed on this builder; run the builder_setup role or `make`")
    cmd = [bwrap, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "builder"]
    cmd.append("--new-session")  # no terminal to push input into (TIOCSTI)
    if not network:
        cmd.append("--unshare-net")
    cmd += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc", "--ro-bind", "/var", "/var"]
    for name in _USR_LINKS:
        path = f"/{name}"
        if os.path.islink(path):
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            cmd += ["--ro-bind", path, path]
    for tmp in ("/tmp", "/var/tmp"):
        cmd += ["--size", str(TMPFS_SIZE), "--tmpfs", tmp]
    cmd += ["--dev", "/dev", "--size", str(SHM_SIZE), "--tmpfs", "/dev/shm", "--remount-ro", "/dev", "--proc", "/proc"]
    for host, inside in extra_ro_binds:
        cmd += ["--ro-bind", host, inside]
    cmd += ["--bind" if writable else "--ro-bind", os.path.abspath(build_dir), BUILD_ROOT, "--chdir", cwd, "--clearenv"]
    for key, value in sorted(env.items()):
        cmd += ["--setenv", key, value]
    return [*cmd, "/bin/sh", "-c", LEFTOVER_CHECK, "distroforge-step", *argv]


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
