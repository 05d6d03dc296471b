"""Ask git repositories for their newest commit, and keep local mirrors.

Polling must be cheap when nothing changed: one ``git ls-remote`` per
repository and nothing else.  Only a repository whose head moved is fetched
into its local mirror (a bare repository under the cache directory), where
the commit's time, author and subject are read and where builds later take
their sources from.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import asdict, dataclass
from typing import ContextManager

from .._common.errors import CommandError, InputError
from .._common.locks import exclusive_lock
from .._common.proc import run

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
# Never let git ask for credentials or wait on a dead server forever.
GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "/bin/true",
    "SSH_ASKPASS": "/bin/true",
    "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=20",
    "LC_ALL": "C",
}


@dataclass(frozen=True)
class CommitInfo:
    """What polling records about a commit."""

    commit_hash: str
    commit_time: int
    author: str
    subject: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _git(args: list[str], *, timeout: float, what: str, cwd: str | None = None) -> str:
    return run(["git", *args], env=GIT_ENV, timeout=timeout, what=what, cwd=cwd).stdout


def resolve(url: str, ref: str, *, timeout: float = 60) -> str:
    """The commit ``ref`` (branch, tag or commit hash) points at in ``url``.

    Branches win over tags of the same name, as in git; annotated tags are
    peeled to their commit.  A full commit hash is returned as is: rdoinfo
    pins releases that are end of life that way.
    """
    if SHA_RE.match(ref):
        return ref
    out = _git(
        ["ls-remote", url, f"refs/heads/{ref}", f"refs/tags/{ref}", f"refs/tags/{ref}^{{}}"],
        timeout=timeout,
        what=f"git ls-remote {url}",
    )
    refs = {name: sha for sha, name in (line.split("\t", 1) for line in out.splitlines() if "\t" in line)}
    for name in (f"refs/heads/{ref}", f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}"):
        if name in refs:
            return refs[name]
    raise CommandError(f"git ls-remote {url}: no branch or tag '{ref}' there; fix the branch in the package database")


def mirror_path(mirror_dir: str, url: str) -> str:
    """The bare mirror of ``url`` under ``mirror_dir`` (name + hash of the URL)."""
    base = re.sub(r"[^\w.-]+", "_", url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")) or "repo"
    return os.path.join(mirror_dir, f"{base}-{hashlib.sha256(url.encode()).hexdigest()[:10]}.git")


def _has_commit(mirror: str, commit: str) -> bool:
    return run(["git", "-C", mirror, "cat-file", "-e", f"{commit}^{{commit}}"], env=GIT_ENV, check=False).rc == 0


def _mirror_lock(mirror: str) -> ContextManager[None]:
    """One writer per mirror: parallel polls and builds may share repositories (waits as long as a fetch takes)."""
    os.makedirs(os.path.dirname(mirror) or ".", exist_ok=True)
    return exclusive_lock(f"{mirror}.lock", None)


def ensure_commit(mirror_dir: str, url: str, commit: str, *, timeout: float = 600) -> str:
    """Make sure the mirror of ``url`` has ``commit``; fetch only when it does not.

    Branches and tags are fetched (tags matter: versions come from them),
    not review or pull-request refs.  Returns the mirror path.
    """
    mirror = mirror_path(mirror_dir, url)
    if os.path.isdir(mirror) and _has_commit(mirror, commit):
        return mirror
    with _mirror_lock(mirror):
        if not os.path.isdir(mirror):
            tmp = f"{mirror}.{os.getpid()}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            _git(["init", "--quiet", "--bare", tmp], timeout=60, what=f"creating the mirror of {url}")
            _git(["-C", tmp, "config", "remote.origin.url", url], timeout=60, what="git config")
            os.replace(tmp, mirror)
        elif _has_commit(mirror, commit):  # another thread fetched it while we waited
            return mirror
        # Readers do not take the mirror lock (a commit already there is used at once), so new objects must
        # appear all together: a small fetch would otherwise unpack loose objects one by one, and a build
        # could see a commit before its tree ("unable to read tree"). A kept pack shows up whole with its index.
        _git(
            [
                "-C",
                mirror,
                "-c",
                "fetch.unpackLimit=1",
                "fetch",
                "--quiet",
                "--prune",
                "--force",
                "--tags",
                url,
                "+refs/heads/*:refs/heads/*",
            ],
            timeout=timeout,
            what=f"git fetch {url}",
        )
    if not _has_commit(mirror, commit):
        raise CommandError(f"git fetch {url}: commit {commit} is not on any branch or tag there")
    return mirror


def cached_commit_info(mirror_dir: str, url: str, commit: str) -> CommitInfo | None:
    """``commit``'s details from the mirror of ``url`` if it has them already (fetches and creates nothing)."""
    mirror = mirror_path(mirror_dir, url)
    if not (os.path.isdir(mirror) and _has_commit(mirror, commit)):
        return None
    return commit_info(mirror, commit)


def commit_info(mirror: str, commit: str) -> CommitInfo:
    """Time (committer date, epoch seconds), author and subject of ``commit``."""
    out = _git(
        ["-C", mirror, "log", "-1", "--format=%H%x00%ct%x00%an <%ae>%x00%s", commit],
        timeout=60,
        what=f"git log {commit}",
    )
    fields = out.rstrip("\n").split("\x00")
    if len(fields) != 4:
        raise InputError(f"{mirror}: unexpected git log output for {commit}")
    return CommitInfo(commit_hash=fields[0], commit_time=int(fields[1]), author=fields[2], subject=fields[3])


def commits_between(mirror: str, good: str, bad: str, *, what: str = "") -> list[CommitInfo]:
    """The commits after ``good`` up to ``bad`` (included), oldest first, along ``bad``'s first parents.

    ``good`` must be an ancestor of ``bad``: a bisect between unrelated
    points (another branch, another release) is refused naming them.
    """
    label = what or mirror
    for commit in (good, bad):
        if not _has_commit(mirror, commit):
            raise InputError(f"{label}: commit {commit} is not in the repository; give a commit of its history")
    ancestor = run(["git", "-C", mirror, "merge-base", "--is-ancestor", good, bad], env=GIT_ENV, check=False)
    if ancestor.rc != 0:
        raise InputError(
            f"{label}: the good commit {good[:12]} is not an ancestor of the bad one {bad[:12]}"
            " (another branch or release?); give a good point older than the bad one on the same branch"
        )
    out = _git(
        ["-C", mirror, "log", "--reverse", "--first-parent", "--format=%H%x00%ct%x00%an <%ae>%x00%s", f"{good}..{bad}"],
        timeout=120,
        what=f"git log {good[:12]}..{bad[:12]}",
    )
    found = []
    for line in out.splitlines():
        fields = line.split("\x00")
        if len(fields) == 4:
            found.append(
                CommitInfo(commit_hash=fields[0], commit_time=int(fields[1]), author=fields[2], subject=fields[3])
            )
    return found


def mirror_with(mirror_dir: str, url: str, commit: str) -> str:
    """The existing mirror of ``url`` holding ``commit``, without fetching (check mode writes nothing)."""
    mirror = mirror_path(mirror_dir, url)
    if not (os.path.isdir(mirror) and _has_commit(mirror, commit)):
        raise InputError(
            f"{url}: commit {commit[:12]} is not in the mirror {mirror} yet, and check mode fetches nothing;"
            " run without check mode"
        )
    return mirror
