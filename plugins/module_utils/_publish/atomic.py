"""The repository lock: publishers, purges and promotions take it in turn.

The crash-safe file primitives publishing is built on (write aside and
rename, symlink swaps, directory fsync) are :mod:`.._common.files`; the lock
itself is :func:`.._common.locks.exclusive_lock`.  This module only gives
the repository lock its own error, :class:`PublishBusy`, which the REST API
also turns into its answer.
"""

from __future__ import annotations

from typing import ContextManager

from .._common.errors import DistroforgeError, InputError
from .._common.files import PathLike
from .._common.locks import exclusive_lock as _exclusive_lock


class PublishBusy(DistroforgeError):
    """Another publisher held the repository lock for longer than we may wait."""


def exclusive_lock(lock_path: PathLike, timeout: float, what: str) -> ContextManager[None]:
    """Hold the repository lock ``lock_path`` for ``what`` (a publish, purge or promotion), ``timeout`` s at most."""
    return _exclusive_lock(
        lock_path,
        timeout,
        busy=lambda: PublishBusy(
            f"{what}: another publisher held {lock_path} for more than {timeout:.0f} s:"
            " wait for it to finish or raise lock_timeout"
        ),
        cannot_open=lambda exc: InputError(
            f"{what} lock {lock_path}: cannot open: {exc.strerror}: check the directory permissions"
        ),
    )
