"""Faults at the write layer: count the file system writes of a block of Python code, make the N-th one fail.

Also a small tmpfs to fill up for real (:func:`tmpfs`).

Every call that can need space or make a change visible is one
*operation*: opening a file for writing, ``write``/``sendfile``,
``mkdir``, ``symlink``, ``rename``/``replace`` and ``fsync``.  Counting
them in a clean run tells how many there are; running again with
``fail_at=N`` makes the N-th raise ENOSPC (what a full disk does) or kill
the process on the spot (SIGKILL just before it), so each step of a
publish is hit once, deterministically.  Writes done by C libraries
(SQLite, createrepo_c) and by other programs are not seen: the tests on a
small tmpfs cover those.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR
_TWO_PATHS = ("symlink", "rename", "replace")


class WriteFaults:
    """Counts write operations; the ``fail_at``-th one runs ``action`` instead."""

    def __init__(self, fail_at: int | None = None, action: str = "enospc") -> None:
        self.fail_at = fail_at
        self.action = action
        self.ops: list[tuple[str, str]] = []  # (operation, path or fd) in order

    def hit(self, op: str, args: tuple) -> None:
        """Record one operation; fail it when its turn has come."""
        paths = [os.fsdecode(arg) if isinstance(arg, (str, bytes, os.PathLike)) else None for arg in args[:2]]
        self.ops.append((op, (paths[-1] if op in _TWO_PATHS else paths[0]) or str(args[0])))
        if len(self.ops) != self.fail_at:
            return
        if self.action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        # As the kernel's error comes back from Python: both paths for symlink and rename.
        if op in _TWO_PATHS:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), paths[0], None, paths[1])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), paths[0])

    @contextmanager
    def installed(self) -> Iterator[WriteFaults]:
        """Patch the write calls of ``os``, ``io`` and ``builtins`` for the block."""
        real = {
            (module, name): getattr(module, name)
            for module, name in (
                (builtins, "open"),
                (io, "open"),
                (os, "open"),
                (os, "write"),
                (os, "sendfile"),
                (os, "mkdir"),
                (os, "symlink"),
                (os, "rename"),
                (os, "replace"),
                (os, "fsync"),
            )
        }

        def counted(module: object, name: str, which: Callable[..., bool]) -> Callable[..., object]:
            original = real[(module, name)]

            def wrapper(*args: object, **kwargs: object) -> object:
                if which(*args, **kwargs):
                    self.hit(name, args)
                return original(*args, **kwargs)

            return wrapper

        def writes_file(file: object, mode: str = "r", *_args: object, **_kwargs: object) -> bool:
            return any(flag in mode for flag in "wax+")

        def creates(path: object, flags: int, *_args: object, **_kwargs: object) -> bool:
            # Opening an existing file (a lock) allocates nothing; creating or truncating one may.
            return bool(flags & _WRITE_FLAGS) and (
                bool(flags & os.O_TRUNC) or (bool(flags & os.O_CREAT) and not os.path.lexists(path))
            )

        def always(*_args: object, **_kwargs: object) -> bool:
            return True

        wrappers = {key: counted(*key, which=always) for key in real}
        wrappers[(builtins, "open")] = counted(builtins, "open", writes_file)
        wrappers[(io, "open")] = counted(io, "open", writes_file)
        wrappers[(os, "open")] = counted(os, "open", creates)
        try:
            for (module, name), wrapper in wrappers.items():
                setattr(module, name, wrapper)
            yield self
        finally:
            for (module, name), original in real.items():
                setattr(module, name, original)


@contextmanager
def tmpfs(mount: Path, size: str) -> Iterator[str | None]:
    """Mount a tmpfs of ``size`` on ``mount`` for the block; yields why not when it cannot (then nothing is mounted)."""
    mount.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "distroforge-test", str(mount)],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        yield f"cannot mount a tmpfs (needs root and mount rights): {proc.stderr.strip() or proc.returncode}"
        return
    try:
        yield None
    finally:
        # gpg's agent keeps its sockets open in a GnuPG home on the file system.
        for home in mount.glob("gnupg"):
            subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False, capture_output=True)
        if subprocess.run(["umount", str(mount)], check=False, capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", str(mount)], check=False, capture_output=True)
