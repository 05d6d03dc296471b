"""The repository of one test-bisect state: the good repository with the changed packages replaced.

A test bisect keeps one deployed node and moves it between states; each
state is served as a repository of its own, signed with the repository key,
made by the release stages' publisher (``_release.stages.publish_files``)
from a list of package files:

* every package of the good repository (its own build and the links to the
  newest build of every other package, as the build publisher laid it out),
* except the files of the packages the state changes (those living in the
  good state's build directory of that package),
* plus the packages built for the state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence

from .._common.errors import InputError
from .._release import stages
from .._statedb.db import StateDB
from .bisect import Bisect, find_build

PACKAGE_SUFFIXES = (".deb", ".udeb", ".rpm")


@dataclass
class StateRepo:
    """One published state repository."""

    index: int
    rel: str  # under repos/: what repo_configure takes as its label
    path: str
    url: str
    snapshot: str
    package_format: str
    packages: List[str]
    replaced: List[str]  # the projects whose packages the state brings
    key_fingerprint: str
    changed: bool

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _packages(directory: Path) -> List[Path]:
    return sorted(path for path in directory.iterdir() if path.name.endswith(PACKAGE_SUFFIXES))


def state_files(db: StateDB, repos_dir: Path, bisect: Bisect, index: int, built: Sequence[str]) -> List[Path]:
    """The package files of state ``index``: the good repository's, those of the changed packages replaced."""
    changed = bisect.changed(index)
    new = [Path(name) for name in built if str(name).endswith(PACKAGE_SUFFIXES)]
    if changed and not new:
        raise InputError(
            f"artifacts: state {index} changes {', '.join(sorted(changed))} but no built package was given;"
            " give the package_build results' artifacts of the state's jobs"
        )
    missing = [str(path) for path in new if not path.is_file()]
    if missing:
        raise InputError(f"artifacts: {missing[0]} does not exist; build the state's jobs again")
    good = find_build(db, bisect.good_repo_hash, "good")
    good_dir = Path(repos_dir) / good.repo_path
    if not good_dir.is_dir():
        raise InputError(
            f"good: the repository {good_dir} is not there (purged?); publish it again or bisect from a newer"
            " good point"
        )
    dropped = set()
    for project in changed:
        hashes = bisect.good.get(project)
        if not hashes:  # a package added after the good point: nothing to take out
            continue
        record = db.commit(hashes["commit_hash"], hashes["distro_hash"], release=bisect.release)
        if record is not None:
            dropped.add((Path(repos_dir) / record.repo_path).resolve())
    new_names = {path.name for path in new}
    kept = [
        path.resolve()
        for path in _packages(good_dir)
        if path.resolve().parent not in dropped and path.name not in new_names
    ]
    return kept + sorted(path.resolve() for path in new)


def publish_state(
    db: StateDB,
    bisect: Bisect,
    index: int,
    built: Sequence[str],
    *,
    rel: str,
    options: stages.PublishOptions,
    check: bool = False,
) -> StateRepo:
    """Publish state ``index`` at ``<repos_dir>/<rel>``, signed with the repository key (made if there is none)."""
    files = state_files(db, Path(options.repos_dir), bisect, index, built)
    if not files:
        raise InputError(f"good: the repository of {bisect.good_repo_hash} holds no package; nothing to publish")
    link, name, fmt, changed = stages.publish_files(files, rel, f"bisect-{index}", options, check=check)
    # gpg touches its home even to read a key: in check mode the fingerprint stays unknown.
    fingerprint = "" if check else stages.key_fingerprint(options)
    return StateRepo(
        index=index,
        rel=rel,
        path=str(link),
        url=options.url(rel),
        snapshot=name,
        package_format=fmt,
        packages=sorted(path.name for path in files),
        replaced=sorted(bisect.changed(index)),
        key_fingerprint=fingerprint,
        changed=changed,
    )
