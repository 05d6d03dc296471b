"""``distroforge-release-<release>``: the package that configures a node for a release's repository.

What ``centos-release-openstack-<release>`` and ``rdo-release`` are to RDO:
installing it is all a node needs before ``apt-get update`` / ``dnf
install``.  It holds the repository configuration and the public signing
key, nothing else:

* DEB: ``/etc/apt/sources.list.d/<reponame>.sources`` (deb822, a flat
  repository, ``Signed-By`` the key below - that key only, never the
  system's trusted keys), ``/usr/share/keyrings/<reponame>-archive-keyring.gpg``
  (binary, as Debian's own keyring packages ship them) and
  ``/etc/apt/preferences.d/<reponame>.pref``, which pins the repository
  above the base distribution: Debian ships the same OpenStack release, often
  at a higher version (bookworm's keystone 2:22.0.2-0+deb12u6 sorts above a
  release's 2:22.0.1-1), and a node must run the release's packages;
* RPM: ``/etc/yum.repos.d/<reponame>.repo`` (``gpgcheck=1``,
  ``repo_gpgcheck=1``, ``gpgkey`` the key below) and
  ``/etc/pki/rpm-gpg/RPM-GPG-KEY-<reponame>`` (armored, as rpm imports it).

Built with ``dpkg-deb`` and ``rpmbuild`` directly (no packaging repository:
everything comes from variables), reproducibly: every timestamp is
``SOURCE_DATE_EPOCH`` - by default the key's creation time, so the same
inputs give the same bytes on any host and any day.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .._common import openpgp
from .._common.errors import InputError
from .._common.proc import run

FORMATS = ("deb", "rpm")
_RELEASE = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
_VERSION = re.compile(r"^[0-9][A-Za-z0-9.+~]*$")
_REVISION = re.compile(r"^[A-Za-z0-9.+~]+$")
_URL = re.compile(r"^(https?|file)://[^\s\"'%]+$")
_MAINTAINER = re.compile(r"^[^<>\n]+ <[^<>\s]+@[^<>\s]+>$")
# An apt release field value (Origin, Suite): no spaces, commas or quotes, which would end the pin's clause.
_PIN_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~-]*$")
_PIN_CHARS = "letters, digits, '.', '_', '+', '~', '-'"
FILE_MODE = 0o644
DIR_MODE = 0o755


@dataclasses.dataclass(frozen=True)
class ReleasePackage:
    """What to build: one release's repository configuration in one package format."""

    release: str
    baseurl: str
    key: bytes  # the repository's public key, ASCII-armored (RPM-GPG-KEY-<reponame> as published)
    fmt: str
    reponame: str = ""  # default distroforge-<release>
    version: str = "1"
    revision: str = "1"
    source_date_epoch: Optional[int] = None  # default: the key's creation time
    maintainer: str = "distroforge <distroforge@localhost>"
    # DEB: the repository's Release ``Origin`` and ``Suite`` the pin matches (a published release stage says
    # ``distroforge`` and ``<release>-release``) and its priority; 0 leaves the pin out.
    origin: str = "distroforge"
    suite: str = ""  # default <release>-release
    priority: int = 1001

    @property
    def name(self) -> str:
        """The package name, ``distroforge-release-<release>``."""
        return f"distroforge-release-{self.release}"

    @property
    def repo(self) -> str:
        """The repository's id in the configuration file (and the name of the files)."""
        return self.reponame or f"distroforge-{self.release}"

    @property
    def pin_suite(self) -> str:
        """The Suite of the pinned repository's Release file."""
        return self.suite or f"{self.release}-release"


@dataclasses.dataclass(frozen=True)
class Built:
    """A built package: its name, file name, bytes, and the paths it installs."""

    name: str
    file_name: str
    data: bytes
    files: Tuple[str, ...]
    fingerprints: Tuple[str, ...]
    source_date_epoch: int


def validate(spec: ReleasePackage) -> List[str]:
    """The key's primary fingerprints, once every field is checked (one-line InputError otherwise)."""
    checks = (
        ("release", spec.release, _RELEASE, "lower-case letters, digits, '.', '+', '-' (e.g. zed)"),
        ("reponame", spec.repo, _RELEASE, "lower-case letters, digits, '.', '+', '-'"),
        ("baseurl", spec.baseurl, _URL, "an http://, https:// or file:// URL without spaces, quotes or '%'"),
        ("version", spec.version, _VERSION, "digits first, then letters, digits, '.', '+', '~' (e.g. 1)"),
        ("revision", spec.revision, _REVISION, "letters, digits, '.', '+', '~' (no '-')"),
        ("maintainer", spec.maintainer, _MAINTAINER, "'Name <address@host>'"),
        ("origin", spec.origin, _PIN_VALUE, f"the repository's Release Origin: {_PIN_CHARS}"),
        ("suite", spec.pin_suite, _PIN_VALUE, f"the repository's Release Suite: {_PIN_CHARS}"),
    )
    for field, value, pattern, fix in checks:
        if not pattern.match(value or ""):
            raise InputError(f"{field}: {value!r} is not valid here: write {fix}")
    if not 0 <= spec.priority <= 9999:
        raise InputError(f"priority: {spec.priority} is not an apt pin priority here: give 1-9999, or 0 for no pin")
    if spec.fmt not in FORMATS:
        raise InputError(f"format: {spec.fmt!r} is not one of {', '.join(FORMATS)}")
    if openpgp.dearmor(spec.key, "key") == spec.key:
        raise InputError("key: give the ASCII-armored public key (RPM-GPG-KEY-<reponame> as repo_publish publishes it)")
    fingerprints = openpgp.primary_fingerprints(spec.key, "key")
    if spec.source_date_epoch is not None and spec.source_date_epoch < 0:
        raise InputError(f"source_date_epoch: {spec.source_date_epoch} is negative: give seconds since 1970")
    return fingerprints


def key_created(key: bytes) -> int:
    """Creation time of the first primary key in ``key`` (v4 and newer: 4 bytes after the version)."""
    for tag, body in openpgp.packets(openpgp.dearmor(key, "key"), "key"):
        if tag == openpgp.PUBLIC_KEY and len(body) >= 5:
            return int.from_bytes(body[1:5], "big")
    raise InputError("key: holds no OpenPGP public key: give the repository's public key file")


def contents(spec: ReleasePackage) -> Dict[str, bytes]:
    """``{installed path: bytes}`` of the package: the repository configuration and the key."""
    header = f"# {spec.repo}: the distroforge {spec.release} repository, installed by {spec.name}.\n"
    if spec.fmt == "deb":
        keyring = f"/usr/share/keyrings/{spec.repo}-archive-keyring.gpg"
        sources = (
            f"{header}"
            "Types: deb\n"
            f"URIs: {spec.baseurl.rstrip('/')}/\n"
            # A flat repository (``deb <url> ./``): the suite is a path, there are no components.
            "Suites: ./\n"
            f"Signed-By: {keyring}\n"
        )
        files = {
            f"/etc/apt/sources.list.d/{spec.repo}.sources": sources.encode("utf-8"),
            keyring: openpgp.dearmor(spec.key, "key"),
        }
        if spec.priority:
            pin = (
                f"{header}"
                "# Above 1000: the release's packages win over the base distribution's, which ships the same\n"
                "# OpenStack release, at times with higher versions.\n"
                "Package: *\n"
                f"Pin: release o={spec.origin},a={spec.pin_suite}\n"
                f"Pin-Priority: {spec.priority}\n"
            )
            files[f"/etc/apt/preferences.d/{spec.repo}.pref"] = pin.encode("utf-8")
        return files
    key_path = f"/etc/pki/rpm-gpg/RPM-GPG-KEY-{spec.repo}"
    repo = (
        f"{header}"
        f"[{spec.repo}]\n"
        f"name=distroforge {spec.release}\n"
        f"baseurl={spec.baseurl.rstrip('/')}/\n"
        "enabled=1\n"
        "gpgcheck=1\n"
        "repo_gpgcheck=1\n"
        f"gpgkey=file://{key_path}\n"
    )
    return {f"/etc/yum.repos.d/{spec.repo}.repo": repo.encode("utf-8"), key_path: spec.key}


def build(spec: ReleasePackage, timeout: float = 300) -> Built:
    """Build the package in a scratch directory; return its bytes (the same for the same ``spec``)."""
    fingerprints = validate(spec)
    epoch = spec.source_date_epoch if spec.source_date_epoch is not None else key_created(spec.key)
    files = contents(spec)
    with tempfile.TemporaryDirectory(prefix="distroforge-release-") as scratch:
        maker = _build_deb if spec.fmt == "deb" else _build_rpm
        file_name, data = maker(spec, files, epoch, Path(scratch), timeout)
    return Built(spec.name, file_name, data, tuple(sorted(files)), tuple(fingerprints), epoch)


def _env(epoch: int) -> Dict[str, str]:
    return {"SOURCE_DATE_EPOCH": str(epoch), "LC_ALL": "C.UTF-8", "TZ": "UTC"}


def _build_deb(
    spec: ReleasePackage, files: Dict[str, bytes], epoch: int, scratch: Path, timeout: float
) -> Tuple[str, bytes]:
    root = scratch / "root"
    version = f"{spec.version}-{spec.revision}"
    control = (
        f"Package: {spec.name}\n"
        f"Version: {version}\n"
        "Architecture: all\n"
        f"Maintainer: {spec.maintainer}\n"
        "Section: admin\n"
        "Priority: optional\n"
        f"Description: distroforge {spec.release} repository configuration\n"
        f" Configures apt for the distroforge {spec.release} repository at\n"
        f" {spec.baseurl} and installs the key its InRelease is signed with.\n"
    )
    md5sums = "".join(f"{hashlib.md5(data).hexdigest()}  {path.lstrip('/')}\n" for path, data in sorted(files.items()))
    debian = {
        "/DEBIAN/control": control.encode("utf-8"),
        "/DEBIAN/md5sums": md5sums.encode("utf-8"),
        # Files under /etc are the admin's once installed: dpkg asks before replacing a changed one.
        "/DEBIAN/conffiles": "".join(f"{path}\n" for path in sorted(files) if path.startswith("/etc/")).encode(),
    }
    _lay_out(root, {**files, **debian}, epoch)
    target = scratch / f"{spec.name}_{version}_all.deb"
    run(
        ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(target)],
        env=_env(epoch),
        timeout=timeout,
        what=f"dpkg-deb --build {spec.name}",
    )
    return target.name, target.read_bytes()


def _build_rpm(
    spec: ReleasePackage, files: Dict[str, bytes], epoch: int, scratch: Path, timeout: float
) -> Tuple[str, bytes]:
    top = scratch / "rpmbuild"
    sources = {f"/SOURCES/{Path(path).name}": data for path, data in files.items()}
    _lay_out(top, sources, epoch)
    install = "\n".join(
        f"install -D -m 0644 %{{_sourcedir}}/{Path(path).name} %{{buildroot}}{path}" for path in sorted(files)
    )
    listed = "\n".join(f"%config(noreplace) {path}" if path.startswith("/etc/yum.repos.d/") else path for path in files)
    date = time.strftime("%a %b %d %Y", time.gmtime(epoch))
    spec_text = (
        f"Name: {spec.name}\n"
        f"Version: {spec.version}\n"
        f"Release: {spec.revision}\n"
        f"Summary: distroforge {spec.release} repository configuration\n"
        "License: ASL 2.0\n"
        "BuildArch: noarch\n"
        f"Packager: {spec.maintainer}\n"
        "%description\n"
        f"Configures dnf for the distroforge {spec.release} repository and installs\n"
        "the key its metadata and packages are signed with.\n"
        f"%install\n{install}\n"
        f"%files\n{listed}\n"
        "%changelog\n"
        f"* {date} {spec.maintainer} - {spec.version}-{spec.revision}\n"
        f"- repository configuration for {spec.release}\n"
    )
    spec_path = top / "SPECS" / f"{spec.name}.spec"
    spec_path.parent.mkdir(parents=True)
    spec_path.write_text(spec_text, encoding="utf-8")
    run(
        [
            "rpmbuild",
            "-bb",
            "--define",
            f"_topdir {top}",
            "--define",
            "_buildhost distroforge",
            "--define",
            "use_source_date_epoch_as_buildtime 1",
            "--define",
            "clamp_mtime_to_source_date_epoch 1",
            "--define",
            "_build_id_links none",
            str(spec_path),
        ],
        env=_env(epoch),
        timeout=timeout,
        what=f"rpmbuild of {spec.name}",
    )
    (target,) = (top / "RPMS" / "noarch").glob("*.rpm")
    return target.name, target.read_bytes()


def _lay_out(root: Path, files: Dict[str, bytes], epoch: int) -> None:
    """Write ``files`` under ``root`` with fixed modes and every timestamp at ``epoch``."""
    for path, data in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.chmod(target, FILE_MODE)
    for directory, _dirs, names in os.walk(root):
        os.chmod(directory, DIR_MODE)
        for name in [".", *names]:
            os.utime(os.path.join(directory, name), (epoch, epoch))
