"""The base distribution's package versions, and the Debian epoch a new package needs to sort above them.

Our packages replace the base's (bookworm ships Zed too): apt installs ours
only when our version is higher.  A tag builds as ``[epoch:]<version>-1``
(``_versions/pbr.py``), so where the base has the same upstream version
with a higher revision (``1:9.0.0-3``), or even a newer one, only an epoch
above the base's puts ours first.  :func:`epoch_above` picks the lowest
epoch that does (the base's own when that is enough), never below the
base's: a Debian package depending on ``python3-foo (>= 1:2.0)`` stays
satisfied.
"""

from __future__ import annotations

import gzip
import lzma
import shutil
import subprocess
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Optional

from .._common.errors import InputError
from .._versions import pbr
from .._versions.vercmp import deb_vercmp

try:
    from debian import deb822
    from debian.debian_support import Version as DebianVersion
except ImportError:  # pragma: no cover - python-debian is a dependency of the collection
    deb822 = None
    DebianVersion = None  # type: ignore[assignment,misc]


_FIELDS = ("Package:", "Version:")


def _need_debian() -> None:
    if deb822 is None:  # pragma: no cover
        raise InputError("python-debian is not installed on this host; run `make` or pip install python-debian")


def _index_text(path: Path) -> str:
    """A Packages index's text: plain, ``.gz``, ``.xz``, or ``.lz4`` (apt's own lists, through lz4cat)."""
    if not path.is_file():
        raise InputError(f"base_indexes: {path} does not exist; give the base distribution's Packages index")
    suffix = path.suffix
    if suffix == ".gz":
        return gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
    if suffix == ".xz":
        return lzma.decompress(path.read_bytes()).decode("utf-8", errors="replace")
    if suffix == ".lz4":
        # Python has no lz4 in its standard library; apt's lists are lz4 and lz4cat comes with the lz4 package.
        if shutil.which("lz4cat") is None:
            raise InputError(f"base_indexes: {path} is lz4-compressed and lz4cat is missing; apt-get install lz4")
        proc = subprocess.run(["lz4cat", str(path)], capture_output=True, check=False, timeout=300)
        if proc.returncode != 0:
            raise InputError(f"base_indexes: lz4cat cannot read {path}; give a plain, .gz or .xz Packages index")
        return proc.stdout.decode("utf-8", errors="replace")
    return path.read_text(encoding="utf-8", errors="replace")


def read_indexes(paths: Iterable[Path | str]) -> dict[str, str]:
    """Package name → the highest version the base's ``Packages`` indexes offer."""
    _need_debian()
    versions: dict[str, str] = {}
    for path in paths:
        # Only the two fields are read: python-debian parses them alone (a tenth of the time on bookworm's index).
        lines = [line for line in _index_text(Path(path)).splitlines() if not line or line.startswith(_FIELDS)]
        for para in deb822.Deb822.iter_paragraphs(lines, fields=["Package", "Version"], use_apt_pkg=False):
            name, version = para.get("Package"), para.get("Version")
            if not name or not version:
                continue
            if name not in versions or deb_vercmp(version, versions[name]) > 0:
                versions[name] = version
    return versions


def epoch_of(version: str) -> Optional[int]:
    """The epoch of a Debian version (None without one)."""
    _need_debian()
    epoch = DebianVersion(version).epoch
    return int(epoch) if epoch else None


def deb_upstream(version: str) -> str:
    """A pbr version's Debian upstream part at its tag: ``9.0.0``, ``9.0.1~rc1``."""
    try:
        return pbr.SemVer.parse(version).deb_upstream("", "")
    except ValueError:
        raise InputError(f"version: {version!r} is not a pbr release version (e.g. 9.0.0 or 9.0.1.0rc1)") from None


def epoch_above(version: str, base: Optional[str]) -> Optional[int]:
    """The Debian epoch under which release ``version`` (revision 1) sorts above the base's ``base``.

    None when the base has no such package (no epoch needed) or when none
    is needed; never below the base's own epoch.
    """
    if not base:
        return None
    upstream = deb_upstream(version)
    own = epoch_of(base) or 0
    epoch = own if deb_vercmp(f"{own}:{upstream}-1", base) > 0 else own + 1
    return epoch or None


def epochs_for(names: Iterable[str], base: Mapping[str, str]) -> dict[str, int]:
    """The epochs the base gives packages ``names`` (those it has with one)."""
    return {name: epoch for name in names if (epoch := BaseEpochs(base).get(name))}


class BaseEpochs(Mapping[str, int]):
    """Package name -> the epoch the base gives it, read on demand (a base index has ~60,000 packages)."""

    def __init__(self, base: Mapping[str, str]) -> None:
        self._base = base

    def __getitem__(self, name: str) -> int:
        version = self._base[name]
        epoch = epoch_of(version)
        if not epoch:
            raise KeyError(name)
        return epoch

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._base if epoch_of(self._base[name]))

    def __len__(self) -> int:
        return sum(1 for _name in self)
