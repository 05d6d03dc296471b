"""Purging old builds, as ``dlrn-purge --older-than N`` does, without breaking any link.

A build's directory goes when it was built more than N days ago, unless
it is the newest published successful build of its package (other
repositories link to its packages), or a label points at it (``current``,
``consistent``, promotions, the aggregates' component repos), or a kept
repository links to a package in it.  The last rule is a closure, so no
kept repository ever ends up with a dangling link.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .._statedb.db import CommitRecord, StateDB
from .._statedb.schema import SUCCESS
from .atomic import exclusive_lock, fsync_path
from .layout import FLAG_PUBLISHED, FLAG_PURGED, Layout

_BASEURL = re.compile(r"^baseurl=(.*)$", re.MULTILINE)


@dataclasses.dataclass
class PurgePlan:
    """What a purge removes and why the rest stays."""

    removed: List[str] = dataclasses.field(default_factory=list)
    kept: Dict[str, str] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> Dict[str, object]:
        """Plain data for the module result."""
        return {"removed": sorted(self.removed), "kept": dict(sorted(self.kept.items()))}


def _commit_dir_of(path: Path, repos_dir: Path) -> Optional[Path]:
    """The commit directory (``…/xx/yy/<hash>``) a path lies in, if any."""
    try:
        rel = path.resolve().relative_to(repos_dir.resolve())
    except ValueError:
        return None
    parts = rel.parts
    if parts and parts[0] == "component":
        return repos_dir.joinpath(*parts[:5]) if len(parts) >= 5 else None
    return repos_dir.joinpath(*parts[:3]) if len(parts) >= 3 else None


def _label_targets(layout: Layout) -> Dict[Path, str]:
    """Commit directories named by a link in ``repos/`` or a component dir, or by an aggregate .repo."""
    repos = layout.repos_dir
    bases = [repos, *sorted(p for p in (repos / "component").glob("*") if p.is_dir())]
    found: Dict[Path, str] = {}
    for base in bases:
        for entry in sorted(base.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                target = _commit_dir_of(entry, repos)
                if target is not None:
                    found.setdefault(target, f"label {entry.relative_to(repos)}")
            elif entry.is_dir() and base == repos and (entry / f"{layout.reponame}.repo").is_file():
                # An aggregate label dir: keep the component repos its .repo names.
                for url in _BASEURL.findall((entry / f"{layout.reponame}.repo").read_text(encoding="utf-8")):
                    prefix = layout.baseurl.rstrip("/") + "/"
                    if url.startswith(prefix):
                        target = _commit_dir_of(repos / url[len(prefix) :], repos)
                        if target is not None:
                            found.setdefault(target, f"aggregate {entry.name}")
    return found


def plan_purge(  # noqa: PLR0912 - the keep rules read best in one place
    db: StateDB, layout: Layout, older_than_days: int, now: Optional[int] = None
) -> Tuple[PurgePlan, List[CommitRecord]]:
    """Decide what goes; returns the plan and the commit records to flag as purged."""
    cutoff = (now if now is not None else int(time.time())) - older_than_days * 86400
    records = [r for r in db.commits(limit=None) if r.flags & FLAG_PUBLISHED and not r.flags & FLAG_PURGED]

    def commit_dir(record: CommitRecord) -> Path:
        return layout.commit_dir(record.commit_hash, record.distgit_hash, record.component)

    keep: Dict[Path, str] = {}
    newest: Dict[Tuple[str, str], CommitRecord] = {}
    for record in records:
        if record.status == SUCCESS:
            key = (record.release, record.project)
            known = newest.get(key)
            if known is None or (record.dt_commit, record.dt_distgit or 0, record.id) > (
                known.dt_commit,
                known.dt_distgit or 0,
                known.id,
            ):
                newest[key] = record
    for record in newest.values():
        keep[commit_dir(record)] = f"newest successful build of {record.project}"
    for target, why in _label_targets(layout).items():
        keep.setdefault(target, why)
    for promotion in db.promotions():
        commit_hash, _sep, distgit = promotion.ref_hash.partition("_")
        record = None if promotion.aggregate else db.commit(commit_hash, distgit or None)
        if record is not None:
            keep.setdefault(commit_dir(record), f"promoted as {promotion.label}")
    # Closure: whatever a kept repository links to stays.
    queue = list(keep)
    while queue:
        current = queue.pop()
        if not current.is_dir():
            continue
        for entry in os.scandir(current):
            if entry.is_symlink():
                target = _commit_dir_of(Path(entry.path), layout.repos_dir)
                if target is not None and target not in keep:
                    keep[target] = f"linked from {current.name}"
                    queue.append(target)
    plan = PurgePlan()
    purged: List[CommitRecord] = []
    for record in records:
        path = commit_dir(record)
        rel = str(path.relative_to(layout.repos_dir))
        if path in keep:
            if (record.dt_build or 0) < cutoff:
                plan.kept[rel] = keep[path]
            continue
        if (record.dt_build or 0) < cutoff:
            plan.removed.append(rel)
            purged.append(record)
    return plan, purged


def purge(
    db: StateDB,
    layout: Layout,
    older_than_days: int,
    *,
    check_mode: bool = False,
    lock_timeout: float = 600.0,
    now: Optional[int] = None,
) -> PurgePlan:
    """Remove old builds (under the publish lock); in check mode only say what would go."""
    if check_mode:
        return plan_purge(db, layout, older_than_days, now)[0]
    with exclusive_lock(layout.lock, lock_timeout, f"purge {layout.repos_dir}"):
        plan, purged = plan_purge(db, layout, older_than_days, now)
        layout.trash.mkdir(exist_ok=True)
        for rel, record in zip(plan.removed, purged, strict=False):
            path = layout.repos_dir / rel
            if path.is_dir():
                aside = layout.trash / f"{path.name}.purge{os.getpid()}"
                os.rename(path, aside)
                fsync_path(path.parent)
                shutil.rmtree(aside, ignore_errors=True)
            with db.writer() as conn:
                conn.execute("UPDATE commits SET flags = flags | ? WHERE id = ?", (FLAG_PURGED, record.id))
    return plan
