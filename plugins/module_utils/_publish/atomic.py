"""Crash-safe file system primitives for publishing.

The rule everywhere: write aside, ``fsync`` the data and the directory,
then make it visible with one ``rename(2)``, which POSIX makes atomic.  A
reader (or a publisher killed at any instant) sees the old state or the
new one, never a half-written file, directory or symlink.  A symlink is
moved by creating a temporary symlink beside it and renaming it over the
old one (``ln -sfn`` unlinks first, which leaves a window without link).
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Iterator, Union

from .._common.errors import DistroforgeError, InputError

PathLike = Union[str, "os.PathLike[str]"]


class PublishBusy(DistroforgeError):
    """Another publisher held the repository lock for longer than we may wait."""


def fsync_path(path: PathLike) -> None:
    """Flush a file's (or a directory's) data and metadata to disk."""
    flags = os.O_RDONLY
    if os.path.isdir(path):
        flags |= getattr(os, "O_DIRECTORY", 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: PathLike) -> None:
    """Flush every regular file and directory under ``root`` (symlinks live in their directory's entry)."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                fsync_path(path)
        fsync_path(dirpath)


def write_bytes_atomic(path: PathLike, data: bytes, mode: int = 0o644) -> bool:
    """Replace ``path`` with ``data`` atomically; return False (and write nothing) if it already holds it."""
    target = Path(path)
    try:
        if target.is_file() and not target.is_symlink() and target.read_bytes() == data:
            return False
    except OSError:
        pass
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        # A full disk must not also leave a half-written file behind.
        with suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_path(target.parent)
    return True


def write_text_atomic(path: PathLike, text: str, mode: int = 0o644) -> bool:
    """``write_bytes_atomic`` for UTF-8 text."""
    return write_bytes_atomic(path, text.encode("utf-8"), mode)


def swap_symlink(link: PathLike, target: str) -> bool:
    """Point ``link`` at ``target`` (a relative path) atomically; False if it already does.

    A temporary symlink is renamed over ``link``, so at every instant
    ``link`` is either the old or the new symlink.  ``link`` must not be a
    real directory (``rename`` cannot replace one with a symlink).
    """
    link_path = Path(link)
    try:
        if os.readlink(link_path) == target:
            return False
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            raise InputError(
                f"{link_path} is a real file or directory, not a symlink: move it aside so it can become a link"
            ) from exc
    tmp = link_path.with_name(f".{link_path.name}.lnk{os.getpid()}")
    with suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link_path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_path(link_path.parent)
    return True


def rename_into_place(staged: PathLike, final: PathLike, trash: PathLike) -> None:
    """Move a complete staged directory to ``final``.

    A missing ``final`` appears in one rename.  An existing one (say a
    FAILED build's log directory now replaced by its successful rebuild) is
    first renamed into ``trash``; nothing points at such a directory, so the
    short gap is invisible to clients of ``current``/``consistent``.
    """
    final_path = Path(final)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    if final_path.exists():
        Path(trash).mkdir(parents=True, exist_ok=True)
        aside = Path(trash) / f"{final_path.name}.{os.getpid()}.{time.monotonic_ns()}"
        os.rename(final_path, aside)
        os.rename(staged, final_path)
        fsync_path(final_path.parent)
        shutil.rmtree(aside, ignore_errors=True)
        return
    os.rename(staged, final_path)
    fsync_path(final_path.parent)


@contextmanager
def exclusive_lock(lock_path: PathLike, timeout: float, what: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path``; the kernel drops it if we die (even by SIGKILL)."""
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InputError(
            f"{what} lock {lock_path}: cannot open: {exc.strerror}: check the directory permissions"
        ) from exc
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise PublishBusy(
                        f"{what}: another publisher held {lock_path} for more than {timeout:.0f} s:"
                        " wait for it to finish or raise lock_timeout"
                    ) from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)


def clean_dir(path: PathLike) -> None:
    """Empty a scratch directory (leftovers of a killed publisher), creating it if needed."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    for entry in root.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
