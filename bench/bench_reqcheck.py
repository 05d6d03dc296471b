"""reqcheck over the whole example distro, per package, with rdopkg reqcheck on the same input.

The example's repositories are made in a scratch directory from the cached
PyPI sdists (``examples/distro/make_upstreams.py``).  For each package, at its
newest tag, against its zed-rdo packaging (medians of interleaved runs):

- ours: ``reqcheck_package`` for RPM and DEB, runtime and build (git reads,
  rpm's parse of the spec in the build sandbox, python-debian, the map);
- ours, RPM runtime only: the same question rdopkg answers;
- the peer: ``rdopkg reqcheck`` (PyPI rdopkg, its library: the command
  would fetch rdoinfo from the network) in a clone of the distgit that holds
  the upstream tags, from a fresh interpreter (as a user runs it), and ours
  from a fresh interpreter too.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import TOP, report, timed

sys.path.insert(0, str(TOP / ".venv" / "collections"))
from ansible_collections.distroforge.openstack.plugins.module_utils._pkgdb import loader
from ansible_collections.distroforge.openstack.plugins.module_utils._release import bump

EXAMPLE = TOP / "examples" / "distro"
PACKAGES = {"keystone": ("keystone", "22.0.2"), "keystoneclient": ("python-keystoneclient", "5.0.1"),
            "keystonemiddleware": ("keystonemiddleware", "10.1.1")}  # fmt: skip
GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
RDOPKG = "import sys; from rdopkg.actionmods import reqs; reqs.reqcheck_spec('3.9', ref=sys.argv[1])"
OURS = (
    "import sys, json; sys.path.insert(0, sys.argv[3]);"
    "from ansible_collections.distroforge.openstack.plugins.module_utils._release import bump;"
    "bump.reqcheck_package(json.loads(sys.argv[1]), tag=sys.argv[2], kinds=('runtime',), formats=('rpm',))"
)


def _make_upstreams():
    spec = importlib.util.spec_from_file_location("make_upstreams_bench", EXAMPLE / "make_upstreams.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _run(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, env=GIT_ENV)
    return time.perf_counter() - started


def main() -> None:
    make_upstreams = _make_upstreams()
    with tempfile.TemporaryDirectory(prefix="df-bench-reqcheck-") as scratch:
        target = Path(scratch) / "example"
        make_upstreams.make_all(target, make_upstreams.DEFAULT_CACHE, echo=False)
        db = loader.read(str(target / "rdoinfo" / "rdo-full.yml"), release="zed")
        by_project = {pkg["project"]: pkg for pkg in db.packages}
        total_ours = total_peer = 0.0
        for project, (upstream, tag) in PACKAGES.items():
            package = by_project[project]
            full = timed(lambda package=package, tag=tag: bump.reqcheck_package(package, tag=tag), repeat=3)
            print(f"reqcheck {package['name']} {tag} (rpm+deb, runtime+build, in-process): {full:.2f} s", flush=True)
            work = Path(scratch) / f"rdopkg-{project}"
            subprocess.run(
                ["git", "clone", "-q", "-b", "zed-rdo", str(target / "distgit" / f"{project}-distgit"), str(work)],
                check=True, env=GIT_ENV,
            )  # fmt: skip
            subprocess.run(
                ["git", "fetch", "-q", str(target / "upstream" / upstream), "refs/tags/*:refs/tags/*"],
                cwd=work, check=True, env=GIT_ENV,
            )  # fmt: skip
            ours_argv = [sys.executable, "-c", OURS, json.dumps(package), tag, str(TOP / ".venv" / "collections")]
            peer_argv = [sys.executable, "-c", RDOPKG, tag]
            ours_runs, peer_runs = [], []
            for _round in range(3):  # interleaved
                ours_runs.append(_run(ours_argv, TOP))
                peer_runs.append(_run(peer_argv, work))
            ours, peer = sorted(ours_runs)[1], sorted(peer_runs)[1]
            total_ours += ours
            total_peer += peer
            report(f"reqcheck {package['name']} {tag} (rpm runtime, fresh process)", ours, peer, "rdopkg reqcheck")
            shutil.rmtree(work)
        report("reqcheck whole example (rpm runtime, fresh processes)", total_ours, total_peer, "rdopkg reqcheck")


if __name__ == "__main__":
    main()
