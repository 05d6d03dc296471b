"""The mock backend, for EL builders: our SRPM rebuilt by mock in a clean chroot.

mock (and the CentOS Stream / RHEL repositories it installs a chroot from)
only exists on EL builders, so on these Debian machines only the generated
configuration and command line are tested; running the backend here fails
with a clear message.  The SRPM is made exactly as for the rpmbuild backend
(same spec edits, same sandbox), then ``mock --rebuild`` builds the RPMs
with network off inside the chroot and the same reproducibility macros.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..._common.errors import InputError
from .. import rpm
from ..buildlog import BuildLog
from ..contain import fresh_dir, fresh_file
from ..rpm import REPRODUCIBLE_MACROS
from ..source import BuildInputs
from .base import Backend, Packaging
from .kinds import RPM

# What DLRN's centos-stream-9.cfg installs in the chroot, minus what only
# DLRN's own scripts need.
DEFAULT_CHROOT_SETUP = (
    "basesystem rpm-build python3-devel gcc make redhat-rpm-config redhat-release which xz "
    "python3-pbr python3-setuptools git-core sed bzip2 gzip tar coreutils unzip shadow-utils "
    "diffutils cpio bash gawk info patch util-linux findutils grep"
)
DEFAULT_REPOS = (
    {"name": "baseos", "metalink": "https://mirrors.centos.org/metalink?repo=centos-baseos-$stream&arch=$basearch"},
    {
        "name": "appstream",
        "metalink": "https://mirrors.centos.org/metalink?repo=centos-appstream-$stream&arch=$basearch",
    },
    {"name": "crb", "metalink": "https://mirrors.centos.org/metalink?repo=centos-crb-$stream&arch=$basearch"},
)


@dataclass(frozen=True)
class MockSettings:
    """A mock chroot for one EL release."""

    root: str = "distroforge-centos-stream-9-x86_64"
    target_arch: str = "x86_64"
    releasever: str = "9"
    dist: str = "el9"
    stream: str = "9-stream"
    chroot_setup: str = DEFAULT_CHROOT_SETUP
    repos: Sequence[Mapping[str, str]] = field(default_factory=lambda: DEFAULT_REPOS)
    # the distro's own fresh packages, so packages build against each other
    distro_repo_url: str | None = None


def _repo_section(repo: Mapping[str, str], index: int) -> str:
    name = repo.get("name")
    if not name or not ("baseurl" in repo or "metalink" in repo):
        raise InputError(f"mock repos[{index}]: each repo needs name and baseurl or metalink")
    source = f"baseurl={repo['baseurl']}" if "baseurl" in repo else f"metalink={repo['metalink']}"
    lines = [f"[{name}]", f"name={name}", source, "enabled=1", "gpgcheck=0", f"priority={repo.get('priority', 99)}"]
    return "\n".join(lines)


def config(settings: MockSettings, source_date_epoch: int, *, waves_repo: str | None = None) -> str:
    """The mock configuration file (Python syntax, as mock reads it).

    ``waves_repo`` is a local repository of the RPMs earlier build waves of
    this run made: first in line, so a package builds against its distro's
    fresh packages, not older ones from ``distro_repo_url`` or the OS.
    """
    repos = [dict(r) for r in settings.repos]
    if settings.distro_repo_url:
        repos.insert(0, {"name": "distroforge", "baseurl": settings.distro_repo_url, "priority": "1"})
    if waves_repo:
        repos.insert(0, {"name": "distroforge-waves", "baseurl": f"file://{waves_repo}", "priority": "1"})
    sections = "\n\n".join(_repo_section(repo, i) for i, repo in enumerate(repos))
    macros = {f"%{name}": value for name, value in REPRODUCIBLE_MACROS.items() if name != "_topdir"}
    macros["%dist"] = f".{settings.dist}"
    lines = [
        f"config_opts['root'] = {settings.root!r}",
        f"config_opts['target_arch'] = {settings.target_arch!r}",
        f"config_opts['legal_host_arches'] = ({settings.target_arch!r},)",
        f"config_opts['chroot_setup_cmd'] = {('install ' + settings.chroot_setup)!r}",
        f"config_opts['dist'] = {settings.dist!r}",
        f"config_opts['releasever'] = {settings.releasever!r}",
        "config_opts['package_manager'] = 'dnf'",
        # no network while building: the sources are already in the SRPM
        "config_opts['rpmbuild_networking'] = False",
        "config_opts['use_host_resolv'] = False",
        "config_opts['plugin_conf']['ccache_enable'] = False",
        f"config_opts['dnf_vars'] = {{'stream': {settings.stream!r}}}",
        f"config_opts['environment']['SOURCE_DATE_EPOCH'] = {str(source_date_epoch)!r}",
    ]
    lines += [f"config_opts['macros'][{name!r}] = {value!r}" for name, value in sorted(macros.items())]
    dnf_conf = (
        "[main]\nkeepcache=1\nreposdir=/dev/null\nretries=20\nobsoletes=1\ngpgcheck=0\nassumeyes=1\n"
        f"best=0\nmodule_platform_id=platform:el{settings.releasever}\n\n{sections}\n"
    )
    lines.append(f"config_opts['dnf.conf'] = {dnf_conf!r}")
    return "\n".join(lines) + "\n"


def argv(config_path: str, resultdir: str, srpm: str) -> list[str]:
    """The mock command line that rebuilds ``srpm`` into ``resultdir``."""
    return ["mock", "-r", config_path, "--resultdir", resultdir, "--no-cleanup-after", "--rebuild", srpm]


def require_mock() -> str:
    """mock's path, or a clear error on builders without it."""
    path = shutil.which("mock")
    if path is None:
        raise InputError(
            "backend mock: mock is not installed on this builder; it runs on EL builders "
            "(CentOS Stream/RHEL: dnf install mock) — use rpmbuild or dpkg here"
        )
    return path


def write_config(
    build_dir: str,
    settings: MockSettings,
    source_date_epoch: int,
    *,
    waves_repo: str | None = None,
    where: str = "mock",
) -> str:
    """Write the configuration next to the build and return its path."""
    path = fresh_file(build_dir, "mock.cfg", where)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(config(settings, source_date_epoch, waves_repo=waves_repo))
    return path


def waves_repo(inputs: BuildInputs, rpms: Sequence[str]) -> str | None:
    """A repository (createrepo_c) of the earlier waves' RPMs in the build directory, or None."""
    if not rpms:
        return None
    repo = os.path.join(fresh_dir(inputs.build_dir, "deps", inputs.project), "repo")
    os.makedirs(repo)
    for path in rpms:
        shutil.copy2(path, os.path.join(repo, os.path.basename(path)))
    inputs.log.run(["createrepo_c", "--quiet", repo], what="createrepo_c over the earlier waves' RPMs")
    return repo


@dataclass(frozen=True)
class MockOptions:
    """The mock chroot to build in."""

    mock: MockSettings = field(default_factory=MockSettings)


class MockBackend(Backend):
    """SRPM in our sandbox, then ``mock --rebuild`` (earlier waves' RPMs as a repository)."""

    name = "mock"
    kind = RPM
    options_type = MockOptions
    toolchain_probes: ClassVar[Mapping[str, Sequence[str]]] = {
        "rpmbuild": ("rpmbuild", "--version"),
        "mock": ("mock", "--version"),
    }
    options: MockOptions

    def prepare(self, log: BuildLog) -> None:
        require_mock()

    def build(self, inputs: BuildInputs, packaging: Packaging, against: Sequence[str]) -> None:
        settings = self.options.mock
        srpm = rpm.build_srpm(inputs, nodeps=True, dist=f".{settings.dist}")
        resultdir = fresh_dir(inputs.build_dir, "mock-result", inputs.project)
        repo = waves_repo(inputs, against)
        epoch = inputs.source.version.commit_time
        cfg = write_config(inputs.build_dir, settings, epoch, waves_repo=repo, where=inputs.project)
        inputs.log.run(argv(cfg, resultdir, srpm), what="mock --rebuild (clean EL chroot, no network)")

    def collect(self, inputs: BuildInputs, packaging: Packaging) -> list[str]:
        srpms = sorted(glob.glob(os.path.join(inputs.build_dir, "rpmbuild", "SRPMS", "*.src.rpm")))
        resultdir = os.path.join(inputs.build_dir, "mock-result")
        rpms = sorted(p for p in glob.glob(os.path.join(resultdir, "*.rpm")) if not p.endswith(".src.rpm"))
        if not rpms:
            raise InputError(f"{inputs.project}: mock made no binary RPM")
        return [*srpms, *rpms]

    def describe(self) -> dict[str, Any]:
        return {"mock_root": self.options.mock.root, "mock_dist": f".{self.options.mock.dist}"}
