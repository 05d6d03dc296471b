"""Tagged builds of a release: which tag each package ships, and the store of released NVRs.

The package database says per release what each package ships, as rdoinfo
does: ``source-branch:`` in ``tags/<release>.yml`` pins an upstream tag (or
a branch whose head must carry one): under the tag ``<release>-release``
when the release's trunk builds follow a branch (the example distro), else
under the release tag itself (rdoinfo's stable releases); the extra tag
``version-locked`` (``version-locked: {<release>: }``) keeps the release-day
step from moving the pin to a newer tag.  :func:`plan` turns that into
release build jobs for the build runner (``_build.runner``, ``release_build``
mode: final version from the tag, Release from the packaging).

A successful release build is recorded in the NVR store,
``<workdir>/tagged/<project>/<nvr>/``: its packages and ``buildinfo.json``.
An NVR is immutable: recording the same NVR again with other output bytes
(another source or packaging commit, same Release) is refused with one line;
the same bytes again (a rebuild is bit-identical) change nothing.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._build.runner import BuildJob, BuildResult
from .._common.errors import InputError
from .._common.files import fsync_tree, rename_into_place, sha256_file
from .._common.proc import run
from .._pkgdb import loader
from .._sources import git as srcgit
from .._versions import pbr

STORE = "tagged"
BUILDINFO = "buildinfo.json"
VERSION_LOCKED = "version-locked"
RELEASE_TAG_SUFFIX = "-release"


@dataclass(frozen=True)
class Pin:
    """What one package ships in a release: an upstream ref (a tag, normally) and the packaging branch."""

    project: str
    name: str
    upstream: str
    distgit: str
    ref: str  # source-branch: a tag, a branch or a commit hash
    distgit_branch: str
    version_locked: bool
    pinned: bool  # source-branch set for the release (else the release's upstream branch)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for a module result."""
        return asdict(self)


def pins(pkgdb: str, release: str, names: list[str] | None = None, cache_dir: str | None = None) -> list[Pin]:
    """The pins of every package tagged for ``release`` (or of ``names``)."""
    db = loader.read(pkgdb, release=release, names=names or None, cache_dir=cache_dir)
    rel = next((r for r in db.releases if r.get("name") == release), {})
    merged, _tracked = loader.load(pkgdb, cache_dir=cache_dir)
    out = []
    for pkg in db.packages:
        is_locked = _locked_for(merged, pkg["project"], release)
        ref = _release_pin(merged, pkg["project"], release) or pkg["source_branch"]
        out.append(
            Pin(
                project=pkg["project"],
                name=pkg["name"],
                upstream=pkg["upstream"],
                distgit=pkg["distgit"],
                ref=ref,
                distgit_branch=pkg["distgit_branch"],
                version_locked=is_locked,
                pinned=ref != rel.get("upstream_branch"),
            )
        )
    return out


def _release_pin(merged: dict[str, Any], project: str, release: str) -> str | None:
    """``tags.<release>-release.source-branch`` of a package (the last file naming it wins)."""
    pin = None
    for entry in merged.get("packages") or []:
        if entry.get("project") == project:
            overrides = (entry.get("tags") or {}).get(f"{release}{RELEASE_TAG_SUFFIX}") or {}
            pin = overrides.get("source-branch") or pin
    return pin


def _locked_for(merged: dict[str, Any], project: str, release: str) -> bool:
    """rdoinfo's ``version-locked`` tag: empty locks every release, a mapping the releases it names."""
    for entry in merged.get("packages") or []:
        if entry.get("project") == project:
            tags = entry.get("tags") or {}
            if VERSION_LOCKED not in tags:
                continue
            value = tags[VERSION_LOCKED]
            if value is None or (isinstance(value, dict) and release in value):
                return True
    return False


def resolve_job(pin: Pin, mirror_dir: str) -> BuildJob:
    """The release build job of ``pin``: its tag's commit and the packaging branch's head.

    A tag that does not exist upstream is one line naming the package and the tag.
    """
    try:
        commit = srcgit.resolve(pin.upstream, pin.ref)
    except Exception as exc:  # CommandError from ls-remote: say which package and what to do
        raise InputError(
            f"{pin.project}: source-branch {pin.ref!r} is no tag or branch of {pin.upstream} ({exc}); "
            "pin an existing tag in tags/<release>.yml"
        ) from None
    try:
        distro = srcgit.resolve(pin.distgit, pin.distgit_branch)
    except Exception as exc:
        raise InputError(
            f"{pin.project}: distgit branch {pin.distgit_branch!r} is not in {pin.distgit} ({exc}); "
            "fix distro-branch or the release's branch"
        ) from None
    del mirror_dir  # the runner fetches both commits into its mirrors
    return BuildJob(
        project=pin.project,
        name=pin.name,
        upstream=pin.upstream,
        distgit=pin.distgit,
        commit_hash=commit,
        distro_hash=distro,
        release_build=True,
    )


def plan(pkgdb: str, release: str, mirror_dir: str, names: list[str] | None = None) -> list[BuildJob]:
    """Release build jobs for every package of ``release`` (or ``names``)."""
    return [resolve_job(pin, mirror_dir) for pin in pins(pkgdb, release, names)]


def newer_tags(repo: str, current: str) -> list[str]:
    """Version tags of the git repository ``repo`` that pbr orders after ``current``, oldest first."""
    try:
        base = pbr.SemVer.parse(current).sort_key()
    except ValueError:
        raise InputError(f"{repo}: the pin {current!r} is not a version tag; pin a tag to look for newer") from None
    out = run(["git", "-C", repo, "tag", "--list"], what="git tag").stdout.split()
    found = []
    for name in out:
        try:
            version = pbr.SemVer.parse(name)
        except ValueError:
            continue
        if version.sort_key() > base and not version.pre_type:
            found.append((version.sort_key(), name))
    return [name for _key, name in sorted(found)]


# -- the NVR store -------------------------------------------------------------------------------


def store_dir(workdir: str | Path, project: str, nvr: str) -> Path:
    """Where the released ``nvr`` of ``project`` lives."""
    return Path(workdir) / STORE / project / nvr


def package_digests(buildinfo: dict[str, Any]) -> dict[str, str]:
    """``{file: sha256}`` of a build's packages (the .buildinfo/.changes metadata list the builder, not the content)."""
    return {
        out["name"]: out["sha256"]
        for out in buildinfo.get("outputs") or []
        if not out["name"].endswith((".buildinfo", ".changes"))
    }


def read_buildinfo(path: Path) -> dict[str, Any] | None:
    """A stored build's buildinfo.json, None when there is none."""
    try:
        return json.loads((path / BUILDINFO).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path / BUILDINFO}: unreadable ({exc}); remove it and build the tag again") from None


@dataclass
class Recorded:
    """What recording one release build did."""

    project: str
    nvr: str
    path: str
    state: str  # "new", "unchanged"

    def as_dict(self) -> dict[str, Any]:
        """Plain data for a module result."""
        return asdict(self)


def check_immutable(workdir: str | Path, project: str, nvr: str, buildinfo: dict[str, Any]) -> str:
    """``new`` or ``unchanged`` for recording this build; InputError when the NVR exists with other content."""
    old = read_buildinfo(store_dir(workdir, project, nvr))
    if old is None:
        return "new"
    before, after = package_digests(old), package_digests(buildinfo)
    if before == after:
        return "unchanged"
    was, now = old.get("inputs") or {}, buildinfo.get("inputs") or {}
    what = []
    for key, label in (("commit_hash", "source"), ("distro_hash", "packaging")):
        if was.get(key) != now.get(key):
            what.append(f"{label} {str(was.get(key))[:8]} -> {str(now.get(key))[:8]}")
    changed = ", ".join(what) or "same commits, other bytes"
    raise InputError(
        f"{project}: {nvr} is already released with other content ({changed}); a released NVR never changes: "
        "bump the Release (spec Release:, or a new debian/changelog entry) and build again"
    )


def record(workdir: str | Path, result: BuildResult | dict[str, Any]) -> Recorded:
    """Put a successful release build into the NVR store, refusing to change a released NVR."""
    data = result.as_dict() if isinstance(result, BuildResult) else result
    project, nvr = data["project"], data["nvr"]
    info = json.loads(Path(data["buildinfo"]).read_text(encoding="utf-8"))
    if not (info.get("inputs") or {}).get("release_build"):
        raise InputError(f"{project}: {nvr} is a snapshot build, not a release build; build the tag with release_build")
    final = store_dir(workdir, project, nvr)
    state = check_immutable(workdir, project, nvr, info)
    if state == "unchanged":
        return Recorded(project, nvr, str(final), state)
    staged = final.with_name(f".{final.name}.staging")
    if staged.exists():
        shutil.rmtree(staged)  # left by a run killed mid-way
    staged.mkdir(parents=True)
    for path in [*data["artifacts"], data["buildinfo"], data["log"]]:
        shutil.copy2(path, staged / os.path.basename(path))
    for out in info["outputs"]:  # the copies are what the store vouches for
        if sha256_file(staged / out["name"]) != out["sha256"]:
            shutil.rmtree(staged)
            raise InputError(f"{project}: {out['name']} changed while it was recorded; build the tag again")
    fsync_tree(staged)
    rename_into_place(staged, final, Path(workdir) / STORE / ".trash")
    return Recorded(project, nvr, str(final), state)


def stored(workdir: str | Path, project: str, nvr: str) -> tuple[Path, dict[str, Any]] | None:
    """The store directory and buildinfo of a released NVR, None when it was never built."""
    path = store_dir(workdir, project, nvr)
    info = read_buildinfo(path) if path.is_dir() else None
    return (path, info) if info is not None else None


def package_files(path: Path, info: dict[str, Any]) -> list[Path]:
    """The files of a stored build that go into a repository: its binary packages (and source rpm).

    Each is checked against the digest its build recorded: a package changed in the store after the
    build (by hand, a disk fault, an intruder) is refused in one line before any repository is written.
    """
    digests = package_digests(info)
    files = []
    for name in sorted(digests):
        if not name.endswith((".rpm", ".deb", ".udeb")):
            continue
        file = path / name
        try:
            found = sha256_file(file)
        except OSError as exc:
            found = f"unreadable ({exc.strerror})"
        if found != digests[name]:
            raise InputError(
                f"{info.get('project', path.parent.name)}: {name} of {info.get('nvr', path.name)} in {path} is not "
                f"what was built (sha256 {found[:16]}, built {digests[name][:16]}); the NVR store was changed after "
                f"the build: nothing was published; move {path} aside and build the tag again (bit-identical)"
            )
        files.append(file)
    return files
