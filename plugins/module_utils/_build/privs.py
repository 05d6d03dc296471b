"""Run the build engine as the unprivileged build user.

A builder runs package_build as root (Ansible connects as root), but a
build runs code from upstream and distgit: ``setup.py``, ``debian/rules``,
spec scriptlets, and our own steps that unpack what those made.  The
sandbox (bubblewrap) already keeps that code from writing anywhere but its
build directory; running the whole engine as a dedicated user adds a second
wall around everything outside the sandbox (git, tar, unpacking, sbuild):
the worst a hostile package can touch is what the build user owns — its
work directory and caches.

The module forks; the child does what ``setpriv --reuid --regid
--init-groups`` does (supplementary groups, gid, then uid — no way back)
and runs the engine; its results come back to the parent as JSON through a
pipe.  bubblewrap needs no privilege (unprivileged user namespaces) and
sbuild's unshare mode needs the user's subuid/subgid range, which the
builder_setup role gives it.
"""

from __future__ import annotations

import json
import os
import pwd
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .._common.errors import DistroforgeError, InputError

# The build user reads git repositories other users own (the poller's
# mirrors on a repo server that also builds, local upstreams); git refuses
# those ("dubious ownership") unless its global config says otherwise.  A
# command-line setting (GIT_CONFIG_COUNT) is not enough: git drops it for
# the upload-pack of a local clone or fetch.
GIT_SAFE_CONFIG = "[safe]\n\tdirectory = *\n"


@dataclass(frozen=True)
class BuildUser:
    """Who builds: name, uid, gid, home."""

    name: str
    uid: int
    gid: int
    home: str


def lookup(name: str) -> BuildUser:
    """The build user ``name``, or an InputError telling how to create it."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise InputError(
            f"build_user: there is no user '{name}' on this builder; run the builder_setup role "
            "(it creates it) or leave build_user empty to build as the connecting user"
        ) from None
    return BuildUser(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)


def needs_switch(user: BuildUser) -> bool:
    """True when this process must switch to ``user``; InputError when it cannot."""
    if os.geteuid() == user.uid:
        return False
    if os.geteuid() != 0:
        raise InputError(
            f"build_user: switching to '{user.name}' needs root; run the task as root (become: true) or as that user"
        )
    return True


def hand_over(user: BuildUser, paths: Sequence[str]) -> None:
    """Create ``paths`` and give them (recursively, when needed) to the build user.

    Only the directories the engine writes to: results and scratch of a
    work directory a root build may have used before.
    """
    for path in paths:
        os.makedirs(path, exist_ok=True)
        if os.stat(path).st_uid == user.uid:
            continue
        for root, dirs, files in os.walk(path):
            for name in [*dirs, *files]:
                os.lchown(os.path.join(root, name), user.uid, user.gid)
        os.chown(path, user.uid, user.gid)


def git_config(path: str) -> dict[str, str]:
    """Write the build user's git config at ``path``; return the environment that uses it."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(GIT_SAFE_CONFIG)
    os.chmod(path, 0o644)
    return {"GIT_CONFIG_GLOBAL": path}


def _become(user: BuildUser, cwd: str, env: dict[str, str]) -> None:
    """Drop to ``user`` for good: groups, gid, uid (in that order), then its environment."""
    os.setgroups(os.getgrouplist(user.name, user.gid))
    os.setgid(user.gid)
    os.setuid(user.uid)
    if os.getuid() != user.uid or os.geteuid() != user.uid:  # never build as root by mistake
        raise DistroforgeError(f"could not switch to the build user {user.name}")
    os.umask(0o022)
    os.environ.update({"HOME": user.home, "USER": user.name, "LOGNAME": user.name, **env})
    os.chdir(cwd)


def run_as(user: BuildUser, work: Callable[[], Any], *, cwd: str = "/", env: dict[str, str] | None = None) -> Any:
    """``work()`` run in a child process as ``user``; its JSON-able result, or its error re-raised.

    Whatever ``work`` imports must be imported before the call: after the
    switch the child cannot read root's copy of the module's files.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        status = 0
        try:
            _become(user, cwd, env or {})
            payload = {"ok": work()}
        except DistroforgeError as exc:
            payload = {"error": str(exc), "kind": "distroforge"}
            status = 1
        except BaseException as exc:  # everything must reach the parent as one line
            payload = {"error": f"{type(exc).__name__}: {exc}", "kind": "internal", "trace": traceback.format_exc()}
            status = 1
        try:
            data = json.dumps(payload).encode()
            with os.fdopen(write_fd, "wb") as out:
                out.write(data)
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    _pid, wait_status = os.waitpid(pid, 0)
    if not data:
        raise DistroforgeError(
            f"the build process running as {user.name} died without a result (wait status {wait_status})"
        )
    payload = json.loads(data)
    if "error" in payload:
        if payload["kind"] == "internal":
            raise DistroforgeError(f"internal error in the build engine as {user.name}: {payload['error']}")
        raise DistroforgeError(payload["error"])
    return payload["ok"]
