"""File primitives: the one place the engine writes aside, renames, fsyncs and hashes files.

The crash-safety contract, everywhere: write aside, ``fsync`` the data,
make it visible with one ``rename(2)`` (atomic in POSIX), then ``fsync``
the directory that holds the new name.  A reader, or a task killed at any
instant, sees the old file (directory, symlink) or the new one, never half
of one; after the directory fsync a power loss cannot take it back either.

- :func:`write_atomic` / :func:`open_atomic`: a file's new content;
  :func:`write_atomic_if_changed` skips the write when the file holds it
  already (no new inode, no mtime change for repository clients).
- :func:`swap_symlink`: repoint a link by renaming a new link over it
  (``ln -sfn`` unlinks first, which leaves a moment with no link).
- :func:`rename_into_place` / :func:`remove_dir_atomic`: whole directories
  appear or go in one rename; replaced ones go through a trash directory.
- :func:`fsync_path` / :func:`fsync_tree`: flush a file, a directory's
  entries, a staged tree.
- :func:`sha256_file`: the digest every buildinfo, manifest and repository
  check compares.
- :func:`read_bytes` / :func:`read_text`: files users give us, with the ways
  they can be wrong as one line naming the option.

``tests/unit/test_primitives.py`` fails when one of these is written again
elsewhere in ``plugins/``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
import time
from typing import BinaryIO, Iterator, Optional, Union

from .errors import InputError

PathLike = Union[str, "os.PathLike[str]"]

_CHUNK = 1 << 20


def fsync_path(path: PathLike) -> None:
    """Flush a file's data, or a directory's entries, to disk.

    A rename or an unlink is durable only once the directory holding the
    name is flushed: call this on the parent after either.
    """
    flags = os.O_RDONLY
    if os.path.isdir(path):
        flags |= getattr(os, "O_DIRECTORY", 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: PathLike) -> None:
    """Flush every regular file and directory under ``root`` (symlinks live in their directory's entry).

    Done to a staged directory before it is renamed into place, so the
    rename never publishes names whose data a power loss could still take.
    """
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                fsync_path(path)
        fsync_path(dirpath)


def _keep_owner(fd: int, path: PathLike) -> None:
    """Give the new file the owner of the regular file it replaces, as far as this user may.

    ``lstat``: the rename replaces a symlink at ``path``, not its target, so
    the target's owner (someone else's file, a link planted by a build) is
    never given to the new file.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode) or (info.st_uid, info.st_gid) == (os.geteuid(), os.getegid()):
        return
    # Not root: the file becomes this user's, as any rewrite by this user would make it.
    with contextlib.suppress(PermissionError):
        os.fchown(fd, info.st_uid, info.st_gid)


@contextlib.contextmanager
def _aside(path: PathLike, mode: int, durable: bool) -> Iterator[int]:
    """A new file beside ``path`` for the block to write into (its fd); renamed over ``path`` when the block ends.

    The name is unique (pid and random) and opened with ``O_EXCL``, so two
    writers never share one and a link planted at that name is never
    followed; the file has ``mode`` before its first byte (secrets are never
    readable by others, not even for a moment).  Whatever stops the block,
    the file aside goes.
    """
    directory, name = os.path.split(os.path.abspath(path))
    aside = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o600)
    try:
        try:
            _keep_owner(fd, path)
            os.fchmod(fd, mode)
            yield fd
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(aside, path)
    except BaseException:
        # A full disk or a kill signal must not also leave the file aside behind.
        with contextlib.suppress(OSError):
            os.unlink(aside)
        raise
    if durable:
        fsync_path(directory)


def write_atomic(path: PathLike, data: bytes, mode: int, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` and ``mode``: written aside, fsynced, renamed over, directory fsynced.

    The new file keeps the owner of the one it replaces when this user may
    give it.  ``durable=False`` leaves out both fsyncs, for derived data
    (caches, reports remade on the next run): readers still see the old
    file or the new one, but a power loss may lose the new one.
    """
    with _aside(path, mode, durable) as fd:
        # os.write, not a buffered file: every write is one system call (what
        # the publish fault tests count and fail one by one).
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]


@contextlib.contextmanager
def open_atomic(path: PathLike, mode: int, *, durable: bool = True) -> Iterator[BinaryIO]:
    """:func:`write_atomic` for content made as it is written: a binary stream to write to.

    For a tar archive, a pickle, a report written piece by piece: nothing is
    held whole in memory, and ``path`` changes only when the block ends
    without an error.
    """
    # The block's exception reaches _aside's cleanup through contextmanager's throw().
    with _aside(path, mode, durable) as fd, os.fdopen(fd, "wb", closefd=False) as stream:  # pylint: disable=contextmanager-generator-missing-cleanup
        yield stream


def write_atomic_if_changed(path: PathLike, data: Union[bytes, str], mode: int = 0o644) -> bool:
    """:func:`write_atomic` unless ``path`` is a regular file holding ``data`` already; returns whether it wrote.

    ``str`` is written as UTF-8.  Unchanged files keep their inode and mtime,
    so mirrors and HTTP caches of a repository see nothing new.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with contextlib.suppress(OSError):
        if os.path.isfile(path) and not os.path.islink(path) and read_bytes(path) == raw:
            return False
    write_atomic(path, raw, mode)
    return True


def swap_symlink(link: PathLike, target: str) -> bool:
    """Point ``link`` at ``target`` (a relative path) atomically; False if it already does.

    A temporary symlink is renamed over ``link``, so at every instant
    ``link`` is either the old or the new symlink.  ``link`` must not be a
    real directory (``rename`` cannot replace one with a symlink).
    """
    link_path = os.fspath(link)
    try:
        if os.readlink(link_path) == target:
            return False
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            raise InputError(
                f"{link_path} is a real file or directory, not a symlink: move it aside so it can become a link"
            ) from exc
    directory, name = os.path.split(link_path)
    tmp = os.path.join(directory, f".{name}.lnk{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # left by an earlier process with our pid, killed mid-way
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link_path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_path(directory or ".")
    return True


def _trash_name(trash: PathLike, name: str) -> str:
    os.makedirs(trash, exist_ok=True)
    return os.path.join(trash, f"{name}.{os.getpid()}.{time.monotonic_ns()}")


def rename_into_place(staged: PathLike, final: PathLike, trash: PathLike) -> None:
    """Move a complete staged directory (already fsynced: :func:`fsync_tree`) to ``final``.

    A missing ``final`` appears in one rename.  An existing one (say a
    FAILED build's log directory now replaced by its successful rebuild) is
    first renamed into ``trash``; nothing points at such a directory, so the
    short gap is invisible to clients of ``current``/``consistent``.
    """
    parent = os.path.dirname(os.path.abspath(final))
    if not os.path.isdir(parent):
        os.makedirs(parent, exist_ok=True)
    if os.path.exists(final):
        aside = _trash_name(trash, os.path.basename(os.path.abspath(final)))
        os.rename(final, aside)
        os.rename(staged, final)
        fsync_path(parent)
        shutil.rmtree(aside, ignore_errors=True)
        return
    os.rename(staged, final)
    fsync_path(parent)


def remove_dir_atomic(path: PathLike, trash: PathLike) -> None:
    """Remove the directory ``path`` as one step: renamed into ``trash``, flushed, then deleted.

    A removal killed half-way never leaves a half-deleted tree under its
    name.  Nothing happens when ``path`` is not a directory.
    """
    if not os.path.isdir(path):
        return
    aside = _trash_name(trash, os.path.basename(os.path.abspath(path)))
    os.rename(path, aside)
    fsync_path(os.path.dirname(os.path.abspath(path)))
    shutil.rmtree(aside, ignore_errors=True)


def sha256_file(path: PathLike) -> str:
    """The sha256 of a file's content, in hex; read a MiB at a time, so any size fits in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


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
