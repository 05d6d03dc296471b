"""Publishing one build: DLRN's post-build step, signed and crash-safe.

For a SUCCESS build the publisher assembles the commit repository beside
its final place (``.<hash>.staging``, same directory so relative links to
other builds are already right), with the build's files, links to the
newest published successful build of every other package, signed
metadata, ``versions.csv``, ``commit.yaml``, the ``.repo``/``.list`` file
and the build log; flushes it; renames it into place; then swaps
``current`` (and ``consistent`` when no package's latest build failed),
the component links and the aggregate; and last marks the commit
published in the state DB.  A FAILED build gets its log and commit.yaml,
as in DLRN, and moves nothing.

Killed at any instant, the publisher leaves every link on a complete
repository; running it again finishes the job (the DB flag says whether
it was done), and running it once more changes nothing.  A full disk
stops it with one line (:class:`PublishDiskFull`) saying where, what the
links show and what to do, after removing what it had written aside.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .._common.errors import DistroforgeError, InputError
from .._common.files import fsync_tree, rename_into_place, swap_symlink, write_atomic_if_changed
from .._statedb.db import CommitRecord, StateDB
from .._statedb.schema import FAILED, FLAG_PUBLISHED, FLAG_PURGED, RETRY, SUCCESS
from . import debrepo, layout, rpmrepo
from .atomic import exclusive_lock
from .layout import DEB, RPM, Layout, PackageInfo, Verification, VersionRow
from .report import write_report
from .signing import Signer

_STATUS_LINE = re.compile(r'^\s*status: "([A-Z]+)"\s*$', re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class PublishOptions:
    """How a repository is published; the module's options one to one."""

    repos_dir: Path
    baseurl: Optional[str] = None
    reponame: str = "delorean"
    use_components: bool = False
    include_srpm: bool = True
    sign: bool = True
    gpg_home: Optional[Path] = None
    gpg_key: Optional[str] = None
    sign_packages: bool = True
    deb_signed_by: Optional[str] = None
    package_format: str = "auto"
    report: bool = True
    lock_timeout: float = 600.0
    # pkgdb_info's packages by project (layout.package_infos): DLRN's package
    # names and URLs for the files, and the package set of the release.
    packages: Optional[Dict[str, PackageInfo]] = None

    def layout(self) -> Layout:
        """The layout these options describe (baseurl defaults to ``file://<repos_dir>``)."""
        repos_dir = Path(self.repos_dir).absolute()
        return Layout(
            repos_dir=repos_dir,
            baseurl=self.baseurl or f"file://{repos_dir}",
            reponame=self.reponame,
            use_components=self.use_components,
        )

    @property
    def gnupg_home(self) -> Path:
        """The signing key's GnuPG home: beside ``repos/``, never inside the served tree."""
        return Path(self.gpg_home) if self.gpg_home else Path(self.repos_dir).absolute().parent / "gnupg"


@dataclasses.dataclass
class PublishResult:
    """What a publish did (or, in check mode, would do)."""

    changed: bool
    commit_id: int
    project: str
    status: str
    repo_hash: str
    repo_path: str
    repo_url: str
    package_format: Optional[str] = None
    created: bool = False
    links: Dict[str, str] = dataclasses.field(default_factory=dict)
    consistent: bool = False
    aggregate_hashes: Dict[str, str] = dataclasses.field(default_factory=dict)
    key_fingerprint: Optional[str] = None
    key_created: bool = False
    report: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        """Plain data for the module result."""
        return dataclasses.asdict(self)


def dir_status(path: Path) -> Optional[str]:
    """The build status recorded in a published directory's commit.yaml (None when absent)."""
    try:
        match = _STATUS_LINE.search((path / "commit.yaml").read_text(encoding="utf-8"))
    except OSError:
        return None
    return match.group(1) if match else None


def detect_format(artifacts: List[Path], wanted: str) -> Optional[str]:
    """rpm or deb, from the option or from the artifacts' suffixes."""
    if wanted in layout.FORMATS:
        return wanted
    names = [path.name for path in artifacts]
    if any(name.endswith(".rpm") for name in names):
        return RPM
    if any(name.endswith(debrepo.PACKAGE_SUFFIXES) for name in names):
        return DEB
    return None


def _newest_key(record: CommitRecord) -> Tuple[int, int, int]:
    # The state DB's order for "newer" (DLRN's getLastProcessedCommit).
    return (record.dt_commit, record.dt_distgit or 0, record.id)


class Publisher:
    """Publishes builds recorded in ``db`` into ``options.repos_dir``."""

    def __init__(self, options: PublishOptions, db: StateDB) -> None:
        self.options = options
        self.db = db
        self.layout = options.layout()
        self.packages: Dict[str, PackageInfo] = dict(options.packages or {})
        self._staged: List[Path] = []  # staging directories not yet renamed into place

    def package_name(self, project: str) -> str:
        """DLRN's ``project_name``: the package database's ``name``, else the project."""
        info = self.packages.get(project)
        return info.name if info else project

    # -- entry point --------------------------------------------------------------------

    def publish(
        self,
        commit_id: int,
        artifacts_dir: Optional[Path] = None,
        build_log: Optional[Path] = None,
        *,
        check_mode: bool = False,
    ) -> PublishResult:
        """Publish the build of state DB commit ``commit_id``; idempotent."""
        record = self.db.get(commit_id)
        result = self._result(record)
        if self._done(record):
            return result
        if check_mode:
            result.changed = True
            result.created = not (self._final(record) / "commit.yaml").exists()
            return result
        try:
            return self._publish_locked(commit_id, artifacts_dir, build_log)
        except BaseException as exc:
            # Whatever stopped us, no staging directory of ours stays behind
            # (one left by a killed publisher goes at the next publish).
            for staged in self._staged:
                shutil.rmtree(staged, ignore_errors=True)
            self._staged.clear()
            where = _no_space_where(exc, self.db.name)
            if where is None or isinstance(exc, PublishDiskFull):
                raise
            raise self._disk_full(record, where) from exc

    def _publish_locked(
        self, commit_id: int, artifacts_dir: Optional[Path], build_log: Optional[Path]
    ) -> PublishResult:
        self.layout.repos_dir.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self.layout.lock, self.options.lock_timeout, f"publish into {self.layout.repos_dir}"):
            record = self.db.get(commit_id)  # another publisher may have finished it meanwhile
            result = self._result(record)
            if self._done(record):
                return result
            result.changed = True
            signer = self._signer(result)
            if record.status == SUCCESS:
                self._publish_success(record, artifacts_dir, build_log, signer, result)
            else:
                self._publish_failed(record, artifacts_dir, build_log, result)
            self._mark_published(record, result.consistent)
            if self.options.report:
                names = {project: info.name for project, info in self.packages.items()}
                result.report = str(write_report(self.db, self.layout, record.release, names))
        return result

    def _disk_full(self, record: CommitRecord, where: str) -> "PublishDiskFull":
        """The one-line error for a full disk: where, what clients see now, what to do."""
        base = self.layout.link_base(record.component)
        link = base / "current"
        name = str(link.relative_to(self.layout.repos_dir))
        try:
            target: Optional[str] = os.readlink(link)
        except OSError:
            target = None
        try:
            published = bool(self.db.get(record.id).flags & FLAG_PUBLISHED)
        except Exception:  # only refines the message; the full disk is what the user must hear about
            published = False
        todo = "free space on that file system (repo_purge removes old builds)"
        if published:
            state = "the build is published but the status report is not up to date"
            todo += "; the next publish rewrites the report"
        elif target is not None and target == os.path.relpath(self._final(record), base):
            state = f"{name} points at this complete build but the state DB could not record it"
            todo += " and publish again"
        elif target is not None:
            state = f"{name} still points at {target}, nothing half-written is visible"
            todo += " and publish again"
        else:
            state = "nothing half-written is visible"
            todo += " and publish again"
        return PublishDiskFull(
            f"publish of commit {record.id} ({record.project} {record.commit_hash[:7]}):"
            f" no space left on {self._where(where)}: {state}; {todo}"
        )

    def _where(self, path: str) -> str:
        """A full-disk path as the place the user knows (repos_dir, gpg_home, the DB), plus the file."""
        if not path:
            return str(self.layout.repos_dir)
        for root in (self.layout.repos_dir, Path(self.options.gnupg_home).absolute()):
            try:
                rel = Path(path).absolute().relative_to(root)
            except ValueError:
                continue
            return f"{root} (writing {rel})" if str(rel) != "." else str(root)
        return path

    # -- steps ----------------------------------------------------------------------------

    def _result(self, record: CommitRecord) -> PublishResult:
        if record.status not in (SUCCESS, FAILED):
            raise InputError(
                f"state DB commit {record.id} ({record.project} {record.commit_hash[:7]}) is {record.status}:"
                " only finished builds (SUCCESS or FAILED) are published; finish the build first"
            )
        rel = self.layout.commit_rel(record.commit_hash, record.distro_hash, record.component)
        return PublishResult(
            changed=False,
            commit_id=record.id,
            project=record.project,
            status=record.status,
            repo_hash=record.repo_hash,
            repo_path=rel,
            repo_url=self.layout.url(rel),
        )

    def _final(self, record: CommitRecord) -> Path:
        return self.layout.commit_dir(record.commit_hash, record.distro_hash, record.component)

    def _done(self, record: CommitRecord) -> bool:
        return bool(record.flags & FLAG_PUBLISHED) and dir_status(self._final(record)) == record.status

    def _signer(self, result: PublishResult) -> Optional[Signer]:
        if not self.options.sign:
            return None
        signer, created = Signer.ensure(self.options.gnupg_home, self.options.gpg_key)
        result.key_fingerprint, result.key_created = signer.fingerprint, created
        armored_name, binary_name = self.layout.public_key_names()
        write_atomic_if_changed(self.layout.repos_dir / armored_name, signer.public_key(armor=True))
        write_atomic_if_changed(self.layout.repos_dir / binary_name, signer.public_key(armor=False))
        return signer

    def _stage(self, final: Path) -> Path:
        # A sibling of the final directory: same file system for the rename,
        # same depth so relative links are written once, right.
        staged = final.with_name(f".{final.name}.staging")
        if staged.exists():
            shutil.rmtree(staged)  # left by a publisher killed mid-way
        self._staged.append(staged)
        staged.mkdir(parents=True)
        return staged

    def _copy_inputs(self, staged: Path, artifacts_dir: Optional[Path], build_log: Optional[Path]) -> List[Path]:
        own: List[Path] = []
        if artifacts_dir is not None:
            if not Path(artifacts_dir).is_dir():
                raise InputError(f"artifacts_dir {artifacts_dir} is not a directory: give the build's output directory")
            for source in sorted(Path(artifacts_dir).iterdir()):
                if source.is_file() and source.name != layout.BUILD_LOG:
                    target = staged / source.name
                    shutil.copy2(source, target)
                    own.append(target)
        log = Path(build_log) if build_log else (Path(artifacts_dir) / layout.BUILD_LOG if artifacts_dir else None)
        if log is not None and log.is_file():
            shutil.copy2(log, staged / layout.BUILD_LOG)
        elif build_log is not None:
            raise InputError(f"build_log {build_log} does not exist: give the build's log file")
        return own

    def _publish_failed(
        self, record: CommitRecord, artifacts_dir: Optional[Path], build_log: Optional[Path], result: PublishResult
    ) -> None:
        final = self._final(record)
        if dir_status(final) == SUCCESS:
            raise InputError(
                f"{final} holds a successful build but the state DB says commit {record.id} FAILED:"
                " fix the state DB record before publishing again"
            )
        staged = self._stage(final)
        own = self._copy_inputs(staged, artifacts_dir, build_log)
        if record.notes:
            (staged / "notes.log").write_text(record.notes + "\n", encoding="utf-8")
        self._write_commit_yaml(staged, record, own, None)
        self._put_in_place(staged, final)
        result.created = True

    def _publish_success(
        self,
        record: CommitRecord,
        artifacts_dir: Optional[Path],
        build_log: Optional[Path],
        signer: Optional[Signer],
        result: PublishResult,
    ) -> None:
        final = self._final(record)
        history = self.db.commits(release=record.release, limit=None)
        if dir_status(final) != SUCCESS:
            staged = self._stage(final)
            own = self._copy_inputs(staged, artifacts_dir, build_log)
            fmt = detect_format(own, self.options.package_format)
            if fmt is None or not any(path.name.endswith((".rpm", *debrepo.PACKAGE_SUFFIXES)) for path in own):
                raise InputError(
                    f"artifacts_dir {artifacts_dir}: no .rpm or .deb files for successful build {record.repo_hash}:"
                    " hand the publisher the build's output directory"
                )
            self._assemble(staged, final, record, own, fmt, history, signer)
            self._put_in_place(staged, final)
            result.created = True
        fmt = RPM if (final / "repodata").is_dir() else DEB
        result.package_format = fmt
        result.consistent = self._consistent(record, history)
        self._move_links(record, final, fmt, result)

    def _assemble(  # noqa: PLR0917 - one private step, called once
        self,
        staged: Path,
        final: Path,
        record: CommitRecord,
        own: List[Path],
        fmt: str,
        history: List[CommitRecord],
        signer: Optional[Signer],
    ) -> None:
        own_names = {path.name for path in own}
        if fmt == RPM and signer is not None and self.options.sign_packages:
            signer.sign_rpms([path for path in own if path.name.endswith(".rpm")])
        rows = [self._own_row(record, own, fmt)]
        latest = self._latest_finished(record, history)
        for other, other_dir in self._other_builds(record, history):
            for entry in os.scandir(other_dir):
                if (
                    _is_package(entry.name, fmt)
                    and entry.is_file(follow_symlinks=False)
                    and entry.name not in own_names
                ):
                    link = staged / entry.name
                    if not link.exists() and not link.is_symlink():
                        os.symlink(os.path.relpath(entry.path, final), link)
            rows.append(self._other_row(other, latest.get(other.project, other)))
        listed = {row.project for row in rows}
        for project, build in sorted(latest.items()):
            if self.package_name(project) not in listed:  # never succeeded: DLRN lists its last processed build
                rows.append(self._row(build, build.status, build.dt_build, ""))
        (staged / "versions.csv").write_text(layout.render_versions_csv(self._ordered(rows)), encoding="utf-8")
        rel = self.layout.commit_rel(record.commit_hash, record.distro_hash, record.component)
        verification = self._verification(fmt, signer)
        if fmt == RPM:
            rpmrepo.write_rpm_metadata(
                staged,
                cache_dir=self.layout.cache,
                include_srpm=self.options.include_srpm,
                revision=str(record.dt_commit),
            )
            if signer is not None:
                signer.detach_sign(staged / "repodata" / "repomd.xml")
            text = layout.render_repo_file(
                repo_id=self.layout.repo_id(record.component),
                name=f"{self.options.reponame}-{self.package_name(record.project)}-{record.commit_hash}",
                baseurl=self.layout.url(rel),
                verification=verification,
            )
        else:
            debrepo.write_deb_metadata(
                staged, origin=self.options.reponame, label=self.options.reponame, suite=record.release
            )
            if signer is not None:
                signer.clearsign(staged / "Release", staged / "InRelease")
                signer.detach_sign(staged / "Release", armor=True, output=staged / "Release.gpg")
            text = layout.render_list_file(baseurl=self.layout.url(rel), verification=verification)
        (staged / self.layout.repo_file_name(fmt)).write_text(text, encoding="utf-8")
        self._write_commit_yaml(staged, record, own, fmt)

    def _verification(self, fmt: str, signer: Optional[Signer]) -> Verification:
        if signer is None:
            return Verification()
        armored_name, _binary = self.layout.public_key_names()
        if fmt == RPM:
            return Verification(
                repo_gpgcheck=True,
                gpgcheck=self.options.sign_packages,
                gpgkey_url=self.layout.url(armored_name),
            )
        signed_by = self.options.deb_signed_by or f"/etc/apt/keyrings/{self.options.reponame}.gpg"
        return Verification(signed_by=signed_by)

    def _write_commit_yaml(self, staged: Path, record: CommitRecord, own: List[Path], fmt: Optional[str]) -> None:
        rel = self.layout.commit_rel(record.commit_hash, record.distro_hash, record.component)
        artifacts = ",".join(f"repos/{rel}/{path.name}" for path in own if _is_package(path.name, fmt or RPM))
        values = {
            "id": record.id,
            "type": fmt or (RPM if self.options.package_format != DEB else DEB),
            "dt_commit": record.dt_commit,
            "dt_distro": record.dt_distgit,
            "dt_extended": 0,  # DLRN's rdoinfo driver: no extended commit
            "dt_build": record.dt_build,
            "project_name": self.package_name(record.project),
            "repo_dir": None,
            "distgit_dir": None,
            "commit_hash": record.commit_hash,
            "distro_hash": record.distro_hash,
            "extended_hash": None,
            "commit_branch": record.commit_branch,
            "status": record.status,
            "component": record.component,
            "artifacts": artifacts or None,
            # DLRN's build step says "OK" for a success without notes.
            "notes": record.notes or ("OK" if record.status == SUCCESS else None),
            "flags": record.flags | FLAG_PUBLISHED,
            "versions_csv": None,
        }
        (staged / "commit.yaml").write_text(layout.render_commit_yaml(values), encoding="utf-8")

    def _put_in_place(self, staged: Path, final: Path) -> None:
        fsync_tree(staged)
        rename_into_place(staged, final, self.layout.trash)
        self._staged.remove(staged)

    # -- which builds make up a repository -------------------------------------------------

    def _same_scope(self, record: CommitRecord, other: CommitRecord) -> bool:
        if other.release != record.release:
            return False
        if self.packages and other.project != record.project and other.project not in self.packages:
            return False  # dropped from the package database: DLRN no longer ships it
        return not self.layout.use_components or other.component == record.component

    def _latest_finished(self, record: CommitRecord, history: List[CommitRecord]) -> Dict[str, CommitRecord]:
        """Per package of the repository's scope, its newest finished build (DLRN's "last processed").

        Only published builds count, as DLRN publishes each build right after
        it: a build recorded but published later in the same run is not there yet.
        """
        latest: Dict[str, CommitRecord] = {}
        for other in history:
            if other.status not in (SUCCESS, FAILED, RETRY) or not self._same_scope(record, other):
                continue
            if other.id != record.id and other.status != RETRY and not other.flags & FLAG_PUBLISHED:
                continue  # RETRY is never published but DLRN counts it as processed
            build = record if other.id == record.id else other
            known = latest.get(build.project)
            if known is None or _newest_key(build) > _newest_key(known):
                latest[build.project] = build
        return latest

    def _other_builds(self, record: CommitRecord, history: List[CommitRecord]) -> List[Tuple[CommitRecord, Path]]:
        """Per other package, its newest successful build that is published: what the repository links to."""
        best: Dict[str, CommitRecord] = {}
        for other in history:
            if (
                other.project == record.project
                or other.status != SUCCESS
                or not other.flags & FLAG_PUBLISHED
                or other.flags & FLAG_PURGED
                or not self._same_scope(record, other)
            ):
                continue
            known = best.get(other.project)
            if known is None or _newest_key(other) > _newest_key(known):
                best[other.project] = other
        found = []
        for project in sorted(best):
            other_dir = self._final(best[project])
            if other_dir.is_dir():
                found.append((best[project], other_dir))
        return found

    def _consistent(self, record: CommitRecord, history: List[CommitRecord]) -> bool:
        """DLRN's rule: consistent when the newest build of every package in scope succeeded."""
        latest = self._latest_finished(record, history)
        projects = {other.project for other in history if self._same_scope(record, other)}
        projects.update(
            info.project
            for info in self.packages.values()
            if not self.layout.use_components or info.component in (None, record.component)
        )
        if set(latest) != projects:
            return False  # a package was never built: DLRN counts it as a failure
        for build in latest.values():
            if build.status != SUCCESS:
                return False
            if build.id != record.id and not build.flags & FLAG_PUBLISHED:
                return False  # built but its publication has not completed
        return True

    # -- versions.csv rows ------------------------------------------------------------------

    def _row(self, build: CommitRecord, status: str, last_success: Optional[int], nvr: str) -> VersionRow:
        project = self._projects().get(build.project)
        info = self.packages.get(build.project)
        upstream = (info and info.upstream) or (project and project.upstream) or "None"
        distgit = (info and info.distgit) or (project and project.distgit) or "None"
        return VersionRow(
            project=self.package_name(build.project),
            upstream=upstream,
            commit_hash=build.commit_hash,
            distgit=distgit,
            distro_hash=build.distro_hash,
            status=status,
            last_success=last_success,
            component=build.component,
            nvr=nvr,
        )

    def _own_row(self, record: CommitRecord, own: List[Path], fmt: str) -> VersionRow:
        names = [path.name for path in own]
        nvr = rpmrepo.rpm_nvr_from_files(names) if fmt == RPM else debrepo.deb_nvr(names, record.nvr)
        return self._row(record, SUCCESS, record.dt_build, nvr or (record.nvr or ""))

    def _other_row(self, other: CommitRecord, latest: CommitRecord) -> VersionRow:
        # Only the build's own files: its directory also links to other packages' source RPMs.
        with os.scandir(self._final(other)) as entries:
            names = sorted(entry.name for entry in entries if entry.is_file(follow_symlinks=False))
        nvr = rpmrepo.rpm_nvr_from_files(names) or (other.nvr or "")
        return self._row(other, latest.status, other.dt_build, nvr)

    def _ordered(self, rows: List[VersionRow]) -> List[VersionRow]:
        """DLRN's order: the package database's; by name without one."""
        order = {info.name: index for index, info in enumerate(self.packages.values())}
        return sorted(rows, key=lambda row: (order.get(row.project, len(order)), row.project))

    def _projects(self) -> Dict[str, Any]:
        if not hasattr(self, "_project_cache"):
            self._project_cache = {project.project: project for project in self.db.projects()}
        return self._project_cache

    # -- links ---------------------------------------------------------------------------------

    def _move_links(self, record: CommitRecord, final: Path, fmt: str, result: PublishResult) -> None:
        base = self.layout.link_base(record.component)
        target = os.path.relpath(final, base)
        labels = ["current"] + (["consistent"] if result.consistent else [])
        for label in labels:
            swap_symlink(base / label, target)
            result.links[label] = str(base / label)
        if self.layout.use_components:
            for label in labels:
                result.aggregate_hashes[label] = self._write_aggregate(label, fmt)

    def _write_aggregate(self, label: str, fmt: str) -> str:
        """DLRN's aggregate for ``label``: every component's file joined, in a dir named by its md5."""
        file_name = self.layout.repo_file_name(fmt)
        components_dir = self.layout.repos_dir / "component"
        parts, rows = [], []
        for component_dir in sorted(components_dir.iterdir()) if components_dir.is_dir() else []:
            link = component_dir / label
            if link.is_symlink() and (link / file_name).is_file():
                parts.append((link / file_name).read_text(encoding="utf-8"))
                rows.extend((link / "versions.csv").read_text(encoding="utf-8").splitlines()[1:])
        text = layout.aggregate_text(parts)
        digest = layout.aggregate_hash(text)
        label_dir = self.layout.repos_dir / label
        if label_dir.is_symlink():
            raise InputError(
                f"{label_dir} is a symlink but use_components needs it to be a directory of aggregates:"
                " remove it (it was made by a publish without components)"
            )
        hashed = label_dir / layout.sharded(digest)
        if not (hashed / f"{file_name}.md5").is_file():
            staged = self._stage(hashed)
            (staged / file_name).write_text(text, encoding="utf-8")
            (staged / f"{file_name}.md5").write_text(digest, encoding="utf-8")
            (staged / "versions.csv").write_text("\n".join([layout.VERSIONS_HEADER, *rows]) + "\n", encoding="utf-8")
            self._put_in_place(staged, hashed)
        # Three links cannot move as one: each points at a complete hashed dir,
        # and the .repo (what clients fetch first) moves last.
        for name in ("versions.csv", f"{file_name}.md5", file_name):
            swap_symlink(label_dir / name, f"{layout.sharded(digest)}/{name}")
        return digest

    # -- state DB ------------------------------------------------------------------------------

    def _mark_published(self, record: CommitRecord, consistent: bool) -> None:
        with self.db.writer():  # the flag and its vote commit together
            if self.db.mark_published(record.id) and consistent:
                # DLRN records a "consistent" CI vote when a build makes the repo consistent.
                self.db.record_vote(record.repo_hash, "consistent", True, timestamp=record.dt_build or None)


class PublishDiskFull(DistroforgeError):
    """The file system of the repositories, the signing key or the state DB is full."""


_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_SQLITE_FULL = 13  # sqlite3.SQLITE_FULL, which Python names only from 3.11 on
# How gpg, rpmsign and createrepo_c say it; gpg names the file first: error writing to '<path>': No space ...
_NO_SPACE_TEXT = re.compile(r"(?:'([^']+)': )?(?:No space left on device|Disk quota exceeded)")


def _no_space_where(exc: BaseException, db_name: str) -> Optional[str]:
    """Where the disk was full if ``exc`` (or what caused it) says so: a path, "" when unnamed; else None."""
    seen = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _NO_SPACE:
            # shutil.copy2 names the source first and the file it could not write second.
            name = current.filename2 if current.filename2 is not None else current.filename
            return os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else ""
        if isinstance(current, sqlite3.Error) and (
            getattr(current, "sqlite_errorcode", None) == _SQLITE_FULL or "disk is full" in str(current)
        ):
            return db_name
        details = current.details if isinstance(current, DistroforgeError) else {}
        text = "\n".join([str(current), str(details.get("stderr_tail", "")), str(details.get("stdout_tail", ""))])
        match = _NO_SPACE_TEXT.search(text)
        if match:
            return match.group(1) or ""
        current = current.__cause__ or current.__context__
    return None


def _is_package(name: str, fmt: Optional[str]) -> bool:
    if fmt == DEB:
        return name.endswith(debrepo.PACKAGE_SUFFIXES)
    return name.endswith(".rpm")
