"""The one lock primitive of the engine: an exclusive ``flock`` on a lock file, waited for a bounded time.

``flock`` and not a lock file's existence: the kernel drops the lock when
its holder dies, even by SIGKILL or a power loss, so a killed task never
leaves a stale lock for a person to remove.  The file descriptor is not
inherited by the commands a holder runs (Python opens it close-on-exec), so
a long-lived child (gpg-agent, a build) cannot keep the lock after us.

Waiting polls a non-blocking ``flock`` rather than blocking in it: the
wait is bounded without signals or threads, and the holders this engine
has (state DB writers, publishers, git fetches) either hold it for
milliseconds or for minutes, where a few milliseconds of polling delay
do not matter.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Union

from .errors import DistroforgeError

PathLike = Union[str, "os.PathLike[str]"]

_POLL = 0.005


class LockBusy(DistroforgeError):
    """Another process held a lock for longer than we may wait."""


@contextmanager
def exclusive_lock(
    lock_path: PathLike,
    timeout: Optional[float],
    *,
    busy: Optional[Callable[[], BaseException]] = None,
    cannot_open: Optional[Callable[[OSError], BaseException]] = None,
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created 0644 when missing) for the block.

    ``timeout`` seconds at most are waited (``None``: as long as it takes);
    then the exception ``busy()`` returns is raised (by default a
    :class:`LockBusy` naming the file).  An ``OSError`` opening the file
    goes through ``cannot_open`` when given, so callers name the lock in
    their own words.
    """
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if cannot_open is None:
            raise
        raise cannot_open(exc) from exc
    try:
        if timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        if busy is None:
                            raise LockBusy(
                                f"another process held the lock {os.fspath(lock_path)} for more than {timeout:.0f} s:"
                                " wait for it to finish or find the stuck process"
                            ) from None
                        raise busy() from None
                    time.sleep(_POLL)
        yield
    finally:
        # Closing the descriptor releases the lock.
        os.close(fd)
