"""Stages of a release as data: candidate, testing, release; validated, diffed, moved, published.

The role rdoinfo's ``buildsys-tags/`` plays for CBS: per release, one file
per stage, beside the package database, ``<pkgdb dir>/stages/<release>/<stage>.yml``,
mapping each repository of the release (its ``repos:`` names) to the NVR of
every package (rdoinfo's project) in that stage::

    bookworm:
      keystone: keystone_2:22.0.2-1
    el9s:
      keystone: openstack-keystone-22.0.2-1

A missing file is an empty stage.  Every NVR must have been built from a tag
(it is in the NVR store, :mod:`.tagged`), every package tagged for the
release, and ``candidate``/``testing`` may not sort lower than ``release``
(our vercmp: rpm's EVR order or dpkg's).  Each problem is one line naming
the file, the repository and package, and what to do.

Moves (:func:`move`, :func:`put`) validate the stage they write before
writing it (aside and renamed, so the file is whole or old) and append the
reason to ``history.jsonl`` beside the stage files.  :func:`publish` makes a
stage a signed repository, ``<repos_dir>/stages/<release>/<repo>/<stage>``:
a symlink to a content-addressed snapshot that is assembled aside, signed,
flushed and renamed into place before the link swaps, so a stage that was
published stays whole whatever happens (bad input is refused before
anything is written).

Moves and publishing also check installability (:class:`Installability`):
the target stage's content is indexed in a scratch directory and every
package must resolve within it plus the base distribution
(:mod:`.closure`), before the stage file is written or a link moves.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._build import backends
from .._common.errors import InputError
from .._common.files import (
    fsync_tree,
    rename_into_place,
    sha256_file,
    swap_symlink,
    write_atomic,
    write_atomic_if_changed,
)
from .._pkgdb import loader
from .._pkgdb.reading import Refused, decode, parse, show
from .._publish import debrepo, layout, rpmrepo
from .._publish.atomic import exclusive_lock
from .._publish.signing import Signer, verify_clearsigned, verify_detached
from .._versions.vercmp import deb_vercmp, rpm_vercmp
from . import closure as closure_check
from . import tagged

STAGES = ("candidate", "testing", "release")
HISTORY = "history.jsonl"
# A snapshot directory holds this file once it is complete.
COMPLETE = ".complete"


@dataclass
class Stage:
    """One stage file: ``{repo: {project: nvr}}``."""

    release: str
    name: str
    path: Path
    repos: dict[str, dict[str, str]] = field(default_factory=dict)

    def nvr(self, repo: str, project: str) -> str | None:
        """The NVR of ``project`` in ``repo`` in this stage, None when it has none."""
        return self.repos.get(repo, {}).get(project)


@dataclass
class Change:
    """One package that differs between two stages."""

    repo: str
    project: str
    old: str | None
    new: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for a module result."""
        return asdict(self)


@dataclass(frozen=True)
class Release:
    """What the package database says of a release: its repositories and packages."""

    name: str
    repos: tuple[str, ...]
    projects: tuple[str, ...]
    stages_dir: Path

    @classmethod
    def read(cls, pkgdb: str, release: str, stages_dir: str | None = None) -> Release:
        """The release ``release`` of the database whose entry file is ``pkgdb``."""
        db = loader.read(pkgdb, release=release)
        rel = next(r for r in db.releases if r.get("name") == release)
        repos = tuple(str(repo.get("name")) for repo in rel.get("repos") or [])
        base = Path(stages_dir) if stages_dir else Path(pkgdb).resolve().parent / "stages"
        return cls(release, repos, tuple(sorted(p["project"] for p in db.packages)), base / release)

    def stage_path(self, stage: str) -> Path:
        """The file of ``stage``."""
        if stage not in STAGES:
            raise InputError(f"stage: {show(stage)} is not a stage; use one of {', '.join(STAGES)}")
        return self.stages_dir / f"{stage}.yml"


def _where(path: Path, line: int | None = None) -> str:
    return f"{path}:{line}" if line else str(path)


def read_stage(release: Release, stage: str) -> Stage:
    """The stage file parsed and its shape checked (not yet its NVRs: see :func:`validate`)."""
    path = release.stage_path(stage)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return Stage(release.name, stage, path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror}); fix its permissions") from None
    try:
        data = parse(decode(content))
    except Refused as exc:
        raise InputError(f"{_where(path, exc.line)}: {exc}; fix the file") from None
    if data is None:
        return Stage(release.name, stage, path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: must map repositories to {{package: NVR}}, not a {type(data).__name__}; fix it")
    repos: dict[str, dict[str, str]] = {}
    for repo, given in data.items():
        if repo not in release.repos:
            raise InputError(
                f"{path}: {show(repo)} is not a repository of release {release.name} "
                f"(repos: {', '.join(release.repos)}); fix the name"
            )
        packages = {} if given is None else given
        if not isinstance(packages, dict):
            raise InputError(f"{path}: {repo}: must map packages to NVRs, not a {type(packages).__name__}; fix it")
        for project, nvr in packages.items():
            if not isinstance(nvr, str) or not nvr.strip() or any(ch.isspace() for ch in nvr):
                raise InputError(f"{path}: {repo}.{project}: {show(nvr)} is not an NVR; write the NVR that was built")
        repos[str(repo)] = {str(k): v for k, v in packages.items()}
    return Stage(release.name, stage, path, repos)


def _kind(info: dict[str, Any]) -> str:
    try:
        return backends.get(str(info.get("backend"))).kind.name
    except InputError:
        return "deb" if "_" in str(info.get("nvr")) else "rpm"


def evr(info: dict[str, Any]) -> tuple[str, str]:
    """(kind, version to compare) of a stored build: rpm ``epoch:version-release`` or the Debian version."""
    kind = _kind(info)
    version = info.get("version") or {}
    if kind == "deb":
        return kind, str(info["nvr"]).split("_", 1)[1]
    release = str(info["nvr"]).rsplit("-", 1)[1]
    epoch = version.get("epoch")
    return kind, f"{epoch}:{version.get('rpm_version')}-{release}" if epoch is not None else (
        f"{version.get('rpm_version')}-{release}"
    )


def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
    """-1, 0 or 1: the order of two stored builds of one package, by our vercmp."""
    kind, first = evr(a)
    _kind_b, second = evr(b)
    return deb_vercmp(first, second) if kind == "deb" else rpm_vercmp(first, second)


def validate(release: Release, stage: Stage, workdir: str | Path, released: Stage | None = None) -> None:
    """Every NVR of ``stage`` built, of a package of the release, not lower than ``released``'s."""
    for repo, packages in sorted(stage.repos.items()):
        for project, nvr in sorted(packages.items()):
            where = f"{stage.path}: {repo}.{project}"
            if project not in release.projects:
                raise InputError(
                    f"{where}: no package {show(project)} in release {release.name} of the package database; "
                    f"fix the name or tag it for {release.name}"
                )
            found = tagged.stored(workdir, project, nvr)
            if found is None:
                raise InputError(
                    f"{where}: {nvr} was never built (not in {tagged.store_dir(workdir, project, nvr)}); "
                    "build its tag (playbooks/release.yml) or fix the NVR"
                )
            old = released.nvr(repo, project) if released is not None else None
            if old is None or old == nvr:
                continue
            old_found = tagged.stored(workdir, project, old)
            if old_found is not None and compare(found[1], old_found[1]) < 0:
                raise InputError(
                    f"{where}: {nvr} sorts lower than the released {old}; stages only move forward: "
                    "build a higher version (or bump the Release)"
                )


def load(release: Release, stage: str, workdir: str | Path) -> Stage:
    """A stage read and validated (``candidate``/``testing`` against ``release``)."""
    current = read_stage(release, stage)
    released = read_stage(release, "release") if stage != "release" else None
    validate(release, current, workdir, released)
    return current


def diff(old: Stage, new: Stage) -> list[Change]:
    """What ``new`` has that ``old`` has not (other NVRs, new and dropped packages), sorted."""
    changes = []
    for repo in sorted(set(old.repos) | set(new.repos)):
        before, after = old.repos.get(repo, {}), new.repos.get(repo, {})
        for project in sorted(set(before) | set(after)):
            if before.get(project) != after.get(project):
                changes.append(Change(repo, project, before.get(project), after.get(project)))
    return changes


def render(stage: Stage) -> str:
    """The stage file's text: a header, then repositories and packages sorted."""
    lines = [
        f"# Stage {stage.name} of release {stage.release}: repository -> package -> NVR.",
        "# Written by distroforge.openstack.release_stage; reasons are in history.jsonl.",
    ]
    for repo in sorted(stage.repos):
        packages = stage.repos[repo]
        lines.append(f"{repo}:" + ("" if packages else " {}"))
        lines += [f"  {project}: {json.dumps(nvr)}" for project, nvr in sorted(packages.items())]
    return "\n".join(lines) + "\n"


@dataclass
class MoveResult:
    """What a move did (or, in check mode, would do)."""

    stage: str
    changes: list[Change]
    path: str

    @property
    def changed(self) -> bool:
        """True when the stage file changes."""
        return bool(self.changes)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for a module result."""
        return {"stage": self.stage, "path": self.path, "changes": [c.as_dict() for c in self.changes]}


def _write(release: Release, target: Stage, changes: list[Change], *, source: str, reason: str, user: str) -> None:
    release.stages_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(target.path, render(target).encode("utf-8"), 0o644)
    now = int(time.time())
    lines = "".join(
        json.dumps(
            {"time": now, "user": user, "from": source, "to": target.name, "reason": reason, **c.as_dict()},
            sort_keys=True,
        )
        + "\n"
        for c in changes
    )
    history = release.stages_dir / HISTORY
    old = history.read_bytes() if history.is_file() else b""
    write_atomic(history, old + lines.encode("utf-8"), 0o644)


def _reason(reason: str | None) -> str:
    if not reason or not reason.strip():
        raise InputError("reason: say why the NVRs move (a gate run, a promotion, a hand decision); it is recorded")
    return " ".join(reason.split())


def put(
    release: Release,
    stage: str,
    nvrs: dict[str, dict[str, str]],
    workdir: str | Path,
    *,
    reason: str | None,
    user: str = "",
    check: bool = False,
) -> MoveResult:
    """Set NVRs in a stage (new tagged builds into ``candidate``), validated first, with the reason recorded."""
    why = _reason(reason)
    current = read_stage(release, stage)
    target = Stage(release.name, stage, current.path, {r: dict(p) for r, p in current.repos.items()})
    for repo, packages in (nvrs or {}).items():
        if repo not in release.repos:
            raise InputError(
                f"nvrs: {show(repo)} is not a repository of release {release.name} "
                f"(repos: {', '.join(release.repos)}); fix the name"
            )
        target.repos.setdefault(repo, {}).update(packages or {})
    validate(release, target, workdir, read_stage(release, "release") if stage != "release" else None)
    changes = diff(current, target)
    if changes and not check:
        _write(release, target, changes, source="build", reason=why, user=user)
    return MoveResult(stage, changes, str(current.path))


def move(
    release: Release,
    source: str,
    stage: str,
    workdir: str | Path,
    *,
    reason: str | None,
    projects: list[str] | None = None,
    user: str = "",
    check: bool = False,
    installability: Installability | None = None,
) -> MoveResult:
    """Move the NVRs of ``source`` that differ from ``stage`` (or those of ``projects``) into ``stage``.

    With ``installability``, the stage as it would be is checked first: a
    package whose dependency does not resolve refuses the move.
    """
    why = _reason(reason)
    if STAGES.index(source) >= STAGES.index(stage):
        raise InputError(f"from: NVRs move forward ({' -> '.join(STAGES)}); {source} -> {stage} goes back")
    origin = load(release, source, workdir)
    current = read_stage(release, stage)
    target = Stage(release.name, stage, current.path, {r: dict(p) for r, p in current.repos.items()})
    wanted = set(projects or [])
    unknown = wanted - {p for packages in origin.repos.values() for p in packages}
    if unknown:
        raise InputError(
            f"packages: {', '.join(sorted(unknown))} not in {origin.path}; name packages of the {source} stage"
        )
    for repo, packages in origin.repos.items():
        for project, nvr in packages.items():
            if not wanted or project in wanted:
                target.repos.setdefault(repo, {})[project] = nvr
    validate(release, target, workdir, read_stage(release, "release") if stage != "release" else None)
    changes = diff(current, target)
    if changes and installability is not None:
        check_installable(release, target, workdir, installability)
    if changes and not check:
        _write(release, target, changes, source=source, reason=why, user=user)
    return MoveResult(stage, changes, str(current.path))


# -- installability -------------------------------------------------------------------------------


@dataclass
class Installability:
    """What a stage's packages must resolve against: the base distribution.

    DEB: the base's ``Packages`` indexes (``base_indexes``) and ``provides``;
    RPM: ``rpm_provides``, the capabilities the base is known to provide
    (there is no EL mirror to resolve against, see :mod:`.closure`).
    """

    base_indexes: list[Path] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)
    rpm_provides: list[str] = field(default_factory=list)
    timeout: float = 600.0


def check_installable(release: Release, stage: Stage, workdir: str | Path, options: Installability) -> None:
    """Refuse ``stage`` (as it would be) in one line when a package of a repository cannot be installed.

    Each repository's packages are linked into a scratch directory and
    indexed there (what publishing would index), then checked by the
    distribution's own solver; nothing published is touched.
    """
    for repo in release.repos:
        files = _files(stage, repo, workdir)
        if not files:
            continue
        fmt = "rpm" if any(p.name.endswith(".rpm") for p in files) else "deb"
        with tempfile.TemporaryDirectory(prefix="distroforge-stage-closure-") as scratch:
            staged = Path(scratch) / "repo"
            staged.mkdir()
            for path in files:
                _link_or_copy(path, staged / path.name)
            if fmt == "rpm":
                rpmrepo.write_rpm_metadata(staged, cache_dir=None, include_srpm=False)
                report = closure_check.check(staged, fmt="rpm", provides=options.rpm_provides, timeout=options.timeout)
            else:
                debrepo.write_deb_metadata(staged, origin="distroforge", label="distroforge", suite=stage.name)
                report = closure_check.check(
                    staged,
                    fmt="deb",
                    base_indexes=options.base_indexes,
                    provides=options.provides,
                    timeout=options.timeout,
                )
        if not report.ok:
            first = report.broken[0]
            more = f" (and {len(report.broken) - 1} more problem(s))" if len(report.broken) > 1 else ""
            raise closure_check.ClosureError(
                f"{stage.path}: {repo}: the {stage.name} stage would not be installable: {first.line()}{more};"
                " nothing moved: put the missing package in the stage (or the base: base_indexes/provides),"
                " or correct the dependency",
                broken=[item.as_dict() for item in report.broken],
                checked=report.checked,
            )


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: a copy does as well
        shutil.copy2(source, target)


# -- publishing -----------------------------------------------------------------------------------


@dataclass
class PublishOptions:
    """Where and how stages are published."""

    repos_dir: Path
    baseurl: str | None = None
    reponame: str = "distroforge"
    sign: bool = True
    gpg_home: Path | None = None
    gpg_key: str | None = None
    lock_timeout: float = 600.0

    @property
    def gnupg_home(self) -> Path:
        """The signing key's home: beside ``repos/``, as the publisher's."""
        return Path(self.gpg_home) if self.gpg_home else Path(self.repos_dir).absolute().parent / "gnupg"

    def url(self, rel: str) -> str:
        """The URL of ``rel`` under ``repos_dir``."""
        base = self.baseurl or f"file://{Path(self.repos_dir).absolute()}"
        return f"{base.rstrip('/')}/{rel}"


@dataclass
class Published:
    """One stage repository."""

    repo: str
    stage: str
    path: str
    url: str
    snapshot: str
    package_format: str
    packages: list[str]
    changed: bool

    def as_dict(self) -> dict[str, Any]:
        """Plain data for a module result."""
        return asdict(self)


def _files(stage: Stage, repo: str, workdir: str | Path) -> list[Path]:
    files = []
    for project, nvr in sorted(stage.repos.get(repo, {}).items()):
        found = tagged.stored(workdir, project, nvr)
        if found is None:  # validated before; a store changed under us
            raise InputError(f"{stage.path}: {repo}.{project}: {nvr} is no longer in the NVR store; build it again")
        files += tagged.package_files(*found)
    return files


def _snapshot_name(files: list[Path], extra: str) -> str:
    digest = hashlib.sha256(extra.encode())
    for path in sorted(files, key=lambda p: p.name):
        digest.update(f"{path.name}\0{path.parent.name}\n".encode())
    return digest.hexdigest()[:16]


def _signer(options: PublishOptions) -> Signer | None:
    if not options.sign:
        return None
    signer, _created = Signer.ensure(options.gnupg_home, options.gpg_key)
    armored, binary = layout.Layout(Path(options.repos_dir), "", options.reponame, False).public_key_names()
    write_atomic_if_changed(Path(options.repos_dir) / armored, signer.public_key(armor=True))
    write_atomic_if_changed(Path(options.repos_dir) / binary, signer.public_key(armor=False))
    return signer


def key_fingerprint(options: PublishOptions) -> str:
    """The fingerprint of the signing key (which publishing made if there was none)."""
    signer, _created = Signer.ensure(options.gnupg_home, options.gpg_key, create=False)
    return signer.fingerprint


def _assemble(staged: Path, files: list[Path], fmt: str, *, suite: str, options: PublishOptions, rel: str) -> None:
    signer = _signer(options)
    for path in files:
        shutil.copy2(path, staged / path.name)
    armored_name = f"RPM-GPG-KEY-{options.reponame}"
    if fmt == "rpm":
        if signer is not None:
            signer.sign_rpms([staged / p.name for p in files if p.name.endswith(".rpm")])
        rpmrepo.write_rpm_metadata(staged, cache_dir=None, include_srpm=True)
        if signer is not None:
            signer.detach_sign(staged / "repodata" / "repomd.xml")
        verification = layout.Verification(
            repo_gpgcheck=signer is not None, gpgcheck=signer is not None, gpgkey_url=options.url(armored_name)
        )
        text = layout.render_repo_file(
            repo_id=f"{options.reponame}-{suite}",
            name=f"{options.reponame} {suite}",
            baseurl=options.url(rel),
            verification=verification,
        )
        (staged / f"{options.reponame}-{suite}.repo").write_text(text, encoding="utf-8")
    else:
        debrepo.write_deb_metadata(staged, origin=options.reponame, label=options.reponame, suite=suite)
        if signer is not None:
            signer.clearsign(staged / "Release", staged / "InRelease")
            signer.detach_sign(staged / "Release", armor=True, output=staged / "Release.gpg")
        verification = layout.Verification(
            signed_by=f"/etc/apt/keyrings/{options.reponame}.gpg" if signer is not None else None
        )
        text = layout.render_list_file(baseurl=options.url(rel), verification=verification)
        (staged / f"{options.reponame}-{suite}.list").write_text(text, encoding="utf-8")
    (staged / COMPLETE).write_text("", encoding="utf-8")


def snapshot_problems(snapshot: Path, files: list[Path], fmt: str, options: PublishOptions) -> list[str]:
    """What changed in a published snapshot since it was assembled; an empty list means it is as published.

    A client's checks, done here first, the most telling first: the signed metadata verifies with the
    publisher's key, the metadata's checksums match the files, the packages are those of the stage and,
    for DEB (whose packages are copied unchanged; RPMs are signed in the copy), the NVR store's bytes.
    """
    problems = []
    signed = (
        [("Release.gpg", "Release"), ("InRelease", None)]
        if fmt == "deb"
        else [("repodata/repomd.xml.asc", "repodata/repomd.xml")]
    )
    if options.sign:
        _armored, binary = layout.Layout(Path(options.repos_dir), "", options.reponame, False).public_key_names()
        keyring = Path(options.repos_dir) / binary
        for signature, data in signed:
            path = snapshot / signature
            good = path.is_file() and keyring.is_file()
            if good and data is not None:
                good = (snapshot / data).is_file() and verify_detached(path, snapshot / data, keyring)
            elif good:
                good = verify_clearsigned(path, keyring)
            if not good:
                problems.append(f"{path}: does not verify with {keyring}")
    problems += (
        debrepo.check_deb_repo(snapshot) if fmt == "deb" else rpmrepo.check_rpm_repo(snapshot, include_srpm=True)
    )
    present = {path.name for path in snapshot.iterdir() if path.name.endswith((".rpm", ".deb", ".udeb"))}
    wanted = {path.name for path in files}
    if present != wanted:
        problems.append(f"{snapshot}: packages {sorted(present ^ wanted)} are not those of the stage")
    if fmt == "deb":
        for path in files:
            copy = snapshot / path.name
            if copy.is_file() and sha256_file(copy) != sha256_file(path):
                problems.append(f"{copy}: differs from the NVR store's {path}")
    return problems


def verify_snapshot(snapshot: Path, files: list[Path], fmt: str, options: PublishOptions, link: Path) -> None:
    """Refuse in one line to publish (or keep publishing) a snapshot that changed after it was published."""
    problems = snapshot_problems(snapshot, files, fmt, options)
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise InputError(
            f"{link}: the published repository {snapshot.name} changed after it was published: {problems[0]}{more};"
            f" nothing was published: move {snapshot} aside (to inspect it) and publish the stage again"
        )


def publish_files(
    files: list[Path], rel: str, suite: str, options: PublishOptions, *, check: bool = False
) -> tuple[Path, str, str, bool]:
    """Publish ``files`` as a signed repository at ``<repos_dir>/<rel>`` (a link to a snapshot).

    Returns (link, snapshot name, format, changed).  The snapshot is
    assembled aside and renamed into place whole before the link moves.
    """
    fmt = "rpm" if any(p.name.endswith(".rpm") for p in files) else "deb"
    repos_dir = Path(options.repos_dir).absolute()
    link = repos_dir / rel
    snapshots = link.parent / ".snapshots"
    name = _snapshot_name(files, f"{suite}\0{options.reponame}\0{options.baseurl}\0{options.sign}")
    final = snapshots / name
    target = os.path.relpath(final, link.parent)
    if check:
        if (final / COMPLETE).is_file():
            verify_snapshot(final, files, fmt, options, link)
        current = os.readlink(link) if link.is_symlink() else None
        return link, name, fmt, current != target
    repos_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(repos_dir / ".stages.lock", options.lock_timeout, f"publishing {rel}"):
        if (final / COMPLETE).is_file():
            verify_snapshot(final, files, fmt, options, link)
        else:
            staged = snapshots / f".{name}.staging"
            if staged.exists():
                shutil.rmtree(staged)  # left by a run killed mid-way
            staged.mkdir(parents=True)
            try:
                _assemble(staged, files, fmt, suite=suite, options=options, rel=rel)
                fsync_tree(staged)
                rename_into_place(staged, final, snapshots / ".trash")
            finally:
                if staged.exists():
                    shutil.rmtree(staged, ignore_errors=True)
        changed = swap_symlink(link, target)
    return link, name, fmt, changed


def publish(
    release: Release,
    stage: str,
    workdir: str | Path,
    options: PublishOptions,
    *,
    check: bool = False,
    installability: Installability | None = None,
) -> list[Published]:
    """Publish ``stage`` of ``release``, one signed repository per repository of the release.

    The stage is validated (and, with ``installability``, checked installable)
    first: bad input leaves every published stage as it was.
    """
    current = load(release, stage, workdir)
    if installability is not None:
        check_installable(release, current, workdir, installability)
    out = []
    for repo in release.repos:
        files = _files(current, repo, workdir)
        if not files:
            continue
        rel = f"stages/{release.name}/{repo}/{stage}"
        link, name, fmt, changed = publish_files(files, rel, f"{release.name}-{stage}", options, check=check)
        out.append(
            Published(repo, stage, str(link), options.url(rel), name, fmt, sorted(p.name for p in files), changed)
        )
    return out


def overlay_files(release: Release, changes: list[Change], repo: str, workdir: str | Path) -> list[Path]:
    """The packages of the changed NVRs of one repository: the gate's repository on top of ``release``."""
    files = []
    for change in changes:
        if change.repo == repo and change.new is not None:
            found = tagged.stored(workdir, change.project, change.new)
            if found is None:
                raise InputError(f"{repo}.{change.project}: {change.new} was never built; build its tag first")
            files += tagged.package_files(*found)
    return files
