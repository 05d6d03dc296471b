"""A label's aggregate repository with components, as DLRN's ``aggregate_repo_files(hashed_dir=True)``.

``repos/<label>/<m[0:2]>/<m[2:4]>/<md5>/`` holds the joined ``.repo``, its
``.repo.md5`` and versions.csv, named by the md5 of the ``.repo`` text; three
links in ``repos/<label>/`` lead to the current one.  A hashed directory is
content-addressed, so it is written once (staged beside its place, flushed,
renamed) and never changed; only the three links move, with the label links,
in the promotion's journal.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import List, Mapping, Optional

from .._common.files import fsync_tree, rename_into_place
from .._publish.layout import AggregateFiles, Layout, collect_aggregate, sharded
from .errors import ForbiddenLabel
from .journal import LinkMove


@dataclasses.dataclass(frozen=True)
class AggregatePlan:
    """The aggregate a label will have after a promotion, and the link moves that publish it."""

    label: str
    files: AggregateFiles
    moves: List[LinkMove]

    @property
    def digest(self) -> str:
        """The aggregate hash (md5 of the ``.repo`` text)."""
        return self.files.digest

    @property
    def rel_dir(self) -> str:
        """Its hashed directory, relative to ``repos/``."""
        return f"{self.label}/{sharded(self.digest)}"


def _current(link: Path) -> Optional[str]:
    try:
        return str(Path(link).readlink())
    except (FileNotFoundError, OSError):
        return None


def plan_aggregate(layout: Layout, label: str, file_name: str, targets: Mapping[str, Optional[Path]]) -> AggregatePlan:
    """What ``label``'s aggregate becomes when the components in ``targets`` point at those directories."""
    label_dir = layout.repos_dir / label
    if label_dir.is_symlink() or (label_dir.exists() and not label_dir.is_dir()):
        raise ForbiddenLabel(
            f"{label_dir} is not a directory but components need one for the label's aggregate:"
            " move it aside (it was made without components)"
        )
    files = collect_aggregate(layout, label, file_name, targets)
    moves = []
    # The .repo (what clients fetch first) moves last, as the publisher does.
    for name in ("versions.csv", f"{file_name}.md5", file_name):
        new = f"{sharded(files.digest)}/{name}"
        old = _current(label_dir / name)
        if old != new:
            moves.append(LinkMove(link=f"{label}/{name}", old=old, new=new))
    return AggregatePlan(label=label, files=files, moves=moves)


def write_aggregate_dir(layout: Layout, plan: AggregatePlan) -> bool:
    """Create the hashed directory of ``plan`` unless it exists; returns whether it was written."""
    final = layout.repos_dir / plan.rel_dir
    if (final / f"{plan.files.file_name}.md5").is_file():
        return False
    staged = final.with_name(f".{final.name}.staging")
    if staged.exists():
        shutil.rmtree(staged)  # left by a promotion killed mid-way
    staged.mkdir(parents=True)
    try:
        (staged / plan.files.file_name).write_text(plan.files.text, encoding="utf-8")
        (staged / f"{plan.files.file_name}.md5").write_text(plan.files.digest, encoding="utf-8")
        (staged / "versions.csv").write_text(plan.files.versions_csv, encoding="utf-8")
        fsync_tree(staged)
        rename_into_place(staged, final, layout.trash)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return True
