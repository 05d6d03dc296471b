"""The version of an upstream commit as pbr computes it, and package versions from it.

pbr (``python setup.py --version``) is how OpenStack projects and DLRN
derive versions.  Running setup.py needs the project's build dependencies
and executes upstream code; here the same rules are applied to git alone,
as pbr 7 states them in ``pbr/packaging.py`` and ``pbr/version.py``:

* the commit carries a version tag → that version;
* otherwise walk ``git log`` from the commit to the first commit carrying a
  version tag (``distance`` = rows before it; without any tag the version
  is 0 and ``distance`` is the number of commits minus one), increment the
  tagged version (patch, or the pre-release serial after a pre-release tag;
  ``Sem-Ver: feature|deprecation`` → minor, ``Sem-Ver: api-break`` →
  major, read from every commit message since the tag) and append
  ``.dev<distance>``: ``1.0.1.dev3``, ``1.0.1.0rc2.dev3``, ``0.0.1.dev4``.

Not reproduced: ``PBR_VERSION`` and a ``version`` in setup.cfg (OpenStack
projects set neither), and pre-release types other than a/b/rc, which pbr
accepts when parsing but cannot order.

Package versions (see :func:`package_version`) come from the commit's time,
never the build's, so rebuilding a commit gives the same NVR.  DLRN cuts
every pre-release and dev suffix (``7.0.0.0rc2.dev1`` → Version ``7.0.0``)
and orders builds by its ``0.<build time>.<hash7>`` Release alone, so a
release candidate looks newer than the final release's predecessors only by
date.  We keep the pbr order in the Version instead:

==================== ======================== =====================================
pbr version          rpm Version              Debian version (upstream part)
==================== ======================== =====================================
``1.0.0``            ``1.0.0``                ``1.0.0``
``1.0.1.dev3``       ``1.0.1~~dev``           ``1.0.1~~git<time>.<hash7>``
``1.0.1.0rc1``       ``1.0.1~rc1``            ``1.0.1~rc1``
``1.0.1.0rc2.dev3``  ``1.0.1~rc2~dev``        ``1.0.1~rc2~git<time>.<hash7>``
==================== ======================== =====================================

pbr orders a dev version before every pre-release of the same target
(``1.0.1.dev3`` < ``1.0.1.0a1``); ``~~`` does the same in rpm and dpkg,
where ``~`` sorts before anything.  The dev count is left out of the rpm
Version (as DLRN does): the Release ``0.<commit time>.<hash7>`` orders
commits of one target, and commit times only grow along a branch because
the committer date, not the author date, is used.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from os import PathLike
from typing import Any, Dict, List, Optional, Tuple, Union

from .._common.errors import CommandError, InputError
from .._common.proc import run

_PRE_ORDER = {"a": 0, "b": 1, "rc": 2}
# Fixed environment for git: no pager, no user or system config that could
# change log formatting (log.showSignature, log.decorate, i18n).
_GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "LC_ALL": "C", "GIT_PAGER": "cat"}


def _numbers_first(parts: List[str], text: str) -> List[Union[str, int]]:
    """Dotted parts with the numeric ones first, padded to major.minor.patch (pbr's layout)."""
    numbers: List[Union[str, int]] = [p for p in parts if p.isdigit()]
    count = len(numbers)
    if count == 0:
        raise ValueError(f"invalid version {text!r}")
    if count < 3:
        if count < len(parts) and parts[count][0].isdigit():
            # "1.2rc1": the digits of a mixed part are the next number.
            mixed = parts[count]
            lead = "".join(itertools.takewhile(str.isdigit, mixed))
            numbers.append(lead)
            parts[count : count + 1] = [lead, mixed[len(lead) :]]
            count += 1
        numbers.extend([0] * (3 - count))
    return numbers + parts[count:]


def _pre_dev_post(rest: List[str], text: str) -> Tuple[Optional[str], Optional[int], Optional[int], Optional[int]]:
    """Pre-release type and number, dev count and post count from the parts after the patch level."""
    try:
        old_dev = bool(rest) and bool(int(rest[0]))
    except ValueError:
        old_dev = False
    if old_dev:  # pre-semver pbr: 0.10.1.3.g83bef74
        return None, None, int(rest[0]), None
    pre_type: Optional[str] = None
    pre_number: Optional[int] = None
    dev: Optional[int] = None
    post: Optional[int] = None
    if rest and (rest[0][0] == "0" or rest[0][0] in "abr"):
        segment = "".join(itertools.dropwhile(str.isdigit, rest[0]))
        pre_type = "".join(itertools.takewhile(str.isalpha, segment))
        pre_number = int(segment[len(pre_type) :])
        if pre_type not in _PRE_ORDER:
            raise ValueError(f"invalid pre-release {pre_type!r} in {text!r}: use a, b or rc")
        rest = rest[1:]
    for part in rest:
        if part.startswith("dev"):
            dev = int(part[3:])
        elif part.startswith("post"):
            dev, post = None, int(part[4:])
        else:
            raise ValueError(f"unknown part {part!r} in version {text!r}")
    return pre_type, pre_number, dev, post


@dataclass(frozen=True)
class SemVer:
    """pbr's semantic version: major.minor.patch, an optional a/b/rc pre-release and dev count."""

    major: int
    minor: int = 0
    patch: int = 0
    pre_type: Optional[str] = None
    pre_number: Optional[int] = None
    dev: int = 0

    @classmethod
    def parse(cls, text: str) -> "SemVer":
        """Parse a version string or tag as pbr's ``from_pip_string`` does; ValueError if pbr rejects it."""
        try:
            return cls._parse(text)
        except IndexError:
            raise ValueError(f"invalid version {text!r}") from None

    @classmethod
    def _parse(cls, text: str) -> "SemVer":
        # pbr's rules, restated: a "v" prefix is ignored; the numeric dotted
        # parts (wherever they stand) give major.minor.patch, padded with 0;
        # "1.2rc1" splits the digits off a mixed part; what follows is either
        # an old "N.gHASH" dev count, or an optional pre-release ("0rc1",
        # "rc1", "a2", "b3") then "devN"/"postN" parts.
        body = text.lstrip("vV")
        if not body[:1].isdigit():
            raise ValueError(f"invalid version {text!r}")
        components = _numbers_first(body.split("."), text)
        major, minor = int(components[0]), int(components[1])
        try:
            patch = int(components[2])
        except ValueError:
            patch = 0
            components[2:2] = [0]
        pre_type, pre_number, dev, post = _pre_dev_post([str(c) for c in components[3:]], text)
        version = cls(major, minor, patch, pre_type, (pre_number or 0) if pre_type else None, dev or 0)
        if post:
            if dev:
                raise ValueError(f"version {text!r} combines postN and devN")
            # A post-release is a dev build of the next version.
            version = version.increment().with_dev(post)
        return version

    def sort_key(self) -> Tuple[Any, ...]:
        """pbr's order: dev builds of a target first, then a, b, rc, then the release."""
        unqualified_dev = 0 if self.dev and not self.pre_type else 1
        pre = _PRE_ORDER[self.pre_type] if self.pre_type else 3
        return (self.major, self.minor, self.patch, unqualified_dev, pre, self.pre_number or 0, self.dev or 1 << 62)

    def increment(self, minor: bool = False, major: bool = False) -> "SemVer":
        """The next version: pre-release serial + 1 or patch + 1; minor/major reset what follows."""
        if major:
            return SemVer(self.major + 1, 0, 0)
        if minor:
            return SemVer(self.major, self.minor + 1, 0)
        if self.pre_type:
            return SemVer(self.major, self.minor, self.patch, self.pre_type, (self.pre_number or 0) + 1)
        return SemVer(self.major, self.minor, self.patch + 1)

    def with_dev(self, dev: int) -> "SemVer":
        """This version as the ``dev``-th commit towards it."""
        return SemVer(self.major, self.minor, self.patch, self.pre_type, self.pre_number, dev)

    @property
    def base(self) -> str:
        """``major.minor.patch``."""
        return f"{self.major}.{self.minor}.{self.patch}"

    def release_string(self) -> str:
        """pbr's version string: ``1.0.1``, ``1.0.1.0rc1``, ``1.0.1.dev3``, ``1.0.1.0rc2.dev3``."""
        text = self.base
        if self.pre_type:
            text += f".0{self.pre_type}{self.pre_number}"
        if self.dev:
            text += f".dev{self.dev}"
        return text

    def _tilde_version(self, dev_suffix: str) -> str:
        pre = f"~{self.pre_type}{self.pre_number}" if self.pre_type else ""
        if self.dev:
            # "~" alone stands for "before every pre-release" (pbr's order).
            return f"{self.base}{pre or '~'}~{dev_suffix}"
        return f"{self.base}{pre}"

    def rpm_version(self) -> str:
        """rpm Version: pre-releases as ``~rc1``, dev builds as ``~~dev``/``~rc2~dev`` (no count)."""
        return self._tilde_version("dev")

    def deb_upstream(self, timestamp: str, hash7: str) -> str:
        """Debian upstream version: like :meth:`rpm_version` with ``git<time>.<hash7>`` for ``dev``."""
        return self._tilde_version(f"git{timestamp}.{hash7}")


@dataclass(frozen=True)
class UpstreamVersion:
    """pbr's answer for one commit and how it was reached."""

    version: SemVer
    tag: Optional[str]
    distance: int


def _git(repo: Union[str, PathLike], *args: str, what: str) -> str:
    return run(["git", "-C", str(repo), *args], env=_GIT_ENV, what=what, timeout=120).stdout


def _tags_of(decoration: str) -> List[str]:
    # --decorate=full %D: "HEAD -> refs/heads/main, tag: refs/tags/1.0.0"
    return [item[len("tag: refs/tags/") :] for item in decoration.split(", ") if item.startswith("tag: refs/tags/")]


def _sem_ver_bumps(repo: Union[str, PathLike], tag: Optional[str], commit: str) -> Dict[str, bool]:
    spec = f"{tag}..{commit}" if tag else commit
    # pbr reads the range with the tag name as it normalised it ("-" → "."),
    # so for a tag such as "1.0.0-rc1" git finds no such revision and pbr
    # sees no Sem-Ver footers at all; mirror that rather than guess better.
    result = run(
        ["git", "-C", str(repo), "log", "--format=%B", spec, "--"],
        env=_GIT_ENV,
        check=False,
        timeout=120,
    )
    symbols = set()
    for raw in (result.stdout if result.rc == 0 else "").split("\n"):
        line = raw.lower().strip()
        if line.startswith("sem-ver:"):
            symbols.update(s.strip() for s in line[len("sem-ver:") :].split(","))
    return {
        "minor": bool(symbols & {"feature", "deprecation"}),
        "major": "api-break" in symbols,
    }


def resolve_commit(repo: Union[str, PathLike], commit: str) -> str:
    """The full hash of ``commit`` (a hash, tag or branch) in ``repo``; InputError if unknown."""
    if not isinstance(commit, str) or not commit or commit.startswith("-"):
        raise InputError(f"commit {commit!r} is not a git revision: give a commit hash, tag or branch")
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}", what="git rev-parse").strip()
    except CommandError:
        raise InputError(f"commit {commit!r} is not in the git repository {str(repo)!r}: fetch it first") from None


def upstream_version(repo: Union[str, PathLike], commit: str = "HEAD") -> UpstreamVersion:
    """pbr's version of ``commit`` in the git repository ``repo`` (no setup.py is run).

    ``tag`` in the answer is the tag name as pbr normalises it ("-" → ".").
    """
    return _upstream_version(repo, resolve_commit(repo, commit))


def _upstream_version(repo: Union[str, PathLike], commit_hash: str) -> UpstreamVersion:
    log = _git(repo, "log", "--decorate=full", "--format=%H%x00%D", commit_hash, "--", what="git log")
    rows = [line.split("\0", 1) for line in log.split("\n") if "\0" in line]
    tag: Optional[str] = None
    distance = 0
    for distance, row in enumerate(rows):  # noqa: B007 - distance is used after the loop
        candidates: Dict[SemVer, str] = {}
        for name in _tags_of(row[1]):
            normalised = name.replace("-", ".")
            try:
                candidates[SemVer.parse(normalised)] = normalised
            except ValueError:
                continue
        if candidates:
            tag = candidates[max(candidates, key=SemVer.sort_key)]
            break
    last = SemVer.parse(tag) if tag else SemVer(0)
    if distance == 0:
        return UpstreamVersion(last, tag, 0)
    target = last.increment(**_sem_ver_bumps(repo, tag, commit_hash))
    return UpstreamVersion(target.with_dev(distance), tag, distance)


@dataclass(frozen=True)
class PackageVersion:
    """Versions of one upstream commit for pbr, rpm and Debian packages."""

    commit_hash: str
    commit_time: int  # committer date, seconds since the epoch (UTC)
    upstream_version: str  # pbr's version string, e.g. 1.0.1.0rc2.dev3
    tag: Optional[str]  # the version tag pbr counted from, None without any
    distance: int  # commits since that tag (0: the commit is tagged)
    rpm_version: str
    rpm_release: str
    deb_version: str
    epoch: Optional[int] = None

    @property
    def timestamp(self) -> str:
        """Commit time as ``YYYYmmddHHMMSS`` in UTC."""
        return datetime.fromtimestamp(self.commit_time, tz=timezone.utc).strftime("%Y%m%d%H%M%S")

    @property
    def rpm_evr(self) -> str:
        """``[epoch:]version-release`` for rpm comparisons and dependencies."""
        prefix = f"{self.epoch}:" if self.epoch is not None else ""
        return f"{prefix}{self.rpm_version}-{self.rpm_release}"

    def as_dict(self) -> Dict[str, Any]:
        """All fields plus ``timestamp`` and ``rpm_evr``, for module results."""
        return {**asdict(self), "timestamp": self.timestamp, "rpm_evr": self.rpm_evr}


def package_version(
    repo_path: Union[str, PathLike],
    commit: str = "HEAD",
    *,
    epoch: Optional[int] = None,
) -> PackageVersion:
    """Package versions of ``commit`` in the git repository at ``repo_path``.

    rpm: Version from :meth:`SemVer.rpm_version`, Release
    ``0.<commit time UTC YYYYmmddHHMMSS>.<hash7>`` for every commit, tagged
    or not, so a later commit of the same Version always has a higher
    Release.  Debian: ``[epoch:]<version>-1`` for a tagged release or
    pre-release, ``[epoch:]<version>~git<time>.<hash7>-1`` otherwise.
    ``epoch`` (e.g. 2 for Debian's keystone) goes into the Debian version
    and :attr:`PackageVersion.rpm_evr`.
    """
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0):
        raise InputError(f"epoch {epoch!r} is not a non-negative integer: give e.g. 2, or leave it unset")
    found = upstream_version(repo_path, commit)
    out = _git(
        repo_path, "log", "-1", "--format=%H %ct", found_hash := resolve_commit(repo_path, commit), "--", what="git log"
    )
    commit_hash, commit_time = out.split()
    if commit_hash != found_hash:  # pragma: no cover - git answered for another object
        raise CommandError(f"git log answered for {commit_hash} instead of {found_hash}")
    stamp = datetime.fromtimestamp(int(commit_time), tz=timezone.utc).strftime("%Y%m%d%H%M%S")
    hash7 = commit_hash[:7]
    deb_prefix = f"{epoch}:" if epoch is not None else ""
    return PackageVersion(
        commit_hash=commit_hash,
        commit_time=int(commit_time),
        upstream_version=found.version.release_string(),
        tag=found.tag,
        distance=found.distance,
        rpm_version=found.version.rpm_version(),
        rpm_release=f"0.{stamp}.{hash7}",
        deb_version=f"{deb_prefix}{found.version.deb_upstream(stamp, hash7)}-1",
        epoch=epoch,
    )
