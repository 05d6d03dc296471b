"""What a client of the published tree sees: every link on a complete, valid repository; the DB agrees.

Shared by the tests that kill publishers or fill their disk.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import subprocess
from pathlib import Path

from ansible_collections.distroforge.openstack.plugins.module_utils._publish import debrepo, rpmrepo
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.layout import FLAG_PUBLISHED
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.publisher import (
    PublishOptions,
    dir_status,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.signing import verify_detached
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB

_BUILD_DIR = re.compile(r"^[0-9a-f]{40}_[0-9a-f]{8}$")
_MD5_DIR = re.compile(r"^[0-9a-f]{32}$")
_BASEURL = re.compile(r"^baseurl=file://(\S+)$", re.MULTILINE)
# What a publisher writes aside before a rename (_common.files): staging dirs,
# files (``.<name>.<pid>.<8 hex>``, metadata cache entries too) and links.
_SCRATCH = re.compile(r"^\..*(\.staging|\.\d+\.[0-9a-f]{8}|\.lnk\d+)$")


@dataclasses.dataclass
class RepoChecker:
    """Validates a repos/ tree against the state DB; remembers nothing between calls."""

    options: PublishOptions
    db_path: Path
    fmt: str
    signed: bool

    @property
    def repos(self) -> Path:
        return Path(self.options.repos_dir)

    def build_dir(self, record) -> Path:
        return self.options.layout().commit_dir(record.commit_hash, record.distro_hash, record.component)

    def links(self) -> list[Path]:
        """Every symlink a client may follow: top level, per component, per aggregate label."""
        bases = [self.repos, *sorted((self.repos / "component").glob("*"))]
        bases += [p for p in self.repos.iterdir() if p.is_dir() and not p.is_symlink() and _is_label_dir(p)]
        return [entry for base in bases for entry in sorted(base.iterdir()) if entry.is_symlink()]

    def check_build(self, path: Path, what: str) -> None:
        """``path`` is a complete successful repository: files, metadata, signature."""
        assert dir_status(path) == "SUCCESS", f"{what} -> {path} is not a complete successful repo"
        names = {p.name for p in path.iterdir()}
        repo_file = "delorean.repo" if self.fmt == "rpm" else "delorean.list"
        assert {"versions.csv", "commit.yaml", repo_file, "build.log"} <= names, f"{what}: {sorted(names)}"
        assert not [n for n in names if n.startswith(".")], f"{what}: leftovers {sorted(names)}"
        if self.fmt == "rpm":
            assert rpmrepo.check_rpm_repo(path) == [], f"{what}: {rpmrepo.check_rpm_repo(path)}"
            if self.signed:
                repomd = path / "repodata" / "repomd.xml"
                assert verify_detached(repomd.with_name("repomd.xml.asc"), repomd, self.keyring), f"{what}: bad sig"
        else:
            assert debrepo.check_deb_repo(path) == [], f"{what}: {debrepo.check_deb_repo(path)}"
            if self.signed:
                assert verify_detached(path / "Release.gpg", path / "Release", self.keyring), f"{what}: Release.gpg"
                proc = subprocess.run(
                    ["gpgv", "--keyring", str(self.keyring), "--output", "-", str(path / "InRelease")],
                    check=False, capture_output=True,
                )  # fmt: skip
                assert proc.returncode == 0, f"{what}: InRelease: {proc.stderr.decode()}"
                assert proc.stdout == (path / "Release").read_bytes(), f"{what}: InRelease signs another Release"

    @property
    def keyring(self) -> Path:
        return self.repos / "delorean-archive-keyring.gpg"

    def check_aggregate_file(self, link: Path) -> set[Path]:
        """A label's aggregate file lies in a complete hashed dir naming complete builds; return them."""
        hashed = link.resolve().parent
        text = (hashed / "delorean.repo").read_text()
        assert (hashed / "delorean.repo.md5").read_text() == hashlib.md5(text.encode()).hexdigest(), link
        assert (hashed / "versions.csv").read_text().startswith("Project,"), link
        builds = {Path(url) for url in _BASEURL.findall(text)}
        assert builds, f"{link}: names no repository"
        return builds

    def __call__(self, in_flight: set[int], deep: list[Path] = (), full: bool = True) -> None:
        """The check; ``in_flight``: commits whose publisher was killed and that nobody published since."""
        with StateDB(self.db_path, readonly=True) as db:
            assert db.integrity_check() == "ok"
            records = {(r.commit_hash, r.distro_hash[:8]): r for r in db.commits(limit=None)}
        linked: dict[Path, str] = {}
        for link in self.links():
            assert link.exists(), f"{link} -> {os.readlink(link)} is dangling"
            if link.is_dir():
                linked[link.resolve()] = str(link.relative_to(self.repos))
            else:
                for build in self.check_aggregate_file(link):
                    linked[build.resolve()] = f"{link.relative_to(self.repos)} (aggregate)"
        for target, what in linked.items():
            self.check_build(target, what)
            record = records[tuple(target.name.split("_"))]
            assert record.status == "SUCCESS", f"{what} -> {target}: the DB says {record.status}"
            assert record.flags & FLAG_PUBLISHED or record.id in in_flight, (
                f"{what} -> {target}: the DB does not call commit {record.id} published and no publisher was on it"
            )
        # Build directories appear only complete (staging dirs are hidden, dot-named) and agree with the DB.
        paths = self.repos.glob("**/[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/[0-9a-f]*") if full else deep
        for path in paths:
            if not path.exists() or not _BUILD_DIR.match(path.name) or ".trash" in path.parts:
                continue
            record = records[tuple(path.name.split("_"))]
            assert dir_status(path) == record.status, f"{path} is incomplete or disagrees with the DB"
            if record.status == "SUCCESS" and path.resolve() not in linked:
                self.check_build(path, str(path.relative_to(self.repos)))
        # What the DB calls published is there.
        for record in records.values():
            if record.flags & FLAG_PUBLISHED:
                assert dir_status(self.build_dir(record)) == record.status, f"commit {record.id} is not there"


def _is_label_dir(path: Path) -> bool:
    return not path.name.startswith(".") and path.name != "component" and not re.fullmatch(r"[0-9a-f]{2}", path.name)


def scratch_left(repos: Path) -> list[str]:
    """Files and directories a publisher writes aside, still there (paths relative to ``repos``).

    Complete build and aggregate directories are not entered: nothing is written aside inside them.
    The metadata cache is looked at one level down, where its entries are.
    """
    found = [str(path) for path in repos.glob(".cache/*/.*") if _SCRATCH.match(path.name)]
    for dirpath, dirnames, filenames in os.walk(repos):
        found += [os.path.join(dirpath, name) for name in dirnames + filenames if _SCRATCH.match(name)]
        dirnames[:] = [
            name for name in dirnames if not _BUILD_DIR.match(name) and not _MD5_DIR.match(name) and name != ".cache"
        ]
    trash = repos / ".trash"
    found += [str(path) for path in trash.iterdir()] if trash.is_dir() else []
    return sorted(os.path.relpath(path, repos) for path in found)
