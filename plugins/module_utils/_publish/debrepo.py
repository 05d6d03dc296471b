"""Flat Debian repositories (``deb <url> ./``): Packages, Packages.gz, Release, InRelease.

``apt-ftparchive`` reads the ``.deb`` control data (following the links to
other builds' packages) and writes the Release hashes; signing adds
``InRelease`` and ``Release.gpg`` (see :mod:`.signing`).  ``check_deb_repo``
verifies the chain apt verifies: Release hashes → Packages → each .deb.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Dict, List, Optional

from .._common.files import sha256_file
from .._common.proc import run

PACKAGE_SUFFIXES = (".deb", ".udeb")


def package_files(repo_dir: Path) -> List[Path]:
    """The binary packages a repository indexes, by file name."""
    return sorted(path for path in repo_dir.iterdir() if path.name.endswith(PACKAGE_SUFFIXES))


def write_deb_metadata(repo_dir: Path, *, origin: str, label: str, suite: str) -> None:
    """Write Packages, Packages.gz and an unsigned Release into the staging directory ``repo_dir``."""
    packages = run(
        ["apt-ftparchive", "packages", "."],
        cwd=repo_dir,
        timeout=600,
        what=f"apt-ftparchive packages in {repo_dir}",
    ).stdout
    (repo_dir / "Packages").write_text(packages, encoding="utf-8")
    # mtime=0 and no name in the header: the same Packages gives the same .gz.
    with (
        (repo_dir / "Packages.gz").open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as handle,
    ):
        handle.write(packages.encode("utf-8"))
    release = run(
        [
            "apt-ftparchive",
            "-o",
            f"APT::FTPArchive::Release::Origin={origin}",
            "-o",
            f"APT::FTPArchive::Release::Label={label}",
            "-o",
            f"APT::FTPArchive::Release::Suite={suite}",
            "-o",
            "APT::FTPArchive::Release::Architectures=all amd64 arm64",
            "release",
            ".",
        ],
        cwd=repo_dir,
        timeout=120,
        what=f"apt-ftparchive release in {repo_dir}",
    ).stdout
    (repo_dir / "Release").write_text(release, encoding="utf-8")


def _parse_stanzas(text: str) -> List[Dict[str, str]]:
    stanzas: List[Dict[str, str]] = []
    current: Dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
                current = {}
            continue
        if line[0].isspace() and key:
            current[key] += "\n" + line.strip()
            continue
        key, _sep, value = line.partition(":")
        current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def release_hashes(release_text: str) -> Dict[str, tuple]:
    """``{file: (size, sha256)}`` from a Release file's SHA256 section."""
    stanza = _parse_stanzas(release_text)[0] if release_text.strip() else {}
    result = {}
    for line in stanza.get("SHA256", "").splitlines():
        parts = line.split()
        if len(parts) == 3:
            result[parts[2]] = (int(parts[1]), parts[0])
    return result


def check_deb_repo(repo_dir: Path, release_text: Optional[str] = None) -> List[str]:
    """Problems of a published flat repository; an empty list means it validates."""
    problems: List[str] = []
    try:
        text = release_text if release_text is not None else (repo_dir / "Release").read_text(encoding="utf-8")
    except OSError as exc:
        return [f"{repo_dir / 'Release'}: unreadable ({exc.strerror})"]
    hashes = release_hashes(text)
    if "Packages" not in hashes:
        return [f"{repo_dir / 'Release'}: does not list Packages"]
    for name, (size, digest) in hashes.items():
        path = repo_dir / name
        if not path.is_file() or path.stat().st_size != size or sha256_file(path) != digest:
            problems.append(f"{path}: differs from Release")
    stanzas = _parse_stanzas((repo_dir / "Packages").read_text(encoding="utf-8"))
    listed = set()
    for stanza in stanzas:
        file_name = stanza.get("Filename", "").removeprefix("./")
        listed.add(file_name)
        path = repo_dir / file_name
        try:
            if path.stat().st_size != int(stanza.get("Size", "-1")) or sha256_file(path) != stanza.get("SHA256"):
                problems.append(f"{path}: differs from Packages")
        except OSError:
            problems.append(f"{path}: listed in Packages but missing (dangling link?)")
    present = {path.name for path in package_files(repo_dir)}
    if present != listed:
        problems.append(f"{repo_dir}: packages {sorted(present ^ listed)} are not both present and indexed")
    return problems


def deb_nvr(file_names: List[str], fallback: Optional[str]) -> str:
    """Name_version of the build for versions.csv: the record's NVR, else the first .deb's name."""
    if fallback:
        return fallback
    for name in sorted(file_names):
        if name.endswith(".deb"):
            return name.rsplit("_", 1)[0]
    return ""
