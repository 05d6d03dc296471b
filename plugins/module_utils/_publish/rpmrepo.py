"""RPM repository metadata through createrepo_c's Python bindings.

A commit repository holds every package of the distro (the build's own
files plus links to the newest successful build of each other package), so
each publish indexes hundreds of packages of which only one build is new.
Reading an RPM header is the expensive part; its XML chunks are cached by
the file's identity (device, inode, size, mtime): files in published
directories never change, so a cached chunk stays true.  The repomd.xml
references each data file by checksum, which is what ``check_rpm_repo``
verifies.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import gzip
import hashlib
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List, Optional

from .._common.errors import DistroforgeError, InputError
from .._common.files import sha256_file, write_atomic

try:
    import createrepo_c as cr

    HAS_CREATEREPO_C = True
except ImportError:  # pragma: no cover - exercised on hosts without the bindings
    cr = None
    HAS_CREATEREPO_C = False

_REPO_NS = "{http://linux.duke.edu/metadata/repo}"
_COMMON_NS = "{http://linux.duke.edu/metadata/common}"
_CACHE_VERSION = 1


def _require_bindings() -> None:
    if not HAS_CREATEREPO_C:
        raise InputError(
            "publishing RPM repositories needs createrepo_c's Python bindings on the repo server:"
            " pip install createrepo-c (or apt-get install python3-createrepo-c)"
        )


@dataclasses.dataclass(frozen=True)
class RpmPackage:
    """What the index knows about one package file."""

    file_name: str
    name: str
    epoch: str
    version: str
    release: str
    arch: str
    chunks: tuple  # (primary, filelists, other) XML


def _cache_key(path: Path) -> str:
    st = path.stat()
    ident = f"{_CACHE_VERSION}:{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{path.name}"
    return hashlib.sha256(ident.encode()).hexdigest()


def read_package(path: Path, cache_dir: Optional[Path]) -> RpmPackage:
    """Index one RPM (through the cache when given)."""
    key = _cache_key(path)
    cache_file = cache_dir / key[:2] / f"{key}.json" if cache_dir else None
    if cache_file is not None:
        try:
            data = json.loads(cache_file.read_text(encoding="utf-8"))
            return RpmPackage(**{**data, "chunks": tuple(data["chunks"])})
        except (OSError, ValueError, TypeError, KeyError):
            pass  # missing or damaged: read the package again
    _require_bindings()
    try:
        pkg = cr.package_from_rpm(str(path), cr.SHA256, path.name, None, 10)
    except Exception as exc:  # the bindings raise their own error types
        raise InputError(f"{path}: not a readable RPM ({exc}): remove it from the build artifacts") from exc
    package = RpmPackage(
        file_name=path.name,
        name=pkg.name,
        epoch=str(pkg.epoch or 0),
        version=pkg.version,
        release=pkg.release,
        arch=pkg.arch,
        chunks=tuple(cr.xml_dump(pkg)[:3]),
    )
    if cache_file is not None:
        _save_cached(cache_file, package)
    return package


def _save_cached(cache_file: Path, package: RpmPackage) -> None:
    # The cache is derived data: not fsynced (a torn entry is detected when
    # read and redone), and one that cannot be written (a full disk) is
    # skipped, so the publish itself goes on as long as the repository fits.
    with contextlib.suppress(OSError):
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cache_file, json.dumps(dataclasses.asdict(package)).encode("utf-8"), 0o644, durable=False)


def package_files(repo_dir: Path, include_srpm: bool) -> List[Path]:
    """The RPMs a repository indexes, by file name."""
    return sorted(
        path
        for path in repo_dir.iterdir()
        if path.name.endswith(".rpm") and (include_srpm or not path.name.endswith(".src.rpm"))
    )


def write_rpm_metadata(
    repo_dir: Path, *, cache_dir: Optional[Path], include_srpm: bool = True, revision: Optional[str] = None
) -> List[RpmPackage]:
    """Write ``repodata/`` (gzip XML, sha256) for the RPMs in ``repo_dir``; return what was indexed.

    ``repo_dir`` is a staging directory: nothing here needs to be atomic.
    """
    _require_bindings()
    packages = [read_package(path, cache_dir) for path in package_files(repo_dir, include_srpm)]
    repodata = repo_dir / "repodata"
    repodata.mkdir(exist_ok=True)
    writers = (
        ("primary", cr.PrimaryXmlFile),
        ("filelists", cr.FilelistsXmlFile),
        ("other", cr.OtherXmlFile),
    )
    repomd = cr.Repomd()
    if revision is not None:
        repomd.set_revision(revision)
    for index, (kind, cls) in enumerate(writers):
        path = repodata / f"{kind}.xml.gz"
        try:
            xml_file = cls(str(path), cr.GZ_COMPRESSION)
            xml_file.set_num_of_pkgs(len(packages))
            for package in packages:
                xml_file.add_chunk(package.chunks[index])
            xml_file.close()
            record = cr.RepomdRecord(kind, str(path))
            record.fill(cr.SHA256)
            record.rename_file()
        except Exception as exc:  # the bindings raise their own error types
            raise _write_error(exc, path) from exc
        repomd.set_record(record)
    (repodata / "repomd.xml").write_text(repomd.xml_dump(), encoding="utf-8")
    return packages


# Below this much room a failed write is taken for a full disk (see _write_error).
_NEARLY_FULL = 1 << 20


def _write_error(exc: Exception, path: Path) -> Exception:
    """createrepo_c's write errors carry no errno ("gzclose(): file operation error"): tell a full disk apart."""
    try:
        stat = os.statvfs(path.parent)
        free = (stat.f_bfree if os.geteuid() == 0 else stat.f_bavail) * stat.f_frsize
    except OSError:
        free = None
    if free is not None and free < _NEARLY_FULL:
        return OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({exc})", str(path))
    return RpmRepoError(f"{path}: createrepo_c could not write it ({exc}): check that file system")


def check_rpm_repo(repo_dir: Path, include_srpm: bool = True) -> List[str]:
    """Problems of a published RPM repository; an empty list means it validates.

    Checks that repomd.xml's data files exist with the recorded checksums,
    that primary lists exactly the RPMs present, and that each one is
    readable with the recorded size and checksum (links resolve).
    """
    problems: List[str] = []
    repomd_path = repo_dir / "repodata" / "repomd.xml"
    try:
        root = ET.parse(repomd_path).getroot()
    except (OSError, ET.ParseError) as exc:
        return [f"{repomd_path}: unreadable ({exc})"]
    hrefs: Dict[str, Path] = {}
    for data in root.findall(f"{_REPO_NS}data"):
        location = data.find(f"{_REPO_NS}location")
        checksum = data.find(f"{_REPO_NS}checksum")
        if location is None or checksum is None:
            problems.append(f"{repomd_path}: data {data.get('type')} lacks location or checksum")
            continue
        path = repo_dir / location.get("href", "")
        if not path.is_file():
            problems.append(f"{path}: listed in repomd.xml but missing")
            continue
        if sha256_file(path) != (checksum.text or "").strip():
            problems.append(f"{path}: checksum differs from repomd.xml")
        hrefs[data.get("type", "")] = path
    if "primary" not in hrefs:
        return [*problems, f"{repomd_path}: no usable primary metadata"]
    try:
        with gzip.open(hrefs["primary"]) as handle:
            primary = ET.parse(handle).getroot()
    except (OSError, ET.ParseError) as exc:
        return [*problems, f"{hrefs['primary']}: unreadable ({exc})"]
    listed = set()
    for package in primary.findall(f"{_COMMON_NS}package"):
        href = package.find(f"{_COMMON_NS}location").get("href")
        size = int(package.find(f"{_COMMON_NS}size").get("package"))
        checksum = package.find(f"{_COMMON_NS}checksum")
        digest = checksum.text if checksum is not None and checksum.get("type") == "sha256" else None
        listed.add(href)
        try:
            if (repo_dir / href).stat().st_size != size:
                problems.append(f"{repo_dir / href}: size differs from primary.xml")
            elif digest is not None and sha256_file(repo_dir / href) != digest:
                # dnf refuses such a package: it was changed after it was indexed.
                problems.append(f"{repo_dir / href}: checksum differs from primary.xml")
        except OSError:
            problems.append(f"{repo_dir / href}: listed in primary.xml but missing (dangling link?)")
    present = {path.name for path in package_files(repo_dir, include_srpm)}
    if present != listed:
        problems.append(f"{repo_dir}: packages {sorted(present ^ listed)} are not both present and indexed")
    return problems


def rpm_nvr_from_files(file_names: List[str]) -> str:
    """DLRN's Pkg NVR: the source RPM's name-version-release, or '' without one."""
    for name in file_names:
        if name.endswith(".src.rpm"):
            return name[: -len(".src.rpm")]
    return ""


class RpmRepoError(DistroforgeError):
    """A repository failed validation."""
