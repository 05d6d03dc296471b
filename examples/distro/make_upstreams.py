"""Create the example distro's git repositories from PyPI sdists and our packaging.

Usage: ``python3 examples/distro/make_upstreams.py [TARGET] [--cache DIR] [--force]``

Under TARGET (default ``build/example`` in the working tree) it makes:

* ``upstream/<repo>``: a bare git repository per upstream project whose
  commits are the project's Zed releases listed in ``upstreams.json``, one
  commit per sdist, dated at its PyPI upload time and tagged with its version
  (annotated tag), on ``master`` and ``stable/zed``;
* ``distgit/<project>-distgit``: a bare git repository per package holding
  ``packaging/<project>/`` (RDO-style spec and ``debian/``) on ``zed-rdo``;
* ``rdoinfo/``: the package database of this directory (``rdo-full.yml`` and
  its imports) with ``example-root`` set to TARGET, so its ``file://`` URLs
  name the repositories just made.

Everything is deterministic: identity, dates and trees are fixed, so two runs
anywhere give the same commit hashes.  A repository that already holds these
commits (perhaps with commits on top, see ``new_commit.py``) is kept; any
other is replaced.  sdists are downloaded once into the cache
(``~/.cache/distroforge/sdists``) and checked against their sha256.
Only the standard library is used.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOP = HERE.parents[1]
PINS = HERE / "upstreams.json"
PACKAGING = HERE / "packaging"
PKGDB_FILES = ("rdo-full.yml", "rdo.yml", "tags/zed.yml")
DEFAULT_TARGET = TOP / "build" / "example"
DEFAULT_CACHE = Path.home() / ".cache" / "distroforge" / "sdists"
# The root the committed database names; the copy under TARGET names TARGET.
EXAMPLE_ROOT_LINE = re.compile(r"^(\s*example-root:\s*).*$", re.MULTILINE)

IDENTITY = ("distroforge example", "example@distroforge.invalid")
UPSTREAM_BRANCHES = ("master", "stable/zed")
DISTGIT_BRANCH = "zed-rdo"
# One fixed date for the packaging commit: after the newest release imported.
DISTGIT_DATE = "2024-04-05T00:00:00Z"
# Files pbr generates from git when it makes an sdist: a git tree has none of
# them (pbr would regenerate them, and PKG-INFO would pin the version).
GENERATED_FILES = frozenset({"PKG-INFO", "AUTHORS", "ChangeLog"})
# setuptools appends this to setup.cfg in every sdist; upstream's has none.
EGG_INFO_SECTION = re.compile(r"\n*\[egg_info\]\ntag_build = \ntag_date = 0\n*\Z")
GITIGNORE = "*.egg-info/\n*.py[co]\n__pycache__/\n.tox/\nAUTHORS\nChangeLog\nbuild/\ndist/\n"
# git must not read the user's or the system's configuration: it could sign,
# rewrite line endings or change the default branch.
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "LC_ALL": "C", "TZ": "UTC"}


class ExampleError(Exception):
    """An expected failure, reported on one line."""


@dataclass(frozen=True)
class Release:
    """One sdist on PyPI."""

    version: str
    filename: str
    sha256: str
    size: int
    upload_time: str  # ISO 8601, UTC, e.g. 2022-10-05T12:12:48Z
    url: str

    @property
    def timestamp(self) -> int:
        """Upload time in seconds since the epoch."""
        return iso_seconds(self.upload_time)


@dataclass(frozen=True)
class Upstream:
    """An upstream project and the releases that become its commits."""

    project: str  # rdoinfo project name, names the distgit
    repo: str  # upstream repository name (opendev's)
    pypi: str
    releases: tuple[Release, ...]


def iso_seconds(text: str) -> int:
    """Seconds since the epoch of an ISO 8601 UTC time such as ``2022-10-05T12:12:48Z``."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def load_pins(path: Path = PINS) -> list[Upstream]:
    """The projects and releases of ``upstreams.json``."""
    try:
        data = json.loads(path.read_text())
        return [
            Upstream(p["project"], p["repo"], p["pypi"], tuple(Release(**r) for r in p["releases"]))
            for p in data["projects"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ExampleError(f"{path}: cannot read the release list ({exc}); restore it from git") from None


def fetch_sdist(release: Release, cache: Path) -> Path:
    """The sdist of ``release`` in ``cache``, downloaded if missing, checked against its sha256."""
    target = cache / release.filename
    if target.is_file() and _sha256(target) == release.sha256:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(release.url, timeout=120) as answer:
            data = answer.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ExampleError(
            f"cannot download {release.filename} from PyPI ({reason}); check the network or put the file in {cache}"
        ) from None
    if hashlib.sha256(data).hexdigest() != release.sha256:
        raise ExampleError(f"{release.url}: sha256 differs from upstreams.json; the download is corrupt, run again")
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(data)
    partial.replace(target)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git(
    git_dir: Path,
    *args: str,
    work_tree: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> str:
    """Run git on ``git_dir`` (optionally with a work tree and input); its stdout, ExampleError on failure."""
    command = ["git", f"--git-dir={git_dir}"]
    if work_tree is not None:
        command.append(f"--work-tree={work_tree}")
    result = subprocess.run(
        [*command, *args],
        env={**os.environ, **GIT_ENV, **(env or {})},
        cwd=work_tree,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        message = (result.stderr.strip() or result.stdout.strip()).splitlines()
        reason = message[-1] if message else f"exit status {result.returncode}"
        raise ExampleError(f"git {' '.join(args[:2])} in {git_dir} failed: {reason}")
    return result.stdout


def commit_env(seconds: int) -> dict[str, str]:
    """Author, committer (and tagger) identity and date for a commit made at ``seconds``."""
    date = f"@{seconds} +0000"
    name, email = IDENTITY
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_COMMITTER_DATE": date,
    }


def init_bare(path: Path, branch: str) -> None:
    """A new bare repository at ``path`` whose HEAD names ``branch``; no hooks or templates."""
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "--bare", "--template=", f"--initial-branch={branch}")


def import_sdist(sdist: Path, tree: Path) -> str:
    """Replace ``tree``'s content by the sdist's, less what pbr generates; pbr's upstream commit id or ''."""
    for child in tree.iterdir():
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    upstream_commit = ""
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            parts = Path(member.name).parts[1:]  # drop "<name>-<version>/"
            if not parts or member.name.startswith("/") or ".." in parts:
                continue
            top = parts[0]
            if top.endswith(".egg-info"):
                if parts[-1] == "pbr.json" and member.isfile():
                    upstream_commit = json.load(archive.extractfile(member)).get("git_version", "")  # type: ignore[arg-type]
                continue
            if len(parts) == 1 and top in GENERATED_FILES:
                continue
            dest = tree.joinpath(*parts)
            if member.isdir():
                dest.mkdir(parents=True, exist_ok=True)
            elif member.issym():
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.symlink_to(member.linkname)
            elif member.isfile():
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(archive.extractfile(member).read())  # type: ignore[union-attr]
                dest.chmod(0o755 if member.mode & 0o111 else 0o644)
    setup_cfg = tree / "setup.cfg"
    if setup_cfg.is_file():
        setup_cfg.write_text(EGG_INFO_SECTION.sub("\n", setup_cfg.read_text()))
    return upstream_commit


def build_upstream(upstream: Upstream, cache: Path, git_dir: Path) -> dict[str, str]:
    """Make the bare upstream repository ``git_dir``; {version: commit hash}."""
    init_bare(git_dir, UPSTREAM_BRANCHES[0])
    commits: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="df-upstream-") as scratch:
        tree = Path(scratch)
        for release in upstream.releases:
            sdist = fetch_sdist(release, cache)
            upstream_commit = import_sdist(sdist, tree)
            (tree / ".gitignore").write_text(GITIGNORE)
            (tree / ".gitreview").write_text(
                "[gerrit]\nhost=review.opendev.org\nport=29418\n"
                f"project=openstack/{upstream.repo}.git\ndefaultbranch=stable/zed\n"
            )
            env = commit_env(release.timestamp)
            git(git_dir, "add", "--all", "--force", ".", work_tree=tree)
            origin = f"\nUpstream commit: {upstream_commit}" if upstream_commit else ""
            message = (
                f"Release {release.version}\n\n"
                f"The tree of the PyPI sdist {release.filename}\n"
                f"(sha256 {release.sha256})\n"
                f"without the files pbr generates from git: PKG-INFO, *.egg-info,\n"
                f"AUTHORS and ChangeLog.\n{origin}\n"
            )
            git(git_dir, "commit", "--quiet", "--allow-empty", "--no-verify", "-m", message, work_tree=tree, env=env)
            git(git_dir, "tag", "--annotate", "-m", f"{upstream.pypi} {release.version}", release.version, env=env)
            commits[release.version] = git(git_dir, "rev-parse", "HEAD").strip()
    head = commits[upstream.releases[-1].version]
    for branch in UPSTREAM_BRANCHES[1:]:
        git(git_dir, "branch", branch, head)
    return commits


def build_distgit(project: str, git_dir: Path, packaging: Path = PACKAGING) -> str:
    """Make the bare distgit repository ``git_dir`` from ``<packaging>/<project>``; its commit hash."""
    source = packaging / project
    if not source.is_dir():
        raise ExampleError(f"{source}: no packaging for project {project!r}; add it or fix upstreams.json")
    init_bare(git_dir, DISTGIT_BRANCH)
    with tempfile.TemporaryDirectory(prefix="df-distgit-") as scratch:
        tree = Path(scratch) / "tree"
        shutil.copytree(source, tree, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for path in tree.rglob("*"):
            if path.is_file() and not path.is_symlink():
                path.chmod(0o755 if os.access(path, os.X_OK) else 0o644)
        git(git_dir, "add", "--all", "--force", ".", work_tree=tree)
        origin = f"examples/{packaging.parent.name}/{packaging.name}"
        message = f"Packaging of {project} for Zed\n\nRDO-style spec and debian/ from {origin}.\n"
        env = commit_env(iso_seconds(DISTGIT_DATE))
        git(git_dir, "commit", "--quiet", "--no-verify", "-m", message, work_tree=tree, env=env)
    return git(git_dir, "rev-parse", "HEAD").strip()


def install_repo(built: Path, final: Path, force: bool) -> str:
    """Move the fresh repository ``built`` to ``final`` unless ``final`` already holds its history.

    Returns what happened: created, unchanged, kept (with commits on top), replaced.
    """
    if not final.exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        built.rename(final)
        return "created"
    refs = [line.split() for line in git(built, "for-each-ref", "--format=%(objectname) %(refname)").splitlines()]
    same = not force
    on_top = False
    for objectname, refname in refs if same else []:
        try:
            current = git(final, "rev-parse", "--verify", "--quiet", refname).strip()
        except ExampleError:
            same = False
            break
        if refname.startswith("refs/tags/"):
            same = current == objectname
        elif current != objectname:
            try:
                git(final, "merge-base", "--is-ancestor", objectname, current)
                on_top = True
            except ExampleError:
                same = False
        if not same:
            break
    if same:
        shutil.rmtree(built)
        return "kept (commits on top)" if on_top else "unchanged"
    shutil.rmtree(final)
    built.rename(final)
    return "replaced"


def write_pkgdb(
    target: Path, source: Path = HERE, files: tuple[str, ...] = PKGDB_FILES, texts: dict[str, str] | None = None
) -> Path:
    """Copy the package database into ``target/rdoinfo`` with ``example-root`` set to ``target``.

    ``texts`` gives the content of some of ``files`` instead of ``source``'s (a reduced database).
    """
    out = target / "rdoinfo"
    for name in files:
        text = (texts or {}).get(name) or (source / name).read_text()
        if name == "rdo.yml":
            text, count = EXAMPLE_ROOT_LINE.subn(lambda m: f"{m.group(1)}{target}", text, count=1)
            if count != 1:
                raise ExampleError(f"{source / name}: no 'example-root:' line in package-default; restore it from git")
        dest = out / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Unchanged files keep their mtime, so the pkgdb cache stays warm.
        if not dest.is_file() or dest.read_text() != text:
            dest.write_text(text)
    return out / files[0]


def make_all(
    target: Path,
    cache: Path,
    force: bool = False,
    echo: bool = True,
    *,
    upstreams: list[Upstream] | None = None,
    packaging: Path = PACKAGING,
    pkgdb: Callable[[Path], Path] = write_pkgdb,
) -> dict[str, dict[str, str]]:
    """Make every upstream and distgit repository and the database under ``target``.

    ``upstreams``, ``packaging`` and ``pkgdb`` (which writes the database)
    let another example reuse this (examples/zed-libs); the defaults are
    this directory's.  Returns ``{repository path: {ref: commit hash}}``
    for the repositories made.
    """
    target = target.resolve()
    upstreams = load_pins() if upstreams is None else upstreams
    result: dict[str, dict[str, str]] = {}
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".df-example-", dir=target) as scratch:
        for upstream in upstreams:
            built = Path(scratch) / f"upstream-{upstream.repo}"
            commits = build_upstream(upstream, cache, built)
            final = target / "upstream" / upstream.repo
            state = install_repo(built, final, force)
            result[str(final)] = commits
            newest = upstream.releases[-1].version
            head = commits[newest][:12]
            _echo(echo, f"upstream/{upstream.repo}: {len(commits)} releases, {newest} at {head}; {state}")
            built = Path(scratch) / f"distgit-{upstream.project}"
            commit = build_distgit(upstream.project, built, packaging)
            final = target / "distgit" / f"{upstream.project}-distgit"
            state = install_repo(built, final, force)
            result[str(final)] = {DISTGIT_BRANCH: commit}
            _echo(echo, f"distgit/{upstream.project}-distgit: {DISTGIT_BRANCH} at {commit[:12]}; {state}")
    entry = pkgdb(target)
    _echo(echo, f"package database: {entry}")
    return result


def _echo(enabled: bool, line: str) -> None:
    if enabled:
        print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("target", nargs="?", type=Path, default=DEFAULT_TARGET, help=f"default: {DEFAULT_TARGET}")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"sdist cache (default: {DEFAULT_CACHE})")
    parser.add_argument("--force", action="store_true", help="replace repositories even if they hold our history")
    args = parser.parse_args(argv)
    if shutil.which("git") is None:
        print("make_upstreams: git is not installed; apt-get install git", file=sys.stderr)
        return 2
    try:
        make_all(args.target, args.cache, force=args.force)
    except ExampleError as exc:
        print(f"make_upstreams: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
