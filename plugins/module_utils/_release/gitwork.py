"""The git side of a bump: an upstream's tags and files at a tag, a distgit worked on in a scratch clone.

Everything happens in scratch repositories the caller owns (a temporary
directory): the upstream and the distgit are only read (``ls-remote``,
``fetch``, ``clone``) and, once a bump is decided, the distgit gets one
new branch by ``git push <url> <commit>:refs/heads/<new branch>`` with a lease on the
branch being absent: a branch is created, never moved.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._common.errors import CommandError, InputError
from .._common.proc import run

# git must not read the user's or the system's configuration (signing, hooks,
# templates, line endings) nor ask for credentials.
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "/bin/true",
    "SSH_ASKPASS": "/bin/true",
    "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=20",
    "LC_ALL": "C",
    "TZ": "UTC",
}
TIMEOUT = 600


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, what: str = "") -> str:
    """Run git; its stdout, CommandError with git's telling line on failure."""
    return run(
        ["git", *args], env={**GIT_ENV, **(env or {})}, cwd=cwd, timeout=TIMEOUT, what=what or f"git {args[0]}"
    ).stdout


def git_ok(*args: str, cwd: Path | None = None) -> bool:
    """Whether a git command succeeds (for questions such as ``merge-base --is-ancestor``)."""
    return run(["git", *args], env=GIT_ENV, cwd=cwd, timeout=TIMEOUT, check=False).rc == 0


def remote_refs(url: str, *patterns: str) -> dict[str, str]:
    """``{ref name: object}`` of ``url`` (``ls-remote``); annotated tags also appear peeled, as ``<tag>^{}``."""
    out = git("ls-remote", url, *patterns, what=f"git ls-remote {url}")
    return {name: sha for sha, name in (line.split("\t", 1) for line in out.splitlines() if "\t" in line)}


def local_git_dir(url: str) -> Path | None:
    """The git directory of a repository on this host (a path or ``file://`` URL), else None."""
    path = url[len("file://") :] if url.startswith("file://") else url if url.startswith("/") else ""
    if not path or not Path(path).is_dir():
        return None
    out = run(["git", "-C", path, "rev-parse", "--absolute-git-dir"], env=GIT_ENV, timeout=60, check=False)
    return Path(out.stdout.strip()) if out.rc == 0 and out.stdout.strip() else None


class Upstream:
    """An upstream repository's tags and files at a tag.

    A repository on this host is read in place (read-only git commands);
    any other is fetched into a scratch bare repository, only what is asked.
    """

    def __init__(self, url: str, scratch: Path) -> None:
        self.url = url
        local = local_git_dir(url)
        self.local = local is not None
        self.repo = local if local is not None else scratch / "upstream.git"
        if not self.repo.exists():
            git("init", "--quiet", "--bare", "--template=", str(self.repo))
        self._tags: dict[str, str] | None = None

    def tags(self) -> dict[str, str]:
        """Tag name → commit it names (annotated tags peeled)."""
        if self._tags is None:
            refs = remote_refs(self.url, "refs/tags/*")
            tags = {name[len("refs/tags/") :]: sha for name, sha in refs.items() if not name.endswith("^{}")}
            for name, sha in refs.items():
                if name.endswith("^{}"):
                    tags[name[len("refs/tags/") : -3]] = sha
            self._tags = tags
        return self._tags

    def fetch_tags(self, *names: str) -> None:
        """Fetch ``names`` (tags of the upstream) with their commits, not their history."""
        if self.local:
            return
        specs = [f"+refs/tags/{name}:refs/tags/{name}" for name in names]
        git("fetch", "--quiet", "--no-tags", "--depth=1", self.url, *specs, cwd=self.repo, what=f"git fetch {self.url}")

    def tags_on_branch(self, branch: str) -> set[str]:
        """Tags reachable from ``branch`` (what that branch released)."""
        if self.local:
            if not git_ok("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", cwd=self.repo):
                raise InputError(f"{self.url}: no branch {branch}; fix source_branch in the package database")
            return set(git("tag", "--merged", f"refs/heads/{branch}", cwd=self.repo).split())
        git(
            "fetch", "--quiet", "--tags", self.url, f"+refs/heads/{branch}:refs/heads/{branch}",
            cwd=self.repo, what=f"git fetch {self.url} {branch}",
        )  # fmt: skip
        return set(git("tag", "--merged", f"refs/heads/{branch}", cwd=self.repo).split())

    def tag_time(self, name: str) -> int:
        """When the tag was made (the tagger's date; a lightweight tag's commit date), epoch seconds."""
        out = git("for-each-ref", "--format=%(creatordate:unix)", f"refs/tags/{name}", cwd=self.repo).strip()
        if not out:
            raise InputError(f"{self.url}: tag {name} was not fetched")
        return int(out.splitlines()[0])

    def file_at(self, tag: str, path: str) -> str | None:
        """``path``'s text at ``tag``, None when the tag has no such file."""
        spec = f"refs/tags/{tag}^{{commit}}:{path}"
        if not git_ok("cat-file", "-e", spec, cwd=self.repo):
            return None
        return git("cat-file", "blob", spec, cwd=self.repo)


class Distgit:
    """A scratch clone of one distgit branch, to read and to commit in; the distgit itself is only pushed to."""

    def __init__(self, url: str, branch: str, scratch: Path) -> None:
        self.url = url
        self.branch = branch
        self.tree = scratch / "distgit"
        if remote_refs(url, f"refs/heads/{branch}").get(f"refs/heads/{branch}") is None:
            raise InputError(f"{url}: no branch {branch}; fix distgit_branch (or the release's branch) in the database")
        git(
            # --no-hardlinks: git freshens (touches) an object it writes again; a hard-linked
            # object file is the distgit's own.
            "clone", "--quiet", "--no-hardlinks", "--no-tags", "--single-branch", "--branch", branch, url,
            str(self.tree),
            what=f"git clone {url}",
        )  # fmt: skip
        self.head = self.rev("HEAD")

    def rev(self, ref: str) -> str:
        """The commit ``ref`` names in the clone."""
        return git("rev-parse", "--verify", f"{ref}^{{commit}}", cwd=self.tree).strip()

    def remote_branch(self, name: str) -> str | None:
        """The commit branch ``name`` of the distgit points at, None when there is no such branch."""
        return remote_refs(self.url, f"refs/heads/{name}").get(f"refs/heads/{name}")

    def fetch_branch(self, name: str) -> str:
        """Fetch the distgit's branch ``name`` into the clone (as ``refs/remotes/bump/<name>``); its commit."""
        git("fetch", "--quiet", "--no-tags", self.url, f"+refs/heads/{name}:refs/remotes/bump/{name}", cwd=self.tree)
        return self.rev(f"refs/remotes/bump/{name}")

    def checkout(self, commit: str) -> None:
        """Make the work tree ``commit``'s (detached)."""
        git("checkout", "--quiet", "--detach", commit, cwd=self.tree)

    def commit(self, paths: list[str], message: str, *, author: tuple[str, str], when: int) -> str:
        """Commit ``paths`` (as they are in the work tree) with a fixed identity and date; the new commit."""
        name, email = author
        env = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
            "GIT_AUTHOR_DATE": f"@{when} +0000",
            "GIT_COMMITTER_DATE": f"@{when} +0000",
        }
        git("add", "--", *paths, cwd=self.tree)
        git("commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m", message, cwd=self.tree, env=env)
        return self.rev("HEAD")

    def tree_of(self, commit: str) -> str:
        """The tree object of ``commit``."""
        return git("rev-parse", f"{commit}^{{tree}}", cwd=self.tree).strip()

    def is_ancestor(self, ancestor: str, commit: str) -> bool:
        """Whether ``ancestor`` is ``commit`` or one of its ancestors."""
        return git_ok("merge-base", "--is-ancestor", ancestor, commit, cwd=self.tree)

    def push_new_branch(self, commit: str, name: str) -> None:
        """Create branch ``name`` at ``commit`` in the distgit; fails (never overwrites) if it appeared meanwhile."""
        try:
            # A lease on "absent": git creates the branch or refuses, it never moves one.
            git(
                "push", "--quiet", "--no-verify", f"--force-with-lease=refs/heads/{name}:", self.url,
                f"{commit}:refs/heads/{name}", cwd=self.tree,
            )  # fmt: skip
        except CommandError as exc:
            why = f"could not create branch {name} ({exc}); check that you may push there"
            raise CommandError(f"{self.url}: {why}") from None
