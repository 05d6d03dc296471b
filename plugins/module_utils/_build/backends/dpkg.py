"""The dpkg backend: dpkg-buildpackage in the sandbox, on the builder's own packages.

The source tree is the upstream tarball with the distgit's ``debian/`` and
our changelog entry (deb.py).  Build dependencies are the builder's
installed packages, checked by dpkg-checkbuilddeps, plus the distro's
earlier waves (:func:`stage_against`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..._common.proc import run
from .. import deb
from ..contain import fresh_dir
from ..sandbox import BUILD_ROOT, base_env, bwrap_argv, unpacked_deps_env
from ..source import BuildInputs
from .base import Backend, Packaging
from .kinds import DEB

HOST_DPKG_DB = "/var/lib/dpkg"
DEPS = f"{BUILD_ROOT}/deps"  # the distro's own earlier packages, inside the sandbox


def _status_paragraph(path: str) -> str:
    """The package's control fields as an installed entry of a dpkg status file."""
    fields = run(["dpkg-deb", "--field", path], what=f"dpkg-deb --field {os.path.basename(path)}").stdout.strip()
    return f"{fields}\nStatus: install ok installed\n"


def stage_against(inputs: BuildInputs, debs: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Make the distro's earlier .debs part of the sandbox's system; return (dpkg options, env).

    dpkg in bubblewrap builds with the builder's own packages (its ``/usr``),
    which cannot be changed per build.  So the earlier waves' .debs are
    added beside it: registered as installed in a private copy of the dpkg
    database (``--admindir``), so build dependencies are checked against the
    builder's packages plus these, and unpacked under ``/build/deps/root``
    with their Python modules and programs on ``PYTHONPATH``/``PATH``.
    """
    if not debs:
        return [], {}
    deps = fresh_dir(inputs.build_dir, "deps", inputs.project)
    pkgs, admin, root = (os.path.join(deps, sub) for sub in ("pkgs", "dpkg", "root"))
    for path in (pkgs, os.path.join(admin, "updates"), root):
        os.makedirs(path)
    ours = [_status_paragraph(path) for path in debs]
    names = {para.split("\n", 1)[0] for para in ours}  # "Package: <name>"
    with open(os.path.join(HOST_DPKG_DB, "status"), encoding="utf-8") as handle:
        host = [p.strip("\n") for p in handle.read().split("\n\n") if p.strip()]
    # ours replace the builder's own copy of a package (e.g. Debian's python3-keystoneclient)
    status = [p + "\n" for p in host if p.split("\n", 1)[0] not in names] + ours
    with open(os.path.join(admin, "status"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(status))
    for name in ("arch",):
        if os.path.exists(os.path.join(HOST_DPKG_DB, name)):
            shutil.copy2(os.path.join(HOST_DPKG_DB, name), os.path.join(admin, name))
    for path in debs:
        shutil.copy2(path, os.path.join(pkgs, os.path.basename(path)))
    inputs.log.run(
        bwrap_argv(
            inputs.build_dir,
            ["sh", "-c", f'for deb in {DEPS}/pkgs/*.deb; do dpkg-deb -x "$deb" {DEPS}/root || exit 1; done'],
            env=base_env(inputs.source.version.commit_time),
        ),
        what="unpack the distro's earlier packages under /build/deps/root (no network)",
    )
    return [f"--admindir={DEPS}/dpkg"], unpacked_deps_env(root)


class DpkgBackend(Backend):
    """dpkg-buildpackage in bubblewrap, with the builder's own build dependencies."""

    name = "dpkg"
    kind = DEB
    required_tools = ("dpkg-buildpackage",)
    toolchain_probes: ClassVar[Mapping[str, Sequence[str]]] = {"dpkg-buildpackage": ("dpkg-buildpackage", "--version")}

    def build(self, inputs: BuildInputs, packaging: Packaging, against: Sequence[str]) -> None:
        if not isinstance(packaging, deb.DebianInfo):
            raise TypeError(f"dpkg builds Debian packaging, not {type(packaging).__name__}")
        _deb_root, package_dir, env = deb.prepare_tree(inputs, packaging)
        dpkg_opts, deps_env = stage_against(inputs, against)
        env = env | deps_env
        inside = f"{BUILD_ROOT}/deb/{package_dir}"
        log = inputs.log
        log.run(
            bwrap_argv(inputs.build_dir, ["dpkg-checkbuilddeps", *dpkg_opts], env=env, cwd=inside),
            what="dpkg-checkbuilddeps",
        )
        buildpackage = ["dpkg-buildpackage", "-us", "-uc", "--build=full", "--no-pre-clean", *dpkg_opts]
        log.run(bwrap_argv(inputs.build_dir, buildpackage, env=env, cwd=inside), what="dpkg-buildpackage (no network)")

    def collect(self, inputs: BuildInputs, packaging: Packaging) -> list[str]:
        return deb.collect_debs(os.path.join(inputs.build_dir, "deb"), inputs.project, "dpkg-buildpackage")

    def describe(self) -> dict[str, Any]:
        return {}
