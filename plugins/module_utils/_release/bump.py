"""new-version: propose an upstream tag's packaging as one commit on a new branch of the distgit.

What ``rdopkg new-version -b`` does for RDO, for the spec and ``debian/``
at once: ``Version:`` and ``Release: 1%{?dist}``, a ``%changelog`` entry,
a literal ``Source0``, and a ``debian/changelog`` entry ``<epoch:>version-1``
for the release's distribution.  Dates are the tag's (never the clock's) and
the author is given, so the commit is the same on every run: a second run
with the same tag finds its branch and changes nothing.  The distgit's
existing branches are never touched.
"""

from __future__ import annotations

import difflib
import tempfile
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Mapping

from .._common.errors import InputError
from .._versions.vercmp import deb_vercmp, rpm_vercmp
from . import pkgfiles
from . import reqcheck as rc
from .gitwork import Distgit, Upstream
from .pymod import PackageMap
from .pymod import load as load_map
from .reqcheck import InvalidVersion, Version, need_packaging

DEFAULT_AUTHOR = "distroforge <builder@distroforge.invalid>"
DEFAULT_BRANCH = "{release}-bump-{version}"


def distro_version(tag: str, where: str) -> str:
    """The version a package gets from upstream tag ``tag``: pre-releases with ``~`` (``1.0.0~rc1``)."""
    need_packaging()
    try:
        version = Version(tag)
    except InvalidVersion:
        raise InputError(f"{where}: tag {tag!r} is not a version (PEP 440); name a release tag such as 5.0.2") from None
    if version.local or version.dev is not None or version.epoch:
        raise InputError(f"{where}: tag {tag!r} is not a release version; name a release tag such as 5.0.2")
    parts = list(version.release)
    if version.pre is not None and len(parts) == 4 and parts[3] == 0:
        parts = parts[:3]  # OpenStack tags its candidates 23.0.0.0rc1: the version is 23.0.0~rc1 (pbr's reading)
    text = ".".join(str(part) for part in parts)
    if version.pre is not None:
        text += f"~{version.pre[0]}{version.pre[1]}"
    if version.post is not None:
        text += f".post{version.post}"
    return text


@dataclass
class Packaging:
    """What a distgit checkout holds: the spec and/or debian/ and the versions they state."""

    spec: Path | None = None
    spec_version: pkgfiles.PackagedVersion | None = None
    changelog: Path | None = None
    deb_source: str = ""
    deb_version: pkgfiles.PackagedVersion | None = None
    deb_distribution: str = ""

    @property
    def upstream_versions(self) -> list[str]:
        return [v.version for v in (self.spec_version, self.deb_version) if v is not None]


def read_packaging(tree: Path, where: str) -> Packaging:
    """The spec and debian/changelog at the top of ``tree``; at least one must be there."""
    found = Packaging()
    specs = sorted(tree.glob("*.spec"))
    if specs:
        found.spec = pkgfiles.find_spec(tree, where)
        text = found.spec.read_text(encoding="utf-8")
        found.spec_version = pkgfiles.spec_version(text, f"{where}: {found.spec.name}")
    changelog = tree / "debian" / "changelog"
    if changelog.is_file():
        found.changelog = changelog
        found.deb_source, found.deb_version, found.deb_distribution = pkgfiles.debian_version(
            changelog.read_text(encoding="utf-8"), f"{where}: debian/changelog"
        )
    if found.spec is None and found.changelog is None:
        raise InputError(f"{where}: holds neither a .spec nor debian/changelog at its top; nothing to bump")
    return found


def _compare(new: str, old: pkgfiles.PackagedVersion, fmt: str) -> int:
    epoch = f"{old.epoch}:" if old.epoch else ""
    if fmt == "rpm":
        return rpm_vercmp(f"{epoch}{new}", f"{epoch}{old.version}")
    return deb_vercmp(f"{epoch}{new}", f"{epoch}{old.version}")


@dataclass
class Bump:
    """The outcome of new-version for one package."""

    package: str
    tag: str
    version: str
    branch: str
    status: str  # bumped | exists | current
    upstream_commit: str = ""
    distgit_commit: str = ""
    old: dict[str, str] = field(default_factory=dict)
    new: dict[str, str] = field(default_factory=dict)
    diff: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.status == "bumped"

    def as_dict(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "tag": self.tag,
            "version": self.version,
            "branch": self.branch,
            "status": self.status,
            "upstream_commit": self.upstream_commit,
            "distgit_commit": self.distgit_commit,
            "old": self.old,
            "new": self.new,
            "warnings": self.warnings,
        }


def _author(text: str) -> tuple[str, str]:
    name, email = parseaddr(text)
    if not name or "@" not in email:
        raise InputError(f"author {text!r} is not 'Name <email>'; give e.g. {DEFAULT_AUTHOR!r}")
    return name, email


def choose_tag(upstream: Upstream, branch: str, packaged: list[str], where: str, prerelease: bool) -> str | None:
    """The newest version tag on ``branch`` above every packaged version; None when there is none."""
    best: tuple[Version, str] | None = None
    for tag in upstream.tags_on_branch(branch):
        try:
            version = Version(tag)
        except InvalidVersion:
            continue
        if version.is_devrelease or version.local or (version.is_prerelease and not prerelease):
            continue
        distro = distro_version(tag, where)
        if all(rpm_vercmp(distro, old) > 0 for old in packaged) and (best is None or version > best[0]):
            best = (version, tag)
    return best[1] if best else None


def _check_entry(package: Mapping[str, Any]) -> str:
    name = str(package.get("name") or package.get("project") or "?")
    for key in ("upstream", "distgit", "distgit_branch"):
        if not package.get(key):
            raise InputError(f"package {name}: no '{key}' in the package database entry; add it (or name a release)")
    return name


def _known_tag(tags: Mapping[str, str], tag: str, name: str, url: object) -> None:
    if tag not in tags:
        raise InputError(
            f"package {name}: upstream {url} has no tag {tag!r}; name an existing tag (newest: {_newest(tags)})"
        )


def _branch_name(package: Mapping[str, Any], template: str, version: str, tag: str, name: str) -> str:
    release = str(package.get("release") or package["distgit_branch"]).split("-", maxsplit=1)[0]
    return template.format(release=release, version=version, tag=tag, name=name)


def new_version(
    package: Mapping[str, Any],
    *,
    tag: str | None = None,
    author: str = DEFAULT_AUTHOR,
    distribution: str | None = None,
    branch_template: str = DEFAULT_BRANCH,
    prerelease: bool = False,
    commit: bool = True,
    scratch: Path | None = None,
) -> Bump:
    """Bump ``package`` (a package of the database, with ``distgit``, ``distgit_branch``, ...) to ``tag``.

    ``tag`` None: the newest version tag on the package's ``source_branch``
    above the packaged version.  ``commit`` False (check mode): everything is
    computed in the scratch clone and nothing is pushed.
    """
    if scratch is None:
        with tempfile.TemporaryDirectory(prefix="distroforge-bump-") as tmp:
            return new_version(
                package, tag=tag, author=author, distribution=distribution, branch_template=branch_template,
                prerelease=prerelease, commit=commit, scratch=Path(tmp),
            )  # fmt: skip
    need_packaging()
    name = _check_entry(package)
    identity = _author(author)
    upstream = Upstream(str(package["upstream"]), scratch)
    distgit = Distgit(str(package["distgit"]), str(package["distgit_branch"]), scratch)
    found = read_packaging(distgit.tree, f"{name} distgit {package['distgit_branch']}")
    if tag is None:
        source_branch = str(package.get("source_branch") or "master")
        tag = choose_tag(upstream, source_branch, found.upstream_versions, name, prerelease)
        if tag is None:
            versions = _versions(found)
            return Bump(
                name, "", " / ".join(sorted(set(found.upstream_versions))), "", "current", old=versions, new=versions
            )
    tags = upstream.tags()
    _known_tag(tags, tag, name, package["upstream"])
    version = distro_version(tag, f"package {name}")
    formats = [(fmt, old) for fmt, old in (("rpm", found.spec_version), ("deb", found.deb_version)) if old is not None]
    older = [f"{fmt} {old.evr}" for fmt, old in formats if _compare(version, old, fmt) < 0]
    if older:
        raise InputError(
            f"package {name}: tag {tag} ({version}) sorts lower than the packaged {', '.join(older)}; "
            "name a newer tag (vercmp)"
        )
    branch = _branch_name(package, branch_template, version, tag, name)
    result = Bump(name, tag, version, branch, "current", upstream_commit=tags[tag], old=_versions(found))
    result.new = dict(result.old)
    stale = [(fmt, old) for fmt, old in formats if _compare(version, old, fmt) > 0]
    if not stale:
        return result
    upstream.fetch_tags(tag)
    # The tag's date, unless the packaging's changelogs are newer: rpmbuild refuses a %changelog
    # out of date order, and a changelog entry older than the one below it would mislead.
    when = max([upstream.tag_time(tag), *_changelog_times(found)])
    changed = [
        _edit(
            found,
            fmt,
            old=old,
            version=version,
            when=when,
            author=author,
            distribution=distribution,
            result=result,
            tree=distgit.tree,
        )
        for fmt, old in stale
    ]
    result.warnings += _sources_warnings(distgit.tree, [old for _fmt, old in stale], version, name)
    message = f"Update to {version}\n\nUpstream tag {tag} (commit {tags[tag]}).\n"
    ours = distgit.commit(changed, message, author=identity, when=when)
    result.distgit_commit = ours
    if distgit.remote_branch(branch) is not None:
        theirs = distgit.fetch_branch(branch)
        if theirs == ours or distgit.is_ancestor(ours, theirs) or distgit.tree_of(theirs) == distgit.tree_of(ours):
            result.status = "exists"
            result.distgit_commit = theirs
            return result
        raise InputError(
            f"package {name}: branch {branch} of {package['distgit']} exists and holds other changes; "
            "delete it or choose another branch name"
        )
    result.status = "bumped"
    if commit:
        distgit.push_new_branch(ours, branch)
    return result


def _edit(
    found: Packaging,
    fmt: str,
    *,
    old: pkgfiles.PackagedVersion,
    version: str,
    when: int,
    author: str,
    distribution: str | None,
    result: Bump,
    tree: Path,
) -> str:
    """Bump one format's file in the work tree; record its diff and new version in ``result``; its path."""
    if fmt == "rpm" and found.spec is not None:
        path = found.spec
        before = path.read_text(encoding="utf-8")
        after = pkgfiles.bump_spec(before, old=old, version=version, date=when, author=author)
    else:
        if found.changelog is None:  # a deb version comes from the changelog
            raise InputError(f"package {result.package}: no debian/changelog to bump")
        path = found.changelog
        before = path.read_text(encoding="utf-8")
        after = pkgfiles.bump_debian_changelog(
            before, source=found.deb_source, old=old, version=version,
            distribution=distribution or found.deb_distribution, date=when, author=author,
        )  # fmt: skip
    path.write_text(after, encoding="utf-8")
    result.new[fmt] = f"{old.epoch + ':' if old.epoch else ''}{version}-1"
    relative = str(path.relative_to(tree))
    result.diff.append(
        {"before_header": f"a/{relative}", "after_header": f"b/{relative}", "before": before, "after": after}
    )
    return relative


def _sources_warnings(tree: Path, olds: list[pkgfiles.PackagedVersion], version: str, name: str) -> list[str]:
    """A Fedora-style ``sources`` file naming the old tarball: its checksum is the lookaside's business."""
    sources = tree / "sources"
    if not sources.is_file():
        return []
    text = sources.read_text(encoding="utf-8", errors="replace")
    named = sorted({old.version for old in olds if old.version and old.version in text})
    return [
        f"package {name}: sources names the {old} tarball; upload the {version} tarball to the lookaside "
        "and update sources (fedpkg new-sources)"
        for old in named
    ]


def _changelog_times(found: Packaging) -> list[int]:
    times = []
    if found.spec is not None:
        times.append(pkgfiles.spec_changelog_time(found.spec.read_text(encoding="utf-8")))
    if found.changelog is not None:
        times.append(pkgfiles.debian_changelog_time(found.changelog.read_text(encoding="utf-8")))
    return [when for when in times if when is not None]


def _versions(found: Packaging) -> dict[str, str]:
    out = {}
    if found.spec_version is not None:
        out["rpm"] = found.spec_version.evr
    if found.deb_version is not None:
        out["deb"] = found.deb_version.evr
    return out


def _newest(tags: Mapping[str, str]) -> str:
    versions = []
    for name in tags:
        try:
            versions.append((Version(name), name))
        except InvalidVersion:
            continue
    return max(versions)[1] if versions else "none"


def unified_diff(entry: Mapping[str, str]) -> str:
    """A unified diff of one bumped file (for reports)."""
    return "".join(
        difflib.unified_diff(
            entry["before"].splitlines(keepends=True),
            entry["after"].splitlines(keepends=True),
            entry["before_header"],
            entry["after_header"],
        )
    )


# -- reqcheck of a package at a tag ----------------------------------------------------------------


def reqcheck_package(
    package: Mapping[str, Any],
    *,
    tag: str | None = None,
    distgit_ref: str | None = None,
    overrides: Path | str | None = None,
    pkgmap: PackageMap | None = None,
    kinds: tuple[str, ...] = ("runtime", "build"),
    formats: tuple[str, ...] = ("rpm", "deb"),
    python_version: Mapping[str, str] | None = None,
    branch_template: str = DEFAULT_BRANCH,
    scratch: Path | None = None,
) -> rc.Report:
    """reqcheck ``package`` at upstream ``tag`` against its packaging.

    The packaging read is ``distgit_ref`` (a branch of the distgit) if given,
    else the bump branch for ``tag`` when it exists, else the release branch.
    ``tag`` None: the tag of the packaged version.  Removed requirements are
    those of the packaged version's tag (when upstream has it) missing at ``tag``.
    """
    if scratch is None:
        with tempfile.TemporaryDirectory(prefix="distroforge-reqcheck-") as tmp:
            return reqcheck_package(
                package, tag=tag, distgit_ref=distgit_ref, overrides=overrides, pkgmap=pkgmap, kinds=kinds,
                formats=formats, python_version=python_version, branch_template=branch_template, scratch=Path(tmp),
            )  # fmt: skip
    name = _check_entry(package)
    upstream = Upstream(str(package["upstream"]), scratch)
    distgit = Distgit(str(package["distgit"]), str(package["distgit_branch"]), scratch)
    release_found = read_packaging(distgit.tree, f"{name} distgit {package['distgit_branch']}")
    tags = upstream.tags()
    old_tag = next((v for v in release_found.upstream_versions if v in tags), None)
    if tag is None:
        tag = old_tag
        if tag is None:
            raise InputError(f"package {name}: upstream has no tag of the packaged version; name the tag to check")
    _known_tag(tags, tag, name, package["upstream"])
    ref = distgit_ref
    if ref is None:
        bump_branch = _branch_name(package, branch_template, distro_version(tag, name), tag, name)
        if distgit.remote_branch(bump_branch) is not None:
            ref = bump_branch
    where = f"{name} distgit {ref or package['distgit_branch']}"
    if ref is not None and ref != package["distgit_branch"]:
        if distgit.remote_branch(ref) is None:
            raise InputError(f"package {name}: the distgit has no branch {ref!r}; name an existing branch")
        distgit.checkout(distgit.fetch_branch(ref))
    fetch = [tag] + ([old_tag] if old_tag and old_tag != tag else [])
    upstream.fetch_tags(*fetch)
    files = tuple(rc.KINDS.values())
    requirements = {path: upstream.file_at(tag, path) for path in files}
    if requirements["requirements.txt"] is None:
        raise InputError(f"package {name}: upstream tag {tag} has no requirements.txt; nothing to check")
    old = {path: upstream.file_at(old_tag, path) for path in files} if old_tag and old_tag != tag else None
    packaging: dict[str, pkgfiles.Dependencies] = {}
    tree = distgit.tree
    if "rpm" in formats and sorted(tree.glob("*.spec")):
        spec = pkgfiles.find_spec(tree, where)
        packaging["rpm"] = pkgfiles.spec_dependencies(spec.read_text(encoding="utf-8"), f"{where}: {spec.name}")
    control = tree / "debian" / "control"
    if "deb" in formats and control.is_file():
        text = control.read_text(encoding="utf-8")
        packaging["deb"] = pkgfiles.control_dependencies(text, f"{where}: debian/control")
    if not packaging:
        raise InputError(f"{where}: holds no .spec or debian/control of the formats {', '.join(formats)}")
    return rc.check(
        package=name,
        tag=tag,
        requirements=requirements,
        old_requirements=old,
        old_tag=old_tag if old is not None else None,
        packaging=packaging,
        pkgmap=pkgmap or load_map(),
        overrides=rc.load_overrides(overrides, name),
        kinds=kinds,
        python_version=python_version,
    )
