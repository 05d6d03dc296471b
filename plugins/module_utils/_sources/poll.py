"""Poll every package's upstream and distgit for new commits, in parallel.

Most of a poll is waiting on git servers, so packages are polled from a
thread pool; the work per package is one ``git ls-remote`` per repository
when nothing changed.  A broken or unreachable repository is reported for
its package and never stops the others.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .._common.errors import DistroforgeError
from . import git


def default_workers() -> int:
    """Threads for polling: git waits on I/O, so a few per core."""
    return min(32, (os.cpu_count() or 1) * 4)


@dataclass
class PackagePoll:
    """The outcome of polling one package."""

    project: str
    name: str
    upstream: str
    distgit: str
    source_branch: str
    distgit_branch: str
    commit_hash: str | None = None
    distro_hash: str | None = None
    changed: bool = False
    commit: git.CommitInfo | None = None
    distgit_commit: git.CommitInfo | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A flat dict for module results and the state DB."""
        out: dict[str, Any] = {
            "project": self.project,
            "name": self.name,
            "upstream": self.upstream,
            "distgit": self.distgit,
            "source_branch": self.source_branch,
            "distgit_branch": self.distgit_branch,
            "commit_hash": self.commit_hash,
            "distro_hash": self.distro_hash,
        }
        if self.commit is not None:
            out.update(commit_time=self.commit.commit_time, author=self.commit.author, subject=self.commit.subject)
        if self.distgit_commit is not None:
            out.update(
                distgit_time=self.distgit_commit.commit_time,
                distgit_author=self.distgit_commit.author,
                distgit_subject=self.distgit_commit.subject,
            )
        if self.error is not None:
            out["error"] = self.error
        return out


def _branches(pkg: Mapping[str, Any]) -> tuple[str, str]:
    return str(pkg.get("source_branch") or "master"), str(pkg.get("distgit_branch") or "rpm-master")


def _poll_one(
    pkg: Mapping[str, Any], known: tuple[str, str] | None, mirror_dir: str, timeout: float, fetch: bool
) -> PackagePoll:
    source_branch, distgit_branch = _branches(pkg)
    result = PackagePoll(
        project=pkg["project"],
        name=pkg.get("name", pkg["project"]),
        upstream=pkg.get("upstream"),
        distgit=pkg.get("distgit") or pkg.get("master-distgit"),
        source_branch=source_branch,
        distgit_branch=distgit_branch,
    )
    try:
        if not isinstance(result.upstream, str) or not isinstance(result.distgit, str):
            raise DistroforgeError(
                "upstream and distgit must each be one git URL (several upstreams are not supported)"
            )
        result.commit_hash = git.resolve(result.upstream, source_branch, timeout=timeout)
        result.distro_hash = git.resolve(result.distgit, distgit_branch, timeout=timeout)
        if known == (result.commit_hash, result.distro_hash):
            return result
        result.changed = True
        if not fetch:
            # A dry run changes nothing on disk: the details come from mirrors that have the commits already.
            result.commit = git.cached_commit_info(mirror_dir, result.upstream, result.commit_hash)
            result.distgit_commit = git.cached_commit_info(mirror_dir, result.distgit, result.distro_hash)
            return result
        mirror = git.ensure_commit(mirror_dir, result.upstream, result.commit_hash, timeout=timeout)
        result.commit = git.commit_info(mirror, result.commit_hash)
        distgit_mirror = git.ensure_commit(mirror_dir, result.distgit, result.distro_hash, timeout=timeout)
        result.distgit_commit = git.commit_info(distgit_mirror, result.distro_hash)
    except (DistroforgeError, OSError) as exc:
        result.changed = False
        result.error = str(exc)
    return result


@dataclass
class PollReport:
    """All packages' outcomes and how long the poll took."""

    packages: list[PackagePoll]
    duration: float

    @property
    def changed(self) -> list[PackagePoll]:
        return [p for p in self.packages if p.changed]

    @property
    def errors(self) -> list[PackagePoll]:
        return [p for p in self.packages if p.error]


def poll(
    packages: Iterable[Mapping[str, Any]],
    known: Mapping[str, tuple[str, str]],
    *,
    mirror_dir: str,
    workers: int | None = None,
    timeout: float = 120,
    fetch: bool = True,
) -> PollReport:
    """Poll ``packages``; ``known`` maps project → (commit_hash, distro_hash) last seen.

    Results keep the order of ``packages``.  ``fetch=False`` (check mode)
    fetches nothing into the mirrors: a new commit's time, author and
    subject are given only when its mirror has it already.
    """
    started = time.monotonic()
    pkgs = list(packages)
    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        results = list(pool.map(lambda p: _poll_one(p, known.get(p["project"]), mirror_dir, timeout, fetch), pkgs))
    return PollReport(packages=results, duration=round(time.monotonic() - started, 3))
