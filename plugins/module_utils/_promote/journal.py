"""Moving several symlinks and writing promotion rows as one unit, crash-safe.

A symlink and a DB row cannot be written in one atomic step, so a
promotion runs in this order, under the publish lock:

1. ``BEGIN IMMEDIATE``; insert the promotion rows (not visible to anyone yet);
2. write the journal ``repos/.promote.journal``: every link's old and new
   target, and the mark (the newest promotion id before step 1) that tells
   whether the rows were committed; fsync it;
3. rename each new symlink over the old one (each rename is atomic);
4. ``COMMIT`` (durable: ``synchronous=FULL``);
5. delete the journal.

An error in 1-4 rolls the DB back and puts every link back where the
journal says it was.  A crash (kill -9, power loss) is repaired by
:func:`recover`, which every promotion runs first under the lock: with a
journal left behind, the rows after the mark say whether step 4 happened —
if it did, the links are finished (some may still be old after a crash
inside step 3); if it did not, they are put back.  Either way the labels and
the DB agree again before anything else moves.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from .._common.files import fsync_path, swap_symlink, write_atomic_if_changed
from .._publish.layout import Layout
from .._statedb.db import StateDB

JOURNAL = ".promote.journal"
_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class LinkMove:
    """One symlink (relative to ``repos/``) going from ``old`` to ``new`` (None: no link)."""

    link: str
    old: Optional[str]
    new: Optional[str]


@dataclasses.dataclass(frozen=True)
class Journal:
    """What an interrupted promotion needs to be finished or undone."""

    mark: int
    moves: Tuple[LinkMove, ...]
    # (label, ref_hash) of every row the promotion writes.
    rows: Tuple[Tuple[str, str], ...]

    def dump(self) -> str:
        """The journal file's text (JSON, one document)."""
        return json.dumps(
            {
                "format": _FORMAT,
                "mark": self.mark,
                "moves": [dataclasses.asdict(move) for move in self.moves],
                "rows": [list(row) for row in self.rows],
            },
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def load(cls, text: str) -> "Journal":
        """Parse a journal written by :meth:`dump`."""
        data = json.loads(text)
        return cls(
            mark=int(data["mark"]),
            moves=tuple(LinkMove(**move) for move in data["moves"]),
            rows=tuple((str(label), str(ref)) for label, ref in data["rows"]),
        )


def journal_path(layout: Layout) -> Path:
    """Where the journal lives: a hidden file in ``repos/`` (the link renames are on that file system)."""
    return layout.repos_dir / JOURNAL


def write(layout: Layout, journal: Journal) -> None:
    """Step 2: make the journal durable before any link moves."""
    write_atomic_if_changed(journal_path(layout), journal.dump(), mode=0o644)


def clear(layout: Layout) -> None:
    """Step 5: the promotion is complete (or fully undone)."""
    path = journal_path(layout)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        fsync_path(path.parent)


def set_link(layout: Layout, rel: str, target: Optional[str]) -> None:
    """Make ``repos/<rel>`` point at ``target`` (atomically), or remove it when ``target`` is None."""
    link = layout.repos_dir / rel
    if target is None:
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
            fsync_path(link.parent)
        return
    link.parent.mkdir(parents=True, exist_ok=True)
    swap_symlink(link, target)


def apply(layout: Layout, moves: Sequence[LinkMove], done: List[LinkMove]) -> None:
    """Step 3: move each link to its new target, appending each finished move to ``done``."""
    for move in moves:
        set_link(layout, move.link, move.new)
        done.append(move)


def undo(layout: Layout, moves: Sequence[LinkMove]) -> List[str]:
    """Put links back to their old targets, last moved first; returns the links it could not restore.

    Tries every link even when one fails, so one stuck link does not leave
    the others on the new state.
    """
    stuck = []
    for move in reversed(list(moves)):
        try:
            set_link(layout, move.link, move.old)
        except OSError as exc:
            stuck.append(f"{move.link} ({exc.strerror})")
    return stuck


def _committed(db: StateDB, journal: Journal) -> bool:
    """Whether the rows the journal announces were committed (they are newer than its mark)."""
    written = {(row.label, row.ref_hash) for row in db.promotions_after(journal.mark)}
    return bool(journal.rows) and all(row in written for row in journal.rows)


def recover(db: StateDB, layout: Layout) -> Optional[str]:
    """Finish or undo a promotion interrupted by a crash; returns what was done (None: nothing to do).

    Call with the publish lock held, before planning anything.
    """
    path = journal_path(layout)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        journal = Journal.load(text)
    except (ValueError, KeyError, TypeError):
        # Written atomically, so a torn journal cannot happen; an unreadable
        # one was not written by us and says nothing about our links.
        clear(layout)
        return f"ignored an unreadable {JOURNAL}"
    if _committed(db, journal):
        for move in journal.moves:
            set_link(layout, move.link, move.new)
        verdict = f"finished an interrupted promotion ({len(journal.moves)} link(s) moved to the committed state)"
    else:
        undo(layout, journal.moves)
        verdict = f"rolled back an interrupted promotion ({len(journal.moves)} link(s) put back)"
    clear(layout)
    return verdict
