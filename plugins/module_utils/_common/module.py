"""``DistroforgeModule``: the one place modules meet Ansible.

A module says only what is its own (its options and its work); this class
owns what they share, as ``OpenStackModule`` does in openstack.cloud:

- the options of every module that uses the state DB (``db``,
  ``busy_timeout``, ``lock_timeout``: :data:`STATE_DB_OPTIONS`, documented
  once by the ``distroforge.openstack.state_db`` doc fragment) and opening
  the DB with them (:meth:`DistroforgeModule.state_db`), read-only in check
  mode; a password written in a ``postgresql://`` ``db`` is never logged
  nor returned;
- check and diff mode for files, as ansible-core's ``apt_repository`` does
  them: compute the desired content, diff it, write only when it differs
  and not in check mode (:meth:`DistroforgeModule.write_unless_check`);
- error translation: every expected error (the engine's
  ``DistroforgeError``, ``OSError`` such as permission denied, no space
  left or a read-only filesystem, SQLite's errors, a file that is not
  UTF-8) ends the task with one line saying what and what to do, never a
  traceback (:func:`one_line`).
"""

from __future__ import annotations

import copy
import errno
import os
import sqlite3
import stat
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

from ansible.module_utils.basic import AnsibleModule, _load_params

from .._statedb import backends
from .._statedb.db import StateDB
from .errors import DistroforgeError, InputError
from .files import read_bytes, write_atomic

# Documented by plugins/doc_fragments/state_db.py; a unit test keeps the two equal.
STATE_DB_OPTIONS: Dict[str, Dict[str, Any]] = {
    "db": {"type": "path", "required": True},
    "busy_timeout": {"type": "float", "default": 30.0},
    "lock_timeout": {"type": "float", "default": 120.0},
}

# What to do about an OSError, by errno: the second half of its one-line message.
_OS_ADVICE = {
    errno.EACCES: "check its owner and mode, or run the task as a user allowed there (become: true)",
    errno.EPERM: "the system refused the change (an immutable file, or a privilege this user lacks): "
    "check lsattr and the user running the task",
    errno.ENOSPC: "its filesystem is full: free some space there (df -h) and run again",
    errno.EDQUOT: "the disk quota is used up: free some space or raise the quota, then run again",
    errno.EROFS: "its filesystem is mounted read-only: remount it read-write or choose a path on a writable one",
    errno.ENOENT: "create it (or its directory) first, or correct the path",
    errno.ENOTDIR: "a part of the path is a file, not a directory: correct the path",
    errno.EISDIR: "it is a directory: give the path of a file",
    errno.EEXIST: "something is in the way there: move it aside",
    errno.ENOTEMPTY: "something is in the way there: move it aside",
    errno.ENAMETOOLONG: "choose a shorter path",
    errno.ELOOP: "it loops through symbolic links: correct the path",
    errno.EMFILE: "too many open files: raise the open-file limit (ulimit -n)",
    errno.ENFILE: "the system ran out of file handles: close some programs or raise fs.file-max",
    errno.EIO: "the disk reported an I/O error: check it (dmesg) before running again",
    errno.EBUSY: "a running program holds it: stop that program and run again",
    errno.ETXTBSY: "a running program holds it: stop that program and run again",
    errno.ECONNREFUSED: "check that the server is up and reachable from this host",
    errno.ETIMEDOUT: "check that the server is up and reachable from this host",
    errno.EHOSTUNREACH: "check that the server is up and reachable from this host",
    errno.ENETUNREACH: "check this host's network",
}


def _os_error_line(exc: OSError) -> str:
    advice = _OS_ADVICE.get(exc.errno or 0, "check the path and its filesystem, then run again")
    reason = exc.strerror or str(exc)
    if exc.filename is None:
        name = errno.errorcode.get(exc.errno or 0)
        return f"{reason}{f' ({name})' if name else ''}; {advice}"
    where = os.fsdecode(exc.filename)
    if getattr(exc, "filename2", None) is not None:
        where += f" -> {os.fsdecode(exc.filename2)}"
    return f"{where}: {reason}; {advice}"


def _sqlite_error_line(exc: sqlite3.Error, db: Optional[str], busy_timeout: Optional[float]) -> str:
    text = str(exc)
    lower = text.lower()
    if "locked" in lower or "busy" in lower:
        waited = f" ({busy_timeout:g} s)" if busy_timeout is not None else ""
        advice = f"another process kept it busy longer than busy_timeout{waited}: let it finish or raise busy_timeout"
    elif "readonly" in lower or "read-only" in lower:
        advice = "this user may not write the file or its directory: check their owner and mode and the filesystem"
    elif "unable to open" in lower:
        advice = "check that its directory exists and that this user may read and write there"
    elif "full" in lower:
        advice = "its filesystem is full: free some space there (df -h) and run again"
    elif "i/o" in lower:
        advice = "the disk reported an error: check it (dmesg) and its free space"
    elif "malformed" in lower or "not a database" in lower:
        advice = "the file is damaged: restore it from a backup, or move it aside to start a new one"
    else:
        advice = "check the state DB file and its filesystem"
    return f"state DB {db or '(unknown path)'}: {text}; {advice}"


def one_line(exc: BaseException, *, db: Optional[str] = None, busy_timeout: Optional[float] = None) -> Optional[str]:
    """The one-line message for an expected error, or None for an unexpected one (a bug: keep its traceback).

    ``db`` and ``busy_timeout`` (the module's options) name the state DB in SQLite's errors.
    """
    if isinstance(exc, DistroforgeError):
        return str(exc)
    if isinstance(exc, OSError):
        return _os_error_line(exc)
    if isinstance(exc, sqlite3.Error):
        return _sqlite_error_line(exc, db, busy_timeout)
    if isinstance(exc, UnicodeDecodeError):
        offending = exc.object[exc.start : exc.start + 1]
        byte = f"byte 0x{offending[0]:02x} at offset {exc.start}" if isinstance(offending, bytes) else exc.reason
        return f"a file this task reads is not UTF-8 text ({byte}); save it as UTF-8"
    return None


def _shown(data: Optional[bytes]) -> str:
    """A file's content as a diff shows it."""
    if data is None:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return f"(binary, {len(data)} bytes)\n"


class DistroforgeModule(AnsibleModule):
    """AnsibleModule with distroforge's shared options, check mode for files and error translation."""

    def __init__(self, argument_spec: Dict[str, Any], *, state_db: bool = False, **kwargs: Any) -> None:
        """``state_db=True`` adds the state DB options; the module's own spec may change one (a default)."""
        spec: Dict[str, Any] = copy.deepcopy(STATE_DB_OPTIONS) if state_db else {}
        for name, option in argument_spec.items():
            spec[name] = {**spec.get(name, {}), **option}
        hidden = _db_secrets() if state_db else []
        if hidden:
            # A URL that carries a password is a secret as a whole (AnsibleModule logs the
            # arguments before a module can say so), and the password alone wherever it shows.
            spec["db"]["no_log"] = True
        super().__init__(argument_spec=spec, **kwargs)
        self.no_log_values.update(hidden)
        self._file_diffs: List[Dict[str, Any]] = []
        if state_db:
            for option in ("busy_timeout", "lock_timeout"):
                if self.params[option] < 0:
                    self.fail_json(msg=f"{option} must be 0 or more seconds, got {self.params[option]}")

    # -- the state DB ---------------------------------------------------------------------------

    @contextmanager
    def state_db(self, *, readonly: bool = False) -> Iterator[Optional[StateDB]]:
        """The state DB named by ``db``, opened with this task's ``busy_timeout`` and ``lock_timeout``.

        In check mode it is opened read-only: nothing is created, migrated,
        locked or written, and a DB that does not exist yet is ``None`` (what
        a first run starts from).  ``readonly=True`` (modules that only
        query) reads in every mode and fails in one line when there is no DB.
        """
        path = self.params["db"]
        if self.check_mode and not readonly and not StateDB.exists(path):
            yield None
            return
        with StateDB(
            path,
            readonly=readonly or self.check_mode,
            busy_timeout=self.params["busy_timeout"],
            lock_timeout=self.params["lock_timeout"],
        ) as db:
            yield db

    # -- files ----------------------------------------------------------------------------------

    def write_unless_check(
        self,
        path: str,
        content: Union[str, bytes],
        *,
        mode: Optional[int] = None,
        option: str = "path",
        parents: bool = False,
        shown: Optional[Callable[[Optional[bytes]], str]] = None,
    ) -> bool:
        """Make the file at ``path`` hold ``content`` (and ``mode``); return whether it changed (would, in check mode).

        As ansible-core's modules do: read what is there, compare, record the
        diff (with ``--diff``; Ansible shows it when it changed), and write - aside, then renamed over -
        only when it differs and the task is not in check mode.  ``mode``
        None keeps an existing file's mode (a new one gets 0666 less the
        umask).  ``parents`` creates missing directories (not in check
        mode); without it a missing directory fails in one line naming
        ``option``, in check mode too.  ``shown`` turns the file's bytes
        (None when absent) into the diff's text: masked secrets, a key's
        fingerprints.
        """
        data = content.encode("utf-8") if isinstance(content, str) else content
        directory = os.path.dirname(os.path.abspath(path))
        if not parents and not os.path.isdir(directory):
            raise InputError(f"{option}: the directory {directory} does not exist; create it first")
        try:
            before = read_bytes(path)
        except IsADirectoryError:
            raise InputError(f"{option}: {path} is a directory; give the path of a file") from None
        current_mode = stat.S_IMODE(os.stat(path).st_mode) if before is not None else None
        content_differs = before != data
        mode_differs = mode is not None and current_mode is not None and current_mode != mode
        if self._diff:
            show = shown or _shown
            if content_differs or not mode_differs:  # an unchanged file's diff shows it the same before and after
                self._file_diffs.append(
                    {
                        "before_header": path if before is not None else f"{path} (absent)",
                        "after_header": path,
                        "before": show(before),
                        "after": show(data),
                    }
                )
            else:
                before_mode, after_mode = f"{current_mode:04o}", f"{mode:04o}"
                self._file_diffs.append(
                    {"before": {"path": path, "mode": before_mode}, "after": {"path": path, "mode": after_mode}}
                )
        if not (content_differs or mode_differs):
            return False
        if self.check_mode:
            return True
        if parents:
            os.makedirs(directory, exist_ok=True)
        if content_differs:
            if mode is None:
                mode = current_mode if current_mode is not None else 0o666 & ~_umask()
            write_atomic(path, data, mode)
        else:
            os.chmod(path, mode)  # type: ignore[arg-type]  # mode_differs implies a mode
        return True

    # -- running --------------------------------------------------------------------------------

    def run(self, work: Callable[["DistroforgeModule"], Dict[str, Any]]) -> None:
        """Call ``work(self)`` and exit with its result (and its file diffs), or fail with one line."""
        try:
            result = work(self)
        except (DistroforgeError, OSError, sqlite3.Error, UnicodeDecodeError) as exc:
            self.fail_json(**self._failure(exc))
        if self._diff and self._file_diffs and "diff" not in result:
            result["diff"] = self._file_diffs[0] if len(self._file_diffs) == 1 else self._file_diffs
        self.exit_json(**result)

    def _failure(self, exc: BaseException) -> Dict[str, Any]:
        msg = one_line(exc, db=self.params.get("db"), busy_timeout=self.params.get("busy_timeout"))
        details: Dict[str, Any] = {}
        if isinstance(exc, DistroforgeError):
            details = {k: v for k, v in exc.details.items() if k != "msg"}
        elif isinstance(exc, OSError):
            details = {"errno": errno.errorcode.get(exc.errno or 0)}
            if exc.filename is not None:
                details["path"] = os.fsdecode(exc.filename)
        return {**details, "msg": msg}


def _db_secrets() -> List[str]:
    """The passwords in the task's ``db`` (a postgresql:// URL may carry one), read before AnsibleModule logs it."""
    try:
        value = _load_params().get("db")
    except Exception:  # AnsibleModule reports arguments it cannot read, in its own words
        return []
    return backends.secrets(value) if isinstance(value, str) else []


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
