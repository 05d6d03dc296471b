"""Where published things live and what DLRN-compatible files say.

The layout is DLRN's, so its consumers work unchanged::

    repos/<h[0:2]>/<h[2:4]>/<commit_hash>_<distro_hash[0:8]>/   one build
    repos/current -> <that path>            moves on every successful build
    repos/consistent -> <that path>         only when no package's latest build failed
    repos/component/<c>/<h[0:2]>/<h[2:4]>/<hash>/   with components
    repos/component/<c>/current, consistent
    repos/<label>/<m[0:2]>/<m[2:4]>/<md5>/<reponame>.repo   aggregate of the components
    repos/<label>/<reponame>.repo, .repo.md5, versions.csv -> that hashed dir

This module only computes names and file contents; writing is the
publisher's job.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from .._common.errors import InputError

# The commit flags are the state DB's (set only through its methods), also
# importable from here, where the REST API's tests look for them.
from .._statedb.schema import FLAG_PUBLISHED, FLAG_PURGED  # noqa: F401  # pylint: disable=unused-import
from .._versions.nvr import repo_path

RPM = "rpm"
DEB = "deb"
FORMATS = (RPM, DEB)

# DLRN's versions.csv header, byte for byte.
VERSIONS_HEADER = (
    "Project,Source Repo,Source Sha,Dist Repo,Dist Sha,Status,Last Success Timestamp,Component,Extended Sha,Pkg NVR"
)
# DLRN's Commit table columns, in its order: commit.yaml carries exactly these keys.
COMMIT_YAML_KEYS = (
    "id",
    "type",
    "dt_commit",
    "dt_distro",
    "dt_extended",
    "dt_build",
    "project_name",
    "repo_dir",
    "distgit_dir",
    "commit_hash",
    "distro_hash",
    "extended_hash",
    "commit_branch",
    "status",
    "component",
    "artifacts",
    "notes",
    "flags",
    "versions_csv",
)

BUILD_LOG = "build.log"
PUBLIC_KEY_ARMORED = "RPM-GPG-KEY-{reponame}"
PUBLIC_KEY_BINARY = "{reponame}-archive-keyring.gpg"
REPORT_HTML = "status_report.html"
REPORT_JSON = "status_report.json"
REPORT_CSV = "status_report.csv"
# DLRN's status_report.csv header, byte for byte.
REPORT_CSV_HEADER = "Project,Source Sha,Dist Sha,Extended Sha,Component,Status,Timestamp,Packages"
# Scratch space inside repos/ (same file system, so renames are atomic).
TRASH = ".trash"
CACHE = ".cache"
LOCK = ".publish.lock"


@dataclasses.dataclass(frozen=True)
class VersionRow:
    """One line of versions.csv (DLRN's ``dumpshas2file``)."""

    project: str
    upstream: str
    commit_hash: str
    distgit: str
    distro_hash: str
    status: str
    last_success: Optional[int]
    component: Optional[str]
    nvr: str

    def render(self) -> str:
        """Format as DLRN does (``None`` spelled out, no quoting)."""
        fields = [
            self.project,
            self.upstream,
            self.commit_hash,
            self.distgit,
            self.distro_hash,
            self.status,
            str(self.last_success) if self.last_success is not None else "None",
            self.component if self.component else "None",
            "None",
            self.nvr,
        ]
        return ",".join(field.replace(",", " ") for field in fields)


def render_versions_csv(rows: Iterable[VersionRow]) -> str:
    """The whole versions.csv: DLRN's header then one row per package, in the order given."""
    lines = [VERSIONS_HEADER, *(row.render() for row in rows)]
    return "\n".join(lines) + "\n"


@dataclasses.dataclass(frozen=True)
class PackageInfo:
    """What the package database says about a package that DLRN's files carry.

    DLRN names a build by the package ``name`` (``python-foo``), not the
    rdoinfo ``project`` (``foo``) the state DB keys on; its versions.csv
    also carries the upstream and distgit URLs.
    """

    project: str
    name: str
    upstream: Optional[str] = None
    distgit: Optional[str] = None
    component: Optional[str] = None


def package_infos(packages: Sequence[Mapping[str, Any]], where: str = "packages") -> Dict[str, PackageInfo]:
    """``pkgdb_info``'s package list as PackageInfo by project, in the database's order."""
    found: Dict[str, PackageInfo] = {}
    for index, package in enumerate(packages):
        if not isinstance(package, Mapping) or not isinstance(package.get("project"), str) or not package["project"]:
            raise InputError(
                f"{where}[{index}]: each package needs a 'project' string: pass pkgdb_info's 'packages' list unchanged"
            )
        name = package.get("name") or package["project"]
        if not isinstance(name, str):
            raise InputError(f"{where}[{index}] ({package['project']}): 'name' must be a string, got {name!r}")
        # DLRN writes master-distgit even for branch builds; pkgdb_info's distgit is the release's.
        distgit = package.get("master-distgit") or package.get("distgit")
        found[package["project"]] = PackageInfo(
            project=package["project"],
            name=name,
            upstream=package.get("upstream") or None,
            distgit=distgit or None,
            component=package.get("component") or None,
        )
    return found


def _yaml_scalar(value: Any) -> str:
    # A JSON string is a valid YAML double-quoted scalar; DLRN stores every
    # value as a string (str(None) == "None"), so do we.
    return json.dumps("None" if value is None else str(value))


def render_commit_yaml(values: Dict[str, Any]) -> str:
    """commit.yaml as DLRN's ``saveYAML_commit`` writes it: ``commits:`` with one mapping of strings."""
    unknown = sorted(set(values) - set(COMMIT_YAML_KEYS))
    if unknown:
        raise InputError(f"commit.yaml: unknown key(s) {', '.join(unknown)}: only DLRN's Commit columns are allowed")
    lines = ["commits:"]
    for index, key in enumerate(sorted(COMMIT_YAML_KEYS)):
        lead = "- " if index == 0 else "  "
        lines.append(f"{lead}{key}: {_yaml_scalar(values.get(key))}")
    return "\n".join(lines) + "\n"


def aggregate_hash(repo_text: str) -> str:
    """DLRN's aggregate hash: the md5 of the aggregate .repo file's content."""
    # md5 is DLRN's choice for a name, not a security measure.
    return hashlib.md5(repo_text.encode("utf-8")).hexdigest()


def sharded(hexdigest: str) -> str:
    """``ab/cd/abcd…``: DLRN's three-level directory for a hash."""
    return f"{hexdigest[:2]}/{hexdigest[2:4]}/{hexdigest}"


@dataclasses.dataclass(frozen=True)
class Layout:
    """Names of everything under one ``repos/`` directory."""

    repos_dir: Path
    baseurl: str
    reponame: str = "delorean"
    use_components: bool = False

    # -- commit repositories -------------------------------------------------------

    def commit_rel(self, commit_hash: str, distro_hash: str, component: Optional[str]) -> str:
        """A build's directory relative to ``repos/`` (component prefix only in component mode)."""
        if self.use_components and not component:
            raise InputError(
                f"commit {commit_hash[:12]} has no component but use_components is true:"
                " give every package a component in the package database, or publish without components"
            )
        return repo_path(commit_hash, distro_hash, component=component if self.use_components else None)

    def commit_dir(self, commit_hash: str, distro_hash: str, component: Optional[str]) -> Path:
        """Absolute directory of a build."""
        return self.repos_dir / self.commit_rel(commit_hash, distro_hash, component)

    def link_base(self, component: Optional[str]) -> Path:
        """Directory holding ``current``/``consistent`` for a build (a component's in component mode)."""
        if self.use_components and component:
            return self.repos_dir / "component" / component
        return self.repos_dir

    def repo_file_name(self, package_format: str) -> str:
        """``delorean.repo`` for RPM, ``delorean.list`` for DEB (with the configured reponame)."""
        return f"{self.reponame}.{'repo' if package_format == RPM else 'list'}"

    def url(self, rel: str) -> str:
        """Public URL of a path relative to ``repos/``."""
        return f"{self.baseurl.rstrip('/')}/{rel}"

    def repo_id(self, component: Optional[str]) -> str:
        """The ``[section]`` of a .repo file: DLRN's ``<reponame>`` or ``<reponame>-component-<c>``."""
        if self.use_components and component:
            return f"{self.reponame}-component-{component}"
        return self.reponame

    # -- bookkeeping ---------------------------------------------------------------

    @property
    def trash(self) -> Path:
        """Where replaced or purged directories go before they are deleted."""
        return self.repos_dir / TRASH

    @property
    def cache(self) -> Path:
        """Per-package metadata cache (derived data; safe to delete)."""
        return self.repos_dir / CACHE

    @property
    def lock(self) -> Path:
        """The lock file that keeps publishers (and purges) apart."""
        return self.repos_dir / LOCK

    def public_key_names(self) -> List[str]:
        """File names of the public signing key published in ``repos/`` (armored, binary)."""
        return [PUBLIC_KEY_ARMORED.format(reponame=self.reponame), PUBLIC_KEY_BINARY.format(reponame=self.reponame)]


@dataclasses.dataclass(frozen=True)
class Verification:
    """How clients verify: what goes into the generated .repo/.list file."""

    repo_gpgcheck: bool = False
    gpgcheck: bool = False
    gpgkey_url: Optional[str] = None
    signed_by: Optional[str] = None


def render_repo_file(
    *,
    repo_id: str,
    name: str,
    baseurl: str,
    verification: Verification,
    priority: int = 1,
) -> str:
    """A yum/dnf .repo section: DLRN's keys, plus verification when the repository is signed."""
    lines = [
        f"[{repo_id}]",
        f"name={name}",
        f"baseurl={baseurl}",
        "enabled=1",
        f"gpgcheck={int(verification.gpgcheck)}",
    ]
    if verification.repo_gpgcheck:
        lines.append("repo_gpgcheck=1")
    if verification.gpgkey_url and (verification.gpgcheck or verification.repo_gpgcheck):
        lines.append(f"gpgkey={verification.gpgkey_url}")
    lines.append(f"priority={priority}")
    return "\n".join(lines) + "\n"


def render_list_file(*, baseurl: str, verification: Verification) -> str:
    """An apt one-line source for a flat repository (``./``), pinned to our key with ``signed-by``."""
    options = f"[signed-by={verification.signed_by}] " if verification.signed_by else ""
    return f"deb {options}{baseurl.rstrip('/')}/ ./\n"


def aggregate_text(parts: Sequence[str]) -> str:
    """The aggregate .repo content: each component's file followed by a blank line, as DLRN joins them."""
    return "".join(part + "\n" for part in parts)


@dataclasses.dataclass(frozen=True)
class AggregateFiles:
    """The aggregate of one label over the components: DLRN's ``aggregate_repo_files`` output."""

    file_name: str
    text: str
    digest: str
    versions_csv: str


def collect_aggregate(
    layout: Layout, label: str, file_name: str, targets: Optional[Mapping[str, Optional[Path]]] = None
) -> AggregateFiles:
    """Join each component's ``<label>`` repository file, in component order, as DLRN does.

    A component takes part when its ``<label>`` leads to a directory holding
    ``file_name``; ``targets`` overrides, per component, the directory its
    label will lead to (None: no label) so a promotion can compute the
    aggregate before it moves anything.  versions.csv joins the components'
    rows under one header.
    """
    overrides = dict(targets or {})
    components_dir = layout.repos_dir / "component"
    names = {path.name for path in components_dir.iterdir() if path.is_dir()} if components_dir.is_dir() else set()
    parts: List[str] = []
    rows: List[str] = []
    for component in sorted(names | {name for name, target in overrides.items() if target is not None}):
        directory = overrides[component] if component in overrides else components_dir / component / label
        if directory is None or not (directory / file_name).is_file():
            continue
        parts.append((directory / file_name).read_text(encoding="utf-8"))
        csv_path = directory / "versions.csv"
        if csv_path.is_file():
            rows.extend(csv_path.read_text(encoding="utf-8").splitlines()[1:])
    text = aggregate_text(parts)
    return AggregateFiles(
        file_name=file_name,
        text=text,
        digest=aggregate_hash(text),
        versions_csv="\n".join([VERSIONS_HEADER, *rows]) + "\n",
    )
