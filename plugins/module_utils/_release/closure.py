"""Installability: every dependency of a repository's packages resolves within it plus a base.

A stage may move only when each of its packages can be installed from the
stage repository together with the distribution it is meant for.  The
solvers are the distributions' own, not ours:

* DEB: ``dose-debcheck`` with the repository's ``Packages`` as foreground
  (checked) and the base distribution's ``Packages`` indexes as background
  (used to resolve, not checked) - the check Debian runs on its archive;
* RPM: ``dnf repoclosure`` over the repository, with a second repository
  of one virtual package providing the capabilities the base is known to
  provide (there is no EL mirror to resolve against here, so the base is
  "nothing but the repository" plus that list).

Extra capabilities (``provides``) are added on both sides the same way: one
virtual package in the background that provides them.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .._common.errors import DistroforgeError, InputError
from .._common.proc import run

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with Ansible; ansible-test imports without it
    yaml = None  # type: ignore[assignment]

FORMATS = ("deb", "rpm")
VIRTUAL_PACKAGE = "distroforge-base-provides"
# Debian's Provides take a name and at most an exact version (Policy 7.5).
_DEB_PROVIDE = re.compile(r"^[a-z0-9][a-z0-9+.-]*(:any)?( \(= [A-Za-z0-9.+~:-]+\))?$")
# An RPM capability: a name (a path, python3dist(x), ...) and at most one comparison.
_RPM_PROVIDE = re.compile(r"^[^\s%#,]+( (=|<|>|<=|>=) [A-Za-z0-9.+~^:_-]+)?$")
_REPOCLOSURE_PACKAGE = re.compile(r"^package: (?P<nevra>\S+) from \S+$")
_NEVRA = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+-[^-]+)\.(?P<arch>[^.]+)$")


@dataclasses.dataclass(frozen=True)
class Broken:
    """One reason one package of the repository cannot be installed."""

    package: str
    version: str
    missing: str  # the dependency nothing satisfies, or the conflict that stands in the way
    needed_by: str  # the package declaring it: ``package`` itself or one it pulls in

    def line(self) -> str:
        """``foo 1.0-1 needs bar (>= 2)`` (with ``through baz`` when a dependency of foo's declares it)."""
        through = "" if self.needed_by == self.package else f" (through {self.needed_by})"
        verb = "" if self.missing.startswith("conflict") else "needs "
        return f"{self.package} {self.version} {verb}{self.missing}{through}"

    def as_dict(self) -> Dict[str, str]:
        """The entry of the module's ``broken`` list."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ClosureReport:
    """What the check found: how many packages it checked and every reason one is not installable."""

    repo: str
    fmt: str
    checked: int
    broken: tuple

    @property
    def ok(self) -> bool:
        """True when every package of the repository is installable."""
        return not self.broken

    def error(self) -> "ClosureError":
        """The one-line refusal naming the first broken package and its missing dependency; all are in details."""
        packages = sorted({item.package for item in self.broken})
        first = self.broken[0]
        more = f" and {len(self.broken) - 1} more problem(s) in {', '.join(packages)}" if len(self.broken) > 1 else ""
        return ClosureError(
            f"{self.repo}: not installable: {first.line()}{more};"
            " add the missing package to the repository (or to the base), or correct the dependency",
            broken=[item.as_dict() for item in self.broken],
            checked=self.checked,
        )


class ClosureError(DistroforgeError):
    """A repository has packages whose dependencies do not resolve."""


def detect_format(repo_dir: Path) -> str:
    """``deb`` for a flat Debian repository (``Packages``), ``rpm`` for one with ``repodata/repomd.xml``."""
    if (repo_dir / "repodata" / "repomd.xml").is_file():
        return "rpm"
    if (repo_dir / "Packages").is_file():
        return "deb"
    raise InputError(
        f"path: {repo_dir} holds neither Packages (DEB) nor repodata/repomd.xml (RPM): give a published repository"
    )


def check(
    repo_dir: Path,
    *,
    fmt: Optional[str] = None,
    base_indexes: Sequence[Path] = (),
    provides: Sequence[str] = (),
    arch: str = "amd64",
    timeout: float = 600,
) -> ClosureReport:
    """Check that every package of ``repo_dir`` is installable from it plus the base; never raises for broken ones."""
    repo_dir = Path(repo_dir)
    if not repo_dir.is_dir():
        raise InputError(f"path: {repo_dir} is not a directory: give the published repository's directory")
    fmt = fmt or detect_format(repo_dir)
    if fmt not in FORMATS:
        raise InputError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    with tempfile.TemporaryDirectory(prefix="distroforge-closure-") as scratch:
        if fmt == "rpm":
            if base_indexes:
                raise InputError(
                    "base_indexes: RPM repositories resolve against the repository and provides only"
                    " (no EL mirror here): list the base's capabilities in provides instead"
                )
            return _check_rpm(repo_dir, provides, Path(scratch), timeout)
        return _check_deb(repo_dir, base_indexes, provides, arch=arch, scratch=Path(scratch), timeout=timeout)


# -- DEB ------------------------------------------------------------------------------------------


def _check_deb(
    repo_dir: Path, base_indexes: Sequence[Path], provides: Sequence[str], *, arch: str, scratch: Path, timeout: float
) -> ClosureReport:
    packages = repo_dir / "Packages"
    if not packages.is_file():
        raise InputError(f"path: {repo_dir} has no Packages index: publish the repository first")
    background = []
    for index in base_indexes:
        if not Path(index).is_file():
            raise InputError(f"base_indexes: {index} does not exist: download the base distribution's Packages")
        background += ["--bg", str(index)]
    if provides:
        for item in provides:
            if not _DEB_PROVIDE.match(item):
                raise InputError(
                    f"provides: {item!r} is not a Debian Provides entry: write 'name' or 'name (= version)'"
                )
        virtual = scratch / "Packages-provides"
        virtual.write_text(
            f"Package: {VIRTUAL_PACKAGE}\nVersion: 0\nArchitecture: all\nProvides: {', '.join(provides)}\n",
            encoding="utf-8",
        )
        background += ["--bg", str(virtual)]
    result = run(
        [
            "dose-debcheck",
            f"--deb-native-arch={arch}",
            "--failures",
            "--explain",
            "--fg",
            str(packages),
            *background,
        ],
        timeout=timeout,
        check=False,
        what=f"dose-debcheck of {repo_dir}",
    )
    # dose-debcheck: 0 all installable, 1 some broken, anything else: it could not run.
    if result.rc not in (0, 1):
        raise DistroforgeError(
            f"dose-debcheck of {repo_dir} failed (rc {result.rc}): {result.stderr.strip()[-300:]}"
            "; check the Packages files it was given"
        )
    if yaml is None:
        raise DistroforgeError("reading dose-debcheck's report needs PyYAML on this host: pip install pyyaml")
    report = yaml.safe_load(result.stdout) or {}
    broken = [item for entry in report.get("report") or [] for item in _deb_reasons(entry, arch)]
    if result.rc == 1 and not broken:
        raise DistroforgeError(f"dose-debcheck of {repo_dir} reported broken packages it did not explain")
    return ClosureReport(str(repo_dir), "deb", int(report.get("foreground-packages", 0)), tuple(broken))


def _unqualified(dependency: str, arch: str) -> str:
    """dose writes ``bar:amd64 (>= 2)``; the package says ``bar (>= 2)``."""
    return re.sub(rf":(?:{re.escape(arch)}|all)(?=[\s,|]|$)", "", dependency)


def _deb_reasons(entry: Dict[str, Any], arch: str) -> List[Broken]:
    name, version = str(entry.get("package")), str(entry.get("version"))
    found = []
    for reason in entry.get("reasons") or []:
        if "missing" in reason:
            pkg = reason["missing"].get("pkg", {})
            missing = _unqualified(str(pkg.get("unsat-dependency", "?")), arch)
            found.append(Broken(name, version, missing, str(pkg.get("package", name))))
        elif "conflict" in reason:
            one, two = reason["conflict"].get("pkg1", {}), reason["conflict"].get("pkg2", {})
            found.append(
                Broken(
                    name,
                    version,
                    f"conflict between {one.get('package')} {one.get('version')}"
                    f" and {two.get('package')} {two.get('version')}",
                    str(one.get("package", name)),
                )
            )
    return found or [Broken(name, version, "an unexplained dependency problem", name)]


# -- RPM ------------------------------------------------------------------------------------------


def _check_rpm(repo_dir: Path, provides: Sequence[str], scratch: Path, timeout: float) -> ClosureReport:
    if not (repo_dir / "repodata" / "repomd.xml").is_file():
        raise InputError(f"path: {repo_dir} has no repodata/repomd.xml: publish the repository first")
    repos = [f"--repofrompath=check,{repo_dir.resolve()}", "--repo=check"]
    if provides:
        repos += [f"--repofrompath=base,{_provides_repo(provides, scratch, timeout)}", "--repo=base"]
    config = scratch / "dnf.conf"
    config.write_text(f"[main]\ncachedir={scratch / 'cache'}\nreposdir=\ngpgcheck=0\n", encoding="utf-8")
    # dnf's own solver, on a throw-away installroot and cache: the host's repositories and RPM database stay out.
    result = run(
        [
            "dnf",
            "--config",
            str(config),
            "--installroot",
            str(scratch / "root"),
            "--releasever",
            "distroforge",
            "--setopt=reposdir=",
            "--nogpgcheck",
            # dnf-plugins-core's "local" plugin would add a repository of its own.
            "--disableplugin=local",
            # Source RPMs (repo_publish indexes them) are not installed: their BuildRequires are not checked.
            "--exclude=*.src",
            *repos,
            "repoclosure",
            "--check",
            "check",
        ],
        env={"LC_ALL": "C.UTF-8"},
        timeout=timeout,
        check=False,
        what=f"dnf repoclosure of {repo_dir}",
    )
    broken = _rpm_reasons(result.stdout)
    if result.rc != 0 and not broken:
        raise DistroforgeError(
            f"dnf repoclosure of {repo_dir} failed (rc {result.rc}): {result.stderr.strip()[-300:]}"
            "; check the repository's metadata (repo_publish validates it)"
        )
    return ClosureReport(str(repo_dir), "rpm", _rpm_count(repo_dir), tuple(broken))


def _rpm_reasons(stdout: str) -> List[Broken]:
    """Parse repoclosure's ``package: N-V-R.A from repo`` / ``unresolved deps`` blocks."""
    found: List[Broken] = []
    current: Optional[tuple] = None
    for line in stdout.splitlines():
        match = _REPOCLOSURE_PACKAGE.match(line)
        if match:
            nevra = _NEVRA.match(match.group("nevra"))
            current = (nevra.group("name"), nevra.group("version")) if nevra else (match.group("nevra"), "")
        elif current and line.startswith("    ") and line.strip():
            found.append(Broken(current[0], current[1], line.strip(), current[0]))
    return found


def _rpm_count(repo_dir: Path) -> int:
    """Binary packages in the repository (what repoclosure checks; source RPMs are not installed)."""
    return sum(1 for path in repo_dir.iterdir() if path.name.endswith(".rpm") and not path.name.endswith(".src.rpm"))


def _provides_repo(provides: Sequence[str], scratch: Path, timeout: float) -> Path:
    """A repository of one noarch package that provides ``provides``: the base's known capabilities."""
    for item in provides:
        if not _RPM_PROVIDE.match(item):
            raise InputError(
                f"provides: {item!r} is not an RPM capability: write 'name' or 'name = version' (also <, >, <=, >=)"
            )
    top = scratch / "rpmbuild"
    (top / "SPECS").mkdir(parents=True)
    spec = top / "SPECS" / f"{VIRTUAL_PACKAGE}.spec"
    lines = [
        f"Name: {VIRTUAL_PACKAGE}",
        "Version: 0",
        "Release: 0",
        "Summary: capabilities the base distribution provides",
        "License: ASL 2.0",
        "BuildArch: noarch",
        *[f"Provides: {item}" for item in provides],
        "%description",
        "Stands for the base distribution in an installability check.",
        "%files",
    ]
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    repo = scratch / "base"
    # The package lands in the repository's directory (createrepo_c looks into subdirectories).
    run(
        ["rpmbuild", "-bb", "--define", f"_topdir {top}", "--define", f"_rpmdir {repo}", str(spec)],
        timeout=timeout,
        what="rpmbuild of the base's provides",
    )
    run(["createrepo_c", "--quiet", str(repo)], timeout=timeout, what="createrepo_c of the base's provides")
    return repo
