"""Finding the build or aggregate a vote or a promotion names, or saying exactly why not."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import List, Optional

from .._publish.layout import Layout, sharded
from .._statedb.db import CommitRecord, StateDB
from .._statedb.schema import FLAG_PURGED, SUCCESS
from .errors import InvalidRequest, PurgedHash, UnknownHash

_HEX = re.compile(r"^[0-9a-f]+$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
# DLRN's repository names carry 8 characters of the distro hash; fewer could name several builds.
MIN_DISTRO_PREFIX = 8


def _hash_field(value: object, name: str, minimum: int = 1) -> str:
    if not isinstance(value, str) or not _HEX.match(value) or len(value) < minimum:
        raise InvalidRequest(
            f"{name} must be a lowercase hexadecimal hash of at least {minimum} characters, got {value!r}"
        )
    return value


def no_extended_hash(extended_hash: Optional[str]) -> bool:
    """Whether ``extended_hash`` says "none" (our builds have no extended commit, as DLRN's rdoinfo driver)."""
    return extended_hash in (None, "", "None")


def find_build(
    db: StateDB,
    commit_hash: object,
    distro_hash: object,
    extended_hash: Optional[str] = None,
    *,
    layout: Optional[Layout] = None,
) -> CommitRecord:
    """The newest successful build of ``commit_hash`` + ``distro_hash`` (full, or its first 8+ characters).

    Raises UnknownHash (DLRN's 400) when there is no such successful build
    (or, given ``layout``, it is not published) and PurgedHash (410) when it
    was purged.  As in DLRN, a given ``extended_hash`` must match the
    build's, and ours have none.
    """
    commit = _hash_field(commit_hash, "commit_hash", 7)
    distro = _hash_field(distro_hash, "distro_hash", MIN_DISTRO_PREFIX)
    name = f"{commit}_{distro[:MIN_DISTRO_PREFIX]}"
    if not no_extended_hash(extended_hash):
        raise UnknownHash(
            f"commit_hash+distro_hash+extended_hash {name}_{extended_hash} not found: builds from the package"
            " database have no extended hash; leave extended_hash out"
        )
    records = db.commits(commit_hash=commit, distro_hash=distro, limit=None)
    if not records:
        raise UnknownHash(
            f"commit_hash+distro_hash {name} not found in the state DB {db.name}: give the hashes of a built commit"
        )
    successful = [record for record in records if record.status == SUCCESS]
    if not successful:
        raise UnknownHash(
            f"commit_hash+distro_hash {name}: its build is {records[0].status}, only successful builds get votes"
            " and labels"
        )
    record = successful[0]  # newest recorded first, as DLRN's order_by(desc(Commit.id))
    if record.flags & FLAG_PURGED:
        raise PurgedHash(f"build {record.repo_hash} ({record.project}) has been purged: use a newer build")
    if layout is not None and not build_dir(layout, record).is_dir():
        raise UnknownHash(
            f"build {record.repo_hash} ({record.project}) is not published (no {build_dir(layout, record)}):"
            " publish it first (distroforge.openstack.repo_publish)"
        )
    return record


def build_dir(layout: Layout, record: CommitRecord) -> Path:
    """A build's published directory."""
    return layout.commit_dir(record.commit_hash, record.distro_hash, record.component)


def find_record(db: StateDB, repo_hash: Optional[str]) -> Optional[CommitRecord]:
    """The newest record of a ``<commit>_<distgit8>`` repository name, successful ones first (None if unknown)."""
    if not repo_hash:
        return None
    commit, _sep, distro = repo_hash.partition("_")
    records = db.commits(commit_hash=commit, distro_hash=distro or None, limit=None)
    records.sort(key=lambda record: record.status != SUCCESS)  # stable: newest successful first
    return records[0] if records else None


@dataclasses.dataclass(frozen=True)
class AggregateRef:
    """An aggregate hash and the directories holding it (one per label that had it)."""

    aggregate_hash: str
    dirs: List[Path]
    promoted: bool


def aggregate_dirs(layout: Layout, aggregate_hash: str) -> List[Path]:
    """Every ``repos/<label>/xx/yy/<md5>/`` of this aggregate hash."""
    found = []
    for path in sorted(layout.repos_dir.glob(f"*/{sharded(aggregate_hash)}")):
        rel = path.relative_to(layout.repos_dir).parts
        if not rel[0].startswith(".") and rel[0] != "component" and path.is_dir():
            found.append(path)
    return found


def find_aggregate(db: StateDB, aggregate_hash: object, layout: Optional[Layout] = None) -> AggregateRef:
    """The aggregate named by ``aggregate_hash``, known from a promotion (DLRN's rule) or, given ``layout``, on disk.

    Raises UnknownHash (400) for an aggregate never promoted nor published
    and PurgedHash (410) when, given ``layout``, its directories are gone.
    """
    if not isinstance(aggregate_hash, str) or not _MD5.match(aggregate_hash):
        raise InvalidRequest(f"aggregate_hash must be an md5 (32 lowercase hex digits), got {aggregate_hash!r}")
    promoted = bool(db.promotions(aggregate_hash=aggregate_hash, limit=1))
    dirs = aggregate_dirs(layout, aggregate_hash) if layout is not None else []
    if not promoted and not dirs:
        raise UnknownHash(
            f"aggregate_hash {aggregate_hash} not found: no promotion produced it and no label directory holds it"
        )
    if layout is not None and not dirs:
        raise PurgedHash(f"aggregate {aggregate_hash} has been purged (no repos/<label>/{sharded(aggregate_hash)}/)")
    return AggregateRef(aggregate_hash=aggregate_hash, dirs=dirs, promoted=promoted)
