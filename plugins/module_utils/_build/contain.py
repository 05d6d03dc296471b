"""What keeps a hostile build in its box, beyond what bubblewrap does.

A build runs code from upstream and distgit in the sandbox (sandbox.py),
but the engine itself works on the same build directory between the steps,
outside the sandbox and with the builder's rights: it unpacks, copies and
writes there.  Whatever a step left in the build directory may be a trap —
a symlink where the engine writes next, an output that is a symlink to a
file of the builder, a FIFO that blocks a read forever — and a step may
try to fill the disk or leave processes running.  This module holds the
checks the engine makes around each step:

- :func:`fresh_dir` and :func:`regular_file`: the engine writes only into
  directories it has just made and reads only regular files inside the
  build directory.  Between two steps no process of the build is alive
  (the sandbox's PID namespace is gone), so a check made then still holds
  when the engine acts on it.
- :func:`disk_usage`: what the build has written, charged one block at
  least per entry (so millions of empty files count too).
- :func:`kill_group`: processes left in a step's process group.

Every refusal is a :class:`Refused`: one line that is the build's error.
"""

from __future__ import annotations

import os
import signal
import stat
import time

from .._common.errors import InputError

MIB = 1024 * 1024
# The least a file or directory costs on disk (one block of the usual 4 KiB):
# an entry is charged at least this, so a build cannot exhaust inodes for free.
ENTRY_COST = 4096


class Refused(InputError):
    """The engine refused what a build did or made; the message is the build's error, never retried."""


def _inside(top: str, path: str) -> bool:
    real_top = os.path.realpath(top)
    return os.path.commonpath([real_top, os.path.realpath(path)]) == real_top


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISREG, "a file"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device file"),
    (stat.S_ISBLK, "a device file"),
)


def _describe(path: str) -> str:
    """What is at ``path``, in a few words, without following it."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "nothing"
    if stat.S_ISLNK(mode):
        return f"a symlink to '{os.readlink(path)}'"
    return next((kind for test, kind in _KINDS if test(mode)), "something else")


def fresh_dir(build_dir: str, name: str, where: str) -> str:
    """Make the directory ``name`` of ``build_dir`` for the engine to write in; Refused when something is there.

    The engine makes each of its directories once per build attempt, after
    a step ran in the sandbox; anything already at that path was put there
    by the build (a symlink out of the build directory, a directory holding
    symlinks named like the files the engine writes next).
    """
    path = os.path.join(build_dir, name)
    if os.path.lexists(path):
        raise Refused(
            f"{where}: the build made '{name}' ({_describe(path)}) in its build directory, where the engine "
            "writes next; refused"
        )
    if not _inside(build_dir, os.path.dirname(path)):
        raise Refused(f"{where}: '{os.path.dirname(name)}' leads out of the build directory; refused")
    os.makedirs(path)
    return path


def fresh_file(build_dir: str, name: str, where: str) -> str:
    """The path of a new file ``name`` of ``build_dir`` for the engine to write; Refused when something is there."""
    path = os.path.join(build_dir, name)
    if os.path.lexists(path):
        raise Refused(
            f"{where}: the build made '{name}' ({_describe(path)}) in its build directory, where the engine "
            "writes next; refused"
        )
    if not _inside(build_dir, os.path.dirname(path)):
        raise Refused(f"{where}: '{os.path.dirname(name)}' leads out of the build directory; refused")
    return path


def regular_file(build_dir: str, path: str, where: str, what: str) -> str:
    """``path`` when it is a regular file (not a symlink) inside ``build_dir``; Refused otherwise.

    What a build step made is read by the engine with the builder's rights:
    a symlink would hand it a file of the builder (a key, the state DB), a
    FIFO would block the read forever.
    """
    rel = os.path.relpath(path, build_dir)
    kind = _describe(path)
    if kind != "a file":
        raise Refused(f"{where}: {what} '{rel}' is {kind}, not a regular file in the build directory; refused")
    if not _inside(build_dir, path):
        raise Refused(f"{where}: {what} '{rel}' is reached through a symlink out of the build directory; refused")
    return path


def disk_usage(top: str) -> int:
    """Bytes the tree at ``top`` takes on disk (blocks, ENTRY_COST at least per entry; hard links once).

    Symlinks are not followed; entries that vanish while counting are skipped.
    """
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
                if (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
            total += max(info.st_blocks * 512, ENTRY_COST)
            if stat.S_ISDIR(info.st_mode):
                stack.append(entry.path)
    return total


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, name) of the live processes of process group ``pgid``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as handle:
                line = handle.read()
        except OSError:
            continue
        comm = line[line.find("(") + 1 : line.rfind(")")]
        fields = line[line.rfind(")") + 2 :].split()
        # fields: state, ppid, pgrp, ...; a zombie is gone but for its parent's wait
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            found.append((int(name), comm))
    return found


def kill_group(pgid: int, *, wait: float = 10.0) -> list[str]:
    """SIGKILL every process of group ``pgid`` and wait (at most ``wait`` s) until they are gone; their names."""
    names = [comm for _pid, comm in group_members(pgid)]
    if not names:
        return []
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return names
    deadline = time.monotonic() + wait
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return names
