"""Purging old builds, as ``dlrn-purge --older-than N`` does, without breaking any link.

A build's directory goes when it was built more than N days ago, unless
it is the newest published successful build of its package (other
repositories link to its packages), or a label points at it (``current``,
``consistent``, promotions, ``previous-*``, component links, the component
repos of a kept aggregate), or a kept repository links to a package in
it.  The last rule is a closure, so no kept repository ever ends up with a
dangling link.

Aggregate repositories (``repos/<label>/<m[0:2]>/<m[2:4]>/<md5>/``) go
when they name a build that is purged (they could no longer be installed
from), unless a label or promotion points at them; a kept aggregate keeps
the builds it names.  Directories left empty (``xx/yy`` shards, a
component with nothing left) go too.  In check mode the plan says all of
this without touching anything.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple

from .._common.files import remove_dir_atomic
from .._statedb.db import CommitRecord, PromotionRecord, StateDB
from .._statedb.schema import FLAG_PUBLISHED, FLAG_PURGED, SUCCESS
from .atomic import exclusive_lock
from .layout import Layout

_BASEURL = re.compile(r"^baseurl=(\S+)\s*$", re.MULTILINE)
_DEB_LINE = re.compile(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", re.MULTILINE)
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_BUILD = re.compile(r"^[0-9a-f]{40}_[0-9a-f]{8}")


@dataclasses.dataclass
class PurgePlan:
    """What a purge removes and why the rest stays (paths relative to ``repos/``)."""

    removed: List[str] = dataclasses.field(default_factory=list)
    kept: Dict[str, str] = dataclasses.field(default_factory=dict)
    removed_aggregates: List[str] = dataclasses.field(default_factory=list)
    kept_aggregates: Dict[str, str] = dataclasses.field(default_factory=dict)
    removed_empty_dirs: List[str] = dataclasses.field(default_factory=list)

    @property
    def changes(self) -> bool:
        """Whether anything goes."""
        return bool(self.removed or self.removed_aggregates or self.removed_empty_dirs)

    def as_dict(self) -> Dict[str, object]:
        """Plain data for the module result."""
        return {
            "removed": sorted(self.removed),
            "kept": dict(sorted(self.kept.items())),
            "removed_aggregates": sorted(self.removed_aggregates),
            "kept_aggregates": dict(sorted(self.kept_aggregates.items())),
            "removed_empty_dirs": sorted(self.removed_empty_dirs),
        }


def _commit_dir_of(path: Path, repos_dir: Path) -> Optional[Path]:
    """The commit directory (``…/xx/yy/<hash>``) a path lies in, if any."""
    try:
        rel = path.resolve().relative_to(repos_dir.resolve())
    except ValueError:
        return None
    depth = 5 if rel.parts and rel.parts[0] == "component" else 3
    if len(rel.parts) < depth or not _BUILD.match(rel.parts[depth - 1]):
        return None
    return repos_dir.joinpath(*rel.parts[:depth])


def _aggregate_of(path: Path, repos_dir: Path) -> Optional[Path]:
    """The aggregate hashed dir (``<label>/xx/yy/<md5>``) a path lies in, if any."""
    try:
        rel = path.resolve().relative_to(repos_dir.resolve())
    except ValueError:
        return None
    parts = rel.parts
    if len(parts) >= 4 and parts[0] != "component" and _MD5.match(parts[3]):
        return repos_dir.joinpath(*parts[:4])
    return None


def _aggregates(layout: Layout) -> List[Path]:
    """Every aggregate hashed directory under ``repos/<label>/``."""
    found = []
    for path in layout.repos_dir.glob("*/??/??/*"):
        rel = path.relative_to(layout.repos_dir).parts
        if rel[0].startswith(".") or rel[0] == "component" or not _MD5.match(rel[3]):
            continue
        if path.is_dir() and not path.is_symlink():
            found.append(path)
    return sorted(found)


def _builds_named(aggregate: Path, layout: Layout) -> List[Path]:
    """The build directories an aggregate's repository file points at (ours only)."""
    prefix = layout.baseurl.rstrip("/") + "/"
    targets = []
    for name in (f"{layout.reponame}.repo", f"{layout.reponame}.list"):
        try:
            text = (aggregate / name).read_text(encoding="utf-8")
        except OSError:
            continue
        for url in _BASEURL.findall(text) + _DEB_LINE.findall(text):
            if url.startswith(prefix):
                rel = url[len(prefix) :].strip("/")
                target = _commit_dir_of(layout.repos_dir / rel, layout.repos_dir)
                if target is not None:
                    targets.append(target)
    return targets


def _links(layout: Layout) -> List[Tuple[Path, str]]:
    """Every label-like symlink: in ``repos/``, in each component dir and in each aggregate label dir."""
    repos = layout.repos_dir
    bases = [repos]
    bases += sorted(p for p in (repos / "component").glob("*") if p.is_dir() and not p.is_symlink())
    bases += sorted(
        p
        for p in repos.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".") and p.name != "component"
    )
    found = []
    for base in bases:
        for entry in sorted(base.iterdir()):
            if entry.is_symlink() and not entry.name.startswith("."):
                found.append((entry, str(entry.relative_to(repos))))
    return found


def _newest_successes(records: Iterable[CommitRecord]) -> Dict[Tuple[str, str], CommitRecord]:
    newest: Dict[Tuple[str, str], CommitRecord] = {}
    for record in records:
        if record.status != SUCCESS:
            continue
        key = (record.release, record.project)
        known = newest.get(key)
        if known is None or (record.dt_commit, record.dt_distgit or 0, record.id) > (
            known.dt_commit,
            known.dt_distgit or 0,
            known.id,
        ):
            newest[key] = record
    return newest


def _emptied(gone: Set[Path], stop: Path) -> List[Path]:
    """Directories that would hold nothing once ``gone`` is removed (deepest first)."""
    emptied: List[Path] = []
    vanished = set(gone)
    candidates = {parent for path in gone for parent in path.parents if stop in parent.parents}
    for directory in sorted(candidates, key=lambda p: len(p.parts), reverse=True):
        try:
            entries = [directory / name for name in os.listdir(directory)]
        except OSError:
            continue
        if all(entry in vanished for entry in entries):
            emptied.append(directory)
            vanished.add(directory)
    return emptied


def _keep_promoted(
    db: StateDB, layout: Layout, aggregates: List[Path], keep: Dict[Path, str], keep_aggregate: Dict[Path, str]
) -> None:
    """Where each label's newest promotion points (a build or an aggregate) stays."""
    current: Dict[str, PromotionRecord] = {}
    for promotion in db.promotions():  # newest first: the first per label is where it points now
        current.setdefault(promotion.label, promotion)
    for label, promotion in current.items():
        if promotion.aggregate:
            for aggregate in aggregates:
                if aggregate.name == promotion.ref_hash:
                    keep_aggregate.setdefault(aggregate, f"promoted as {label}")
            continue
        commit_hash, _sep, distgit = promotion.ref_hash.partition("_")
        record = db.commit(commit_hash, distgit or None)
        if record is not None:
            keep.setdefault(_build_dir(layout, record), f"promoted as {label}")


def _close_over_links(keep: Dict[Path, str], repos: Path) -> None:
    """Closure: whatever a kept repository links to stays."""
    queue = list(keep)
    while queue:
        directory = queue.pop()
        if not directory.is_dir():
            continue
        for entry in os.scandir(directory):
            if entry.is_symlink():
                target = _commit_dir_of(Path(entry.path), repos)
                if target is not None and target not in keep:
                    keep[target] = f"linked from {directory.name}"
                    queue.append(target)


def _what_stays(
    db: StateDB, layout: Layout, records: List[CommitRecord]
) -> Tuple[Dict[Path, str], Dict[Path, str], List[Path]]:
    """Builds and aggregates that must stay, with the reason; and every aggregate."""
    repos = layout.repos_dir
    keep: Dict[Path, str] = {}
    for record in _newest_successes(records).values():
        keep[_build_dir(layout, record)] = f"newest successful build of {record.project}"
    # Aggregates a label or a promotion points at stay, with the builds they name.
    aggregates = _aggregates(layout)
    keep_aggregate: Dict[Path, str] = {}
    for link, name in _links(layout):
        aggregate = _aggregate_of(link, repos)
        if aggregate is not None:
            keep_aggregate.setdefault(aggregate, f"label {name}")
            continue
        target = _commit_dir_of(link, repos)
        if target is not None:
            keep.setdefault(target, f"label {name}")
    _keep_promoted(db, layout, aggregates, keep, keep_aggregate)
    for aggregate, why in keep_aggregate.items():
        for target in _builds_named(aggregate, layout):
            keep.setdefault(target, f"aggregate {aggregate.relative_to(repos)} ({why})")
    _close_over_links(keep, repos)
    return keep, keep_aggregate, aggregates


def _build_dir(layout: Layout, record: CommitRecord) -> Path:
    return layout.commit_dir(record.commit_hash, record.distro_hash, record.component)


def plan_purge(
    db: StateDB, layout: Layout, older_than_days: int, now: Optional[int] = None
) -> Tuple[PurgePlan, List[CommitRecord]]:
    """Decide what goes; returns the plan and the commit records to flag as purged."""
    repos = layout.repos_dir
    cutoff = (now if now is not None else int(time.time())) - older_than_days * 86400
    every = db.commits(limit=None)
    records = [r for r in every if r.flags & FLAG_PUBLISHED and not r.flags & FLAG_PURGED]
    keep, keep_aggregate, aggregates = _what_stays(db, layout, records)

    plan = PurgePlan()
    purged: List[CommitRecord] = []
    going: Set[Path] = set()
    for record in records:
        path = _build_dir(layout, record)
        if (record.dt_build or 0) >= cutoff:
            continue
        if path in keep:
            plan.kept[str(path.relative_to(repos))] = keep[path]
        else:
            plan.removed.append(str(path.relative_to(repos)))
            purged.append(record)
            going.add(path)
    gone = going | {_build_dir(layout, r) for r in every if r.flags & FLAG_PURGED}
    for aggregate in aggregates:
        rel = str(aggregate.relative_to(repos))
        if aggregate in keep_aggregate:
            plan.kept_aggregates[rel] = keep_aggregate[aggregate]
        elif any(target in gone for target in _builds_named(aggregate, layout)):
            plan.removed_aggregates.append(rel)
            going.add(aggregate)
    plan.removed_empty_dirs = [str(path.relative_to(repos)) for path in _emptied(going, repos)]
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
    """Remove old builds and the aggregates that named them (under the publish lock).

    In check mode only say what would go.  Aggregates go before the builds
    they name, and each build is flagged purged in the state DB right after
    its directory went, so a purge killed half-way leaves no aggregate
    naming a missing build and a state DB that a rerun completes.
    """
    if check_mode:
        return plan_purge(db, layout, older_than_days, now)[0]
    with exclusive_lock(layout.lock, lock_timeout, f"purge {layout.repos_dir}"):
        plan, purged = plan_purge(db, layout, older_than_days, now)
        for rel in plan.removed_aggregates:
            remove_dir_atomic(layout.repos_dir / rel, layout.trash)
        for rel, record in zip(plan.removed, purged, strict=True):
            remove_dir_atomic(layout.repos_dir / rel, layout.trash)
            db.mark_purged(record.id)
        for rel in plan.removed_empty_dirs:  # deepest first
            with contextlib.suppress(OSError):  # something new landed there meanwhile: it stays
                (layout.repos_dir / rel).rmdir()
    return plan
