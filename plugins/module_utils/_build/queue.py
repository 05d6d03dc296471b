"""The repo server's side of building: what to build where, and what came of it.

Builders never touch the state DB.  Before builds, :func:`plan` turns the
pending commits (QUEUED, or RETRY within the retry budget) into jobs and
spreads them over the builders; after builds, :func:`record` claims each
built commit and records its outcome in one go, so a run that dies half way
leaves nothing stuck in BUILDING.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Union

from .._common.errors import InputError
from .._common.proc import run
from .._sources import git as srcgit
from .._statedb.db import StateDB, using
from .._statedb.schema import FAILED, FLAG_PUBLISHED, FLAG_PURGED, RETRY

# The state DB, opened by the caller (None: there is none yet, in check mode), or its path.
DBOrPath = Union[StateDB, str, "os.PathLike[str]", None]
from . import backends, deps
from .runner import BLOCKED


def _relations(mirror_dir: str, job: Mapping[str, Any]) -> deps.Relations:
    """What the job's packaging makes and needs, read from the distgit mirror at its commit."""
    mirror = srcgit.mirror_path(mirror_dir, job["distgit"])
    if not os.path.isdir(mirror):
        return deps.Relations()
    names = run(
        ["git", "--git-dir", mirror, "ls-tree", "-r", "--name-only", job["distro_hash"]], check=False
    ).stdout.split()
    relations = deps.Relations()
    for name in names:
        for kind in backends.kinds():
            if kind.is_packaging_file(name):
                text = run(["git", "--git-dir", mirror, "show", f"{job['distro_hash']}:{name}"], check=False).stdout
                found = kind.relations(text)
                relations.provides |= found.provides
                relations.build_requires |= found.build_requires
    return relations


def _order(jobs: list[dict[str, Any]], mirror_dir: str | None) -> tuple[int, list[str]]:
    """Give each job its build wave and ``needs``; returns the number of waves and any dependency cycle.

    ``needs`` names the projects of this plan the job build-depends on: when
    one of them does not build, the job is not built either (see runner.build_many).
    """
    if not mirror_dir or not jobs:
        for job in jobs:
            job["wave"] = 0
            job["needs"] = []
        return (1 if jobs else 0), []
    relations = {job["project"]: _relations(mirror_dir, job) for job in jobs}
    waves, cycle = deps.waves(relations)
    needs = deps.needs(relations)
    wave_of = {project: index for index, wave in enumerate(waves) for project in wave}
    for job in jobs:
        job["wave"] = wave_of[job["project"]]
        job["needs"] = sorted(needs[job["project"]])
    jobs.sort(key=lambda j: (j["wave"], j["commit_id"]))
    return len(waves), cycle


def plan(
    db: DBOrPath,
    release: str,
    packages: Iterable[Mapping[str, Any]],
    builders: Sequence[str],
    *,
    max_retries: int = 3,
    limit: int | None = None,
    mirror_dir: str | None = None,
) -> dict[str, Any]:
    """Jobs for the pending commits of ``release``, in build waves, assigned round-robin to ``builders``.

    With ``mirror_dir`` (the poller's git mirrors), a package that
    build-depends on another package of the distro goes in a later wave.
    """
    if not builders:
        raise InputError("builders: no host in the builders group; add one to the inventory (localhost works)")
    by_project = {p["project"]: p for p in packages}
    jobs: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    with using(db) as opened:
        for record in opened.pending(release, limit=limit) if opened is not None else []:
            pkg = by_project.get(record.project)
            if pkg is None:
                skipped.append(
                    {
                        "project": record.project,
                        "commit_hash": record.commit_hash,
                        "reason": "no longer in the package database",
                    }
                )
                continue
            if record.status == RETRY and record.retries > max_retries:
                skipped.append(
                    {
                        "project": record.project,
                        "commit_hash": record.commit_hash,
                        "reason": f"retried {record.retries} times",
                    }
                )
                continue
            jobs.append(
                {
                    "commit_id": record.id,
                    "project": record.project,
                    "name": pkg["name"],
                    "upstream": pkg["upstream"],
                    "distgit": pkg.get("distgit") or pkg["master-distgit"],
                    "commit_hash": record.commit_hash,
                    "distro_hash": record.distro_hash,
                }
            )
    waves, cycle = _order(jobs, mirror_dir)
    # round-robin inside each wave, so every wave spreads over all builders
    position: dict[int, int] = {}
    for job in jobs:
        index = position.get(job["wave"], 0)
        job["builder"] = builders[index % len(builders)]
        position[job["wave"]] = index + 1
    assignment = {builder: [j for j in jobs if j["builder"] == builder] for builder in builders}
    return {"jobs": jobs, "assignment": assignment, "skipped": skipped, "waves": waves, "cycle": cycle}


def _relocate(path: str | None, result: Mapping[str, Any], results_dir: str | None) -> str | None:
    """A builder's path as collected under ``results_dir`` (see the package_build role)."""
    if path is None or not results_dir:
        return path
    key = os.path.basename(str(result["result_dir"]))
    return os.path.join(results_dir, str(result["project"]), key, os.path.basename(path))


def record(
    db: DBOrPath,
    results: Iterable[Mapping[str, Any]],
    *,
    max_retries: int = 3,
    results_dir: str | None = None,
) -> dict[str, Any]:
    """Record each build result (from package_build) in the state DB.

    With ``results_dir``, artifact and log paths are recorded where the
    package_build role collected them, not where the builder made them.
    A BLOCKED result (not built: a build dependency did not build) records
    nothing: its commit stays queued for the next run, and is listed in
    ``blocked``.
    """
    recorded = []
    ignored = []
    blocked = []
    with using(db) as opened:
        if opened is None:
            raise InputError("db: there is no state DB to record in; poll first (distroforge.openstack.source_poll)")
        db = opened
        for result in results:
            commit_id = result.get("commit_id")
            if commit_id is None:
                who = result.get("project")
                raise InputError(f"results: the result for {who} has no commit_id (build build_queue jobs)")
            status = result["status"]
            if status == BLOCKED:
                blocked.append(
                    {
                        "commit_id": commit_id,
                        "project": result.get("project"),
                        "commit_hash": result.get("commit_hash"),
                        "blocked_by": list(result.get("blocked_by") or []),
                    }
                )
                continue
            builder = result.get("builder") or "unknown"
            if not db.claim(int(commit_id), builder):
                ignored.append(
                    {
                        "commit_id": commit_id,
                        "project": result.get("project"),
                        "reason": "not pending any more (recorded by another run)",
                    }
                )
                continue
            notes = result.get("error")
            current = db.get(int(commit_id))
            if status == RETRY and current.retries + 1 > max_retries:
                status = FAILED
                notes = f"gave up after {current.retries + 1} retries: {notes}"
            row = db.finish(
                int(commit_id),
                status,
                nvr=result.get("nvr"),
                artifacts=[str(_relocate(a, result, results_dir)) for a in result.get("artifacts") or []],
                log_url=_relocate(result.get("log"), result, results_dir),
                notes=notes,
            )
            recorded.append(row.as_dict())
        publish = to_publish(db)
    counts: dict[str, int] = {}
    for row in recorded:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return {"recorded": recorded, "ignored": ignored, "blocked": blocked, "counts": counts, "to_publish": publish}


def to_publish(db: StateDB) -> list[dict[str, Any]]:
    """Finished builds not published yet, oldest first, as repo_publish wants them.

    Taken from the DB, not from this run's results, so builds recorded by a
    run that died before publishing are published by the next one.
    """
    builds = []
    for status in ("SUCCESS", "FAILED"):
        for row in db.commits(status=status, limit=None):
            if row.flags & (FLAG_PUBLISHED | FLAG_PURGED) or not row.log_url:
                continue
            log = row.log_url
            builds.append({"commit_id": row.id, "artifacts_dir": os.path.dirname(log), "build_log": log})
    return sorted(builds, key=lambda b: b["commit_id"])
