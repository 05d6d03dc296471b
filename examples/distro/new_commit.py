"""Add one small, deterministic commit to an example upstream repository.

Usage: ``python3 examples/distro/new_commit.py <upstream repo> [--branch stable/zed]``

The commit adds a release note (``releasenotes/notes/distroforge-example-<n>.yaml``)
on top of the branch, dated one hour after the branch's head and made by the
example identity, so the same repository always gets the same commit.  Every
branch that pointed at the old head moves with it (``master`` and
``stable/zed`` share their history in the example), and the new commit has no
tag: pbr gives it the next patch version with a ``.devN`` suffix
(``22.0.2`` → ``22.0.3.dev1``), which is what an incremental build sees.
The repository must be a bare one made by ``make_upstreams.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_upstreams import ExampleError, commit_env, git  # needs the path above

NOTE = """---
other:
  - |
    Example change {number} of distroforge's example distro, made by
    examples/distro/new_commit.py so that the repository has an untagged
    commit to build.
"""


def add_commit(repo: Path, branch: str = "stable/zed") -> str:
    """Commit a new release note on ``branch`` of the bare repository ``repo``; the new commit hash."""
    if not (repo / "HEAD").is_file() or git(repo, "rev-parse", "--is-bare-repository").strip() != "true":
        raise ExampleError(f"{repo} is not a bare git repository; give one made by make_upstreams.py")
    try:
        head = git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}").strip()
    except ExampleError:
        raise ExampleError(f"{repo} has no branch {branch!r}; give an existing one with --branch") from None
    number = int(git(repo, "rev-list", "--count", head).strip()) + 1
    head_time = int(git(repo, "log", "-1", "--format=%ct", head).strip())
    env = commit_env(head_time + 3600)
    with tempfile.TemporaryDirectory(prefix="df-new-commit-") as scratch:
        # A private index: the repository has no work tree to check out.
        index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        git(repo, "read-tree", head, env=index)
        blob = git(repo, "hash-object", "-w", "--stdin", stdin=NOTE.format(number=number)).strip()
        path = f"releasenotes/notes/distroforge-example-{number}.yaml"
        git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=index)
        tree = git(repo, "write-tree", env=index).strip()
    message = f"Add example release note {number}\n\nMade by examples/distro/new_commit.py for an incremental build.\n"
    commit = git(repo, "commit-tree", tree, "-p", head, "-m", message, env=env).strip()
    for line in git(repo, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/").splitlines():
        objectname, refname = line.split()
        if objectname == head:
            git(repo, "update-ref", refname, commit, head)
    return commit


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("repo", type=Path, help="e.g. build/example/upstream/keystone")
    parser.add_argument("--branch", default="stable/zed", help="branch to commit on (default: stable/zed)")
    args = parser.parse_args(argv)
    try:
        commit = add_commit(args.repo, args.branch)
        moved = git(args.repo, "branch", "--points-at", commit, "--format=%(refname:short)").split()
    except ExampleError as exc:
        print(f"new_commit: {exc}", file=sys.stderr)
        return 1
    print(f"{args.repo}: {commit} on {', '.join(moved)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
