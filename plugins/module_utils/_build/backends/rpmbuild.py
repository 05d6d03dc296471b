"""The rpmbuild backend: SRPM, then the RPMs from that SRPM, both in the sandbox.

The spec is filled in and the SRPM made by rpm.py (shared with mock); the
RPMs are rebuilt from it here with the builder's own toolchain and the
reproducibility macros.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..._common.errors import InputError
from ..._common.proc import run
from .. import deps, rpm
from ..buildlog import BuildLog
from ..contain import fresh_dir, regular_file
from ..sandbox import BUILD_ROOT, base_env, bwrap_argv, unpacked_deps_env
from ..source import BuildInputs
from .base import Backend, Packaging
from .kinds import RPM


@dataclass(frozen=True)
class RpmbuildOptions:
    """``--nodeps`` (None: only where rpm has no package database, i.e. Debian builders) and ``%dist``."""

    rpm_nodeps: bool | None = None
    rpm_dist: str | None = None


def rpm_has_db() -> bool:
    """True on RPM-based builders, where rpmbuild can check BuildRequires."""
    out = subprocess.run(["rpm", "-qa"], capture_output=True, text=True, check=False).stdout
    return bool(out.strip())


def stage_against(inputs: BuildInputs, rpms: Sequence[str]) -> dict[str, str]:
    """Unpack the distro's earlier RPMs under ``/build/deps/root``; return the env that uses them.

    rpmbuild builds with the builder's own toolchain; on Debian builders rpm
    has no package database, so nothing can be installed for one build and
    BuildRequires cannot be checked (``--nodeps``).  The earlier waves' RPMs
    are unpacked beside the system instead, their Python modules and
    programs on ``PYTHONPATH``/``PATH`` (mock, on EL builders, installs them
    for real from a repository: see mock.py).
    """
    if not rpms:
        return {}
    deps = fresh_dir(inputs.build_dir, "deps", inputs.project)
    root, pkgs = os.path.join(deps, "root"), os.path.join(deps, "pkgs")
    os.makedirs(root)
    os.makedirs(pkgs)
    for path in rpms:
        shutil.copy2(path, os.path.join(pkgs, os.path.basename(path)))
    unpack = (
        f'cd {BUILD_ROOT}/deps/root && for r in ../pkgs/*.rpm; do rpm2cpio "$r" | cpio -idm --quiet || exit 1; done'
    )
    inputs.log.run(
        bwrap_argv(inputs.build_dir, ["sh", "-c", unpack], env=base_env(inputs.source.version.commit_time)),
        what="unpack the distro's earlier packages under /build/deps/root (no network)",
    )
    return unpacked_deps_env(root)


def check_build_requires(inputs: BuildInputs, spec_text: str, rpms: Sequence[str]) -> None:
    """BuildRequires checked against the builder's rpm database plus ``rpms`` (names, not versions).

    rpmbuild alone would only look at the database, where the distro's
    fresh packages are not installed; so we check and then pass ``--nodeps``.
    """
    provided: set[str] = set()
    for path in rpms:
        out = run(["rpm", "-qp", "--provides", path], what=f"rpm -qp --provides {os.path.basename(path)}").stdout
        provided |= {line.split()[0] for line in out.splitlines() if line.strip()}
    wanted = sorted(deps.spec_relations(spec_text).build_requires - provided)
    missing = [name for name in wanted if run(["rpm", "-q", "--whatprovides", name], check=False).rc != 0]
    inputs.log.write(f"==> BuildRequires checked against the rpm database and {len(rpms)} distro package(s)")
    if missing:
        raise InputError(f"{inputs.project}: Unmet build dependencies: {', '.join(missing)}")


class RpmbuildBackend(Backend):
    """rpmbuild in bubblewrap with the builder's own toolchain."""

    name = "rpmbuild"
    kind = RPM
    options_type = RpmbuildOptions
    required_tools = ("rpmbuild",)
    toolchain_probes: ClassVar[Mapping[str, Sequence[str]]] = {"rpmbuild": ("rpmbuild", "--version")}
    rebuild_settings = ("rpm_nodeps", "rpm_dist")
    options: RpmbuildOptions

    def __init__(self, options: Any, workdir: str) -> None:
        super().__init__(options, workdir)
        self.nodeps = True

    def prepare(self, log: BuildLog) -> None:
        super().prepare(log)
        self.nodeps = self.options.rpm_nodeps if self.options.rpm_nodeps is not None else not rpm_has_db()

    def build(self, inputs: BuildInputs, packaging: Packaging, against: Sequence[str]) -> None:
        dist = self.options.rpm_dist
        srpm = rpm.build_srpm(inputs, nodeps=self.nodeps, dist=dist)
        srpm_inside = f"{rpm.TOPDIR}/SRPMS/{os.path.basename(srpm)}"
        nodeps = self.nodeps
        if against and not nodeps:
            spec = glob.glob(os.path.join(inputs.build_dir, "rpmbuild", "SPECS", "*.spec"))[0]
            spec = regular_file(inputs.build_dir, spec, inputs.project, "the prepared spec")
            with open(spec, encoding="utf-8") as handle:
                check_build_requires(inputs, handle.read(), against)
            nodeps = True
        env = rpm.build_env(inputs) | stage_against(inputs, against)
        rebuild = ["rpmbuild", "--rebuild", *rpm.rpmbuild_args(nodeps, dist), srpm_inside]
        inputs.log.run(
            bwrap_argv(inputs.build_dir, rebuild, env=env),
            what="rpmbuild --rebuild (RPMs from the SRPM, no network)",
        )

    def collect(self, inputs: BuildInputs, packaging: Packaging) -> list[str]:
        top = os.path.join(inputs.build_dir, "rpmbuild")
        srpms = sorted(glob.glob(os.path.join(top, "SRPMS", "*.src.rpm")))
        rpms = sorted(glob.glob(os.path.join(top, "RPMS", "*", "*.rpm")))
        if not rpms:
            raise InputError(f"{inputs.project}: rpmbuild made no binary RPM")
        return [*srpms, *rpms]

    def describe(self) -> dict[str, Any]:
        return {"rpm_nodeps": self.nodeps, "rpm_dist": self.options.rpm_dist}
