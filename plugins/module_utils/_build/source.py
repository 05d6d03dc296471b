"""From an upstream commit to a versioned, bit-for-bit reproducible source tarball.

As DLRN does, the tarball is what ``python3 setup.py sdist`` makes of the
commit (pbr projects then carry their version, AUTHORS and ChangeLog), but
the sdist runs without network in the sandbox and is repacked with sorted
entries, the commit time as every mtime and no owner names, so the same
commit always gives the same bytes.  Projects without setup.py are packed
from the tree (``git archive``), as DLRN does for them.

The sdist is whatever the project's setup.py wrote: the engine reads it
only when it is a regular file of the build directory, and repacks only
members that stay inside its top directory (archive.py), within the
build's disk limit; hard links become plain files (sorting the members
could put a link before its target).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import tarfile
from dataclasses import dataclass
from datetime import datetime, timezone

from .._common.errors import InputError
from .._common.files import open_atomic, sha256_file
from .._common.proc import run
from .._versions import pbr
from . import archive
from .buildlog import BuildLog
from .contain import MIB, fresh_dir, regular_file
from .sandbox import BUILD_ROOT, base_env, bwrap_argv

_PBR_RE = re.compile(r"pbr\s*=\s*True|^\[pbr\]", re.MULTILINE)


@dataclass(frozen=True)
class BuildInputs:
    """Everything a backend needs for one build, prepared by the runner."""

    build_dir: str  # on the builder; /build in the sandbox
    distgit_dir: str  # the distgit commit's files
    source: Source
    log: BuildLog
    project: str
    distro_hash: str
    release_build: bool = False  # the version is a tag's final one (runner.tagged_version)


@dataclass(frozen=True)
class Source:
    """The source tarball of one commit and the versions derived from it."""

    tarball: str  # path on the builder
    name: str  # sdist name, e.g. keystone
    version: pbr.PackageVersion
    sha256: str

    @property
    def top_dir(self) -> str:
        """The directory inside the tarball: ``<name>-<upstream_version>``."""
        return f"{self.name}-{self.version.upstream_version}"


def checkout(mirror: str, commit: str, dest: str) -> None:
    """A working copy of ``commit`` (with its git history: pbr reads it)."""
    if os.path.exists(dest):
        shutil.rmtree(dest)
    run(["git", "clone", "--quiet", "--no-checkout", mirror, dest], what=f"git clone {mirror}", timeout=600)
    run(["git", "-C", dest, "checkout", "--quiet", "--detach", commit], what=f"git checkout {commit}", timeout=600)


def is_pbr(src: str) -> bool:
    """True when the project versions itself with pbr."""
    for name in ("setup.py", "setup.cfg"):
        path = os.path.join(src, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                if _PBR_RE.search(handle.read()):
                    return True
    return False


def static_version(commit_hash: str, commit_time: int, version: str, epoch: int | None) -> pbr.PackageVersion:
    """Package versions for a project whose setup.py states its version.

    Snapshots come after the stated release, so the Debian version uses
    ``+git`` (``1.0.0+git<time>.<hash7>``); the rpm Release carries the
    commit time as for pbr projects.
    """
    stamp = datetime.fromtimestamp(commit_time, tz=timezone.utc).strftime("%Y%m%d%H%M%S")
    rpm_version = version.replace("-", ".")
    prefix = f"{epoch}:" if epoch is not None else ""
    deb_upstream = re.sub(r"[^A-Za-z0-9.+~]", ".", version)
    return pbr.PackageVersion(
        commit_hash=commit_hash,
        commit_time=commit_time,
        upstream_version=version,
        tag=None,
        distance=0,
        rpm_version=rpm_version,
        rpm_release=f"0.{stamp}.{commit_hash[:7]}",
        deb_version=f"{prefix}{deb_upstream}+git{stamp}.{commit_hash[:7]}-1",
        epoch=epoch,
    )


def sdist_scope(where: str, name: str, top: str | None = None) -> archive.Scope:
    """How the members of the sdist ``name`` are checked and refusals worded."""
    return archive.Scope(
        where=where,
        what=f"sdist {name}: member",
        inside="its top directory",
        advice="refused (a source tarball must keep to its top directory: fix the project's sdist)",
        top=top,
    )


def _normalise_tarball(
    raw: str, dest: str, top_dir: str, mtime: int, *, where: str = "", size_limit: int | None = None
) -> None:
    """Repack ``raw`` (any tar) into ``dest`` deterministically under ``top_dir``.

    Refused (one line) when ``raw`` is no tar, holds a member that would land
    outside its one top directory, or unpacks to more than ``size_limit`` bytes.
    """
    scope = sdist_scope(where or raw, os.path.basename(raw))
    with archive.open_tar(raw, scope) as src:
        members = src.getmembers()
        archive.check_members(members, scope, size_limit=size_limit)
        roots = {m.name.split("/", 1)[0] for m in members}
        if len(roots) != 1:
            raise InputError(f"{raw}: a source tarball must hold one top directory, found {sorted(roots)[:3]}")
        old_root = roots.pop()
        archive.check_members(members, sdist_scope(scope.where, os.path.basename(raw), top=old_root))
        by_name = {m.name: m for m in members}
        # Written aside (a new name, never a link planted in the build dir) and renamed over ``dest``.
        with (
            open_atomic(dest, 0o644, durable=False) as handle,
            gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0) as gz,
        ):
            out = tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115 - closed below
            for member in sorted(members, key=lambda m: m.name):
                data = src.extractfile(member) if member.isreg() or member.islnk() else None
                if member.islnk():  # a plain copy of its target (checked: a file of the archive)
                    member.type, member.size = tarfile.REGTYPE, by_name[member.linkname.rstrip("/")].size
                    member.linkname = ""
                member.name = top_dir + member.name[len(old_root) :]
                member.mtime = mtime
                member.uid = member.gid = 0
                member.uname = member.gname = ""
                member.mode = (
                    (0o755 if member.isdir() or member.mode & 0o111 else 0o644) if not member.issym() else 0o777
                )
                member.pax_headers = {}
                out.addfile(member, data)
            out.close()  # the end-of-archive blocks, before the gzip trailer


def sdist_version(path: str) -> str:
    """The ``Version:`` of the sdist's top-level PKG-INFO (what ``setup.py --version`` prints)."""
    with archive.open_tar(path, sdist_scope(path, os.path.basename(path))) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                handle = tar.extractfile(member)
                text = handle.read(MIB).decode("utf-8", errors="replace") if handle else ""
                for line in text.splitlines():
                    if line.startswith("Version:"):
                        return line.split(":", 1)[1].strip()
                    if not line.strip():  # end of the headers
                        break
    return ""


def _sandboxed(build_dir: str, log: BuildLog, argv: list[str], env: dict[str, str], what: str) -> None:
    log.run(bwrap_argv(build_dir, argv, env=env, cwd=f"{BUILD_ROOT}/src"), what=what)


def make_source(
    mirror: str,
    commit: str,
    build_dir: str,
    log: BuildLog,
    *,
    epoch: int | None = None,
    project: str | None = None,
) -> Source:
    """Check out ``commit`` under ``build_dir``/src and make its source tarball in ``build_dir``/sources.

    Only Python projects (setup.py) are supported, as with DLRN's default
    driver; the version comes from pbr's rules for pbr projects (computed
    from git, no code run) and from the sdist's PKG-INFO otherwise (what
    ``setup.py --version`` says, without running setup.py a second time).
    """
    where = project or mirror
    src = os.path.join(build_dir, "src")
    log.write(f"==> checkout {commit} from {mirror}")
    checkout(mirror, commit, src)
    if not os.path.exists(os.path.join(src, "setup.py")):
        raise InputError(f"{where}: no setup.py at {commit[:12]}; only Python projects can be packaged so far")
    commit_hash, commit_time = run(
        ["git", "-C", src, "log", "-1", "--format=%H %ct", commit], what="git log"
    ).stdout.split()
    sdist_dir = os.path.join(build_dir, "sdist")
    if is_pbr(src):
        version: pbr.PackageVersion | None = pbr.package_version(src, commit_hash, epoch=epoch)
        # pbr must not second-guess the version we computed from the same git history.
        env = base_env(version.commit_time, {"PBR_VERSION": version.upstream_version})
    else:
        version = None  # setup.py states it: read from the sdist's PKG-INFO, no second setup.py run
        env = base_env(int(commit_time))
    _sandboxed(
        build_dir,
        log,
        ["python3", "setup.py", "-q", "sdist", "--formats=gztar", "-d", f"{BUILD_ROOT}/sdist"],
        env,
        "python3 setup.py sdist (no network)",
    )
    made = sorted(os.listdir(sdist_dir)) if os.path.isdir(sdist_dir) else []
    if version is None:
        if len(made) != 1 or not made[0].endswith(".tar.gz"):
            raise InputError(f"{where}: sdist made {made}, expected one <name>-<version>.tar.gz")
        stated = sdist_version(regular_file(build_dir, os.path.join(sdist_dir, made[0]), where, "the sdist"))
        if not stated:
            raise InputError(f"{where}: the sdist's PKG-INFO has no Version; fix setup.py")
        version = static_version(commit_hash, int(commit_time), stated, epoch)
    suffix = f"-{version.upstream_version}.tar.gz"
    if len(made) != 1 or not made[0].endswith(suffix):
        raise InputError(f"{where}: sdist made {made}, expected one <name>{suffix}")
    name = made[0][: -len(suffix)]
    raw = regular_file(build_dir, os.path.join(sdist_dir, made[0]), where, "the sdist")
    tarball = os.path.join(fresh_dir(build_dir, "sources", where), made[0])
    _normalise_tarball(
        raw,
        tarball,
        f"{name}-{version.upstream_version}",
        version.commit_time,
        where=where,
        size_limit=log.disk_limit,
    )
    digest = sha256_file(tarball)
    log.write(f"source tarball {made[0]} sha256 {digest}")
    return Source(tarball=tarball, name=name, version=version, sha256=digest)
