"""Files users give us and files we write for them.

``write_atomic`` writes aside, flushes, and renames over the target, so a
reader (or a task killed at any instant) sees the old file or the new one,
never half of one; the file has its final mode from its first byte, which
matters for files holding secrets.  ``read_text`` reads a user's text file
and turns the ways it can be wrong into one line naming the option.
"""

from __future__ import annotations

import contextlib
import os
from typing import Optional, Union

from .errors import InputError

PathLike = Union[str, "os.PathLike[str]"]


def fsync_dir(directory: PathLike) -> None:
    """Flush a directory's entries (a rename is durable only once its directory is)."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _keep_owner(fd: int, path: PathLike) -> None:
    """Give the new file the owner of the one it replaces, as far as this user may."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    if (info.st_uid, info.st_gid) == (os.geteuid(), os.getegid()):
        return
    # Not root: the file becomes this user's, as any rewrite by this user would make it.
    with contextlib.suppress(PermissionError):
        os.fchown(fd, info.st_uid, info.st_gid)


def write_atomic(path: PathLike, data: bytes, mode: int) -> None:
    """Replace ``path`` with ``data`` and ``mode``: written aside, fsynced, renamed over, directory fsynced.

    The new file keeps the owner of the one it replaces when this user may give it.
    """
    directory, name = os.path.split(os.path.abspath(path))
    aside = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}")
    # O_EXCL: never follow a link planted at the aside name; the mode is set before any byte is written.
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o600)
    try:
        try:
            _keep_owner(fd, path)
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(aside, path)
    except BaseException:
        if os.path.lexists(aside):
            os.unlink(aside)
        raise
    fsync_dir(directory)


def read_bytes(path: PathLike) -> Optional[bytes]:
    """What ``path`` holds now, or None when there is no such file."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def read_text(path: PathLike, option: str, what: str = "the file") -> str:
    """The UTF-8 text of a file the user named in ``option``; one-line InputError for what can go wrong."""
    where = os.fspath(path)
    try:
        with open(where, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise InputError(f"{option}: {where} does not exist; give the path of {what}") from None
    except IsADirectoryError:
        raise InputError(f"{option}: {where} is a directory; give the path of {what}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{option}: {where} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as UTF-8"
        ) from None
