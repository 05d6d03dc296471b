"""Poll packages and record what is new in the state DB: source_poll's engine."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .._common.errors import InputError
from .._statedb.db import NewCommit, StateDB, using
from .poll import poll


def _check_packages(packages: list[Any]) -> None:
    for index, pkg in enumerate(packages):
        if not isinstance(pkg, Mapping) or not pkg.get("project"):
            raise InputError(f"packages[{index}]: each package needs 'project' (pass pkgdb_info's packages)")
        if not pkg.get("upstream"):
            raise InputError(f"packages[{index}] ({pkg['project']}): missing 'upstream' (pass pkgdb_info's packages)")
        if not (pkg.get("distgit") or pkg.get("master-distgit")):
            raise InputError(f"packages[{index}] ({pkg['project']}): missing 'distgit' (pass pkgdb_info's packages)")


def poll_and_queue(
    packages: Iterable[Mapping[str, Any]],
    *,
    release: str,
    mirror_dir: str,
    db_path: str | None = None,
    db: StateDB | None = None,
    workers: int | None = None,
    timeout: float = 120,
    record: bool = True,
) -> dict[str, Any]:
    """Poll ``packages`` against the state DB (``db``, or opened from ``db_path``); queue new commits when ``record``.

    ``record=False`` is a dry run (check mode): it writes nothing, fetches
    nothing into the mirrors and takes ``db`` None for a DB not made yet.
    Returns a module result: ``changed`` is true when new commits were found.
    """
    pkgs = list(packages)
    _check_packages(pkgs)
    with using(db if db is not None else db_path) as opened:
        if opened is None and record:
            raise InputError("db: give the state DB to record new commits in")
        heads = opened.heads(release) if opened is not None else {}
        known = {project: (rec.commit_hash, rec.distro_hash) for project, rec in heads.items()}
        report = poll(pkgs, known, mirror_dir=mirror_dir, workers=workers, timeout=timeout, fetch=record)
        new_commits = [p.as_dict() for p in report.changed]
        components = {pkg["project"]: pkg.get("component") for pkg in pkgs}
        if record and opened is not None and report.changed:
            queued = opened.queue(
                NewCommit(
                    project=p.project,
                    release=release,
                    commit_hash=p.commit_hash,
                    distro_hash=p.distro_hash,
                    dt_commit=p.commit.commit_time,
                    commit_branch=p.source_branch,
                    distgit_branch=p.distgit_branch,
                    dt_distgit=p.distgit_commit.commit_time,
                    author=p.commit.author,
                    subject=p.commit.subject,
                    component=components.get(p.project),
                )
                for p in report.changed
            )
            ids = {(c.project, c.commit_hash, c.distro_hash): c.id for c in queued}
            for row in new_commits:
                row["queued_id"] = ids.get((row["project"], row["commit_hash"], row["distro_hash"]))
        # What is left to do after this poll: a run with neither has nothing to plan, record or publish.
        pending = len(opened.pending(release)) if opened is not None else 0
        unpublished = opened.unpublished_count() if opened is not None else 0
        if not record:  # a dry run queued nothing: what it found would be pending
            pending += len(new_commits)
    return {
        "changed": bool(new_commits),
        "new_commits": new_commits,
        "errors": [{"project": p.project, "error": p.error} for p in report.errors],
        "polled": len(report.packages),
        "unchanged": len(report.packages) - len(new_commits) - len(report.errors),
        "duration": report.duration,
        "pending": pending,
        "unpublished": unpublished,
    }
