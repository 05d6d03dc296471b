"""Package database load and source polling, against their peers.

1. Loading the public rdoinfo database (zed): ours (validated, cold and with
   the parse cache) vs plain distroinfo, which DLRN uses.  Needs a checkout
   of redhat-openstack/rdoinfo: RDOINFO_DIR, or ../shared/data/rdoinfo
   (never copied into this repository).
2. Polling 300 packages (600 local git repos, DLRN's benchmark workload from
   ../shared/bench/dlrn/make_workload.sh) when nothing changed: ours vs a
   sequential `git ls-remote` loop over the same repositories.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import TOP, report
from distroinfo import info

sys.path.insert(0, str(TOP / ".venv" / "collections"))
sys.path.insert(0, str(TOP))

from ansible_collections.distroforge.openstack.plugins.module_utils._pkgdb import loader
from ansible_collections.distroforge.openstack.plugins.module_utils._sources.runner import poll_and_queue
from tests.unit.shared_dir import SHARED

WORKLOAD_SCRIPT = SHARED / "bench" / "dlrn" / "make_workload.sh"
BENCH_ROOT = Path(os.environ.get("DISTROFORGE_BENCH_ROOT", "/var/tmp/distroforge-bench"))
# The public rdoinfo database, as ../shared/data holds it next to every checkout.
RDOINFO_DATA = SHARED / "data" / "rdoinfo"


def rdoinfo_checkout() -> Path | None:
    """The real rdoinfo: RDOINFO_DIR, or the copy in ../shared/data."""
    if os.environ.get("RDOINFO_DIR"):
        return Path(os.environ["RDOINFO_DIR"])
    return RDOINFO_DATA if (RDOINFO_DATA / "rdo-full.yml").exists() else None


def bench_rdoinfo() -> None:
    checkout = rdoinfo_checkout()
    if checkout is None:
        print("rdoinfo load: skipped (set RDOINFO_DIR to a checkout of redhat-openstack/rdoinfo)")
        return
    entry = str(checkout / "rdo-full.yml")
    started = time.perf_counter()
    peer = info.DistroInfo(info_files="rdo-full.yml", local_info=str(checkout)).get_info(apply_tag="zed")
    peer_s = time.perf_counter() - started
    started = time.perf_counter()
    ours = loader.read(entry, release="zed")
    cold_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as cache:
        loader.read(entry, release="zed", cache_dir=cache)
        started = time.perf_counter()
        loader.read(entry, release="zed", cache_dir=cache)
        warm_s = time.perf_counter() - started
    print(f"rdoinfo: {len(peer['packages'])} packages in the database, {len(ours.packages)} tagged zed")
    report("rdoinfo load, validated, no cache (pkgdb_info)", cold_s, peer_s, "distroinfo get_info")
    report("rdoinfo load, validated, parse cache warm (pkgdb_info)", warm_s, peer_s, "distroinfo get_info")


def workload(n: int) -> Path:
    target = BENCH_ROOT / f"workload-{n}"
    if not (target / "packages.tsv").exists():
        subprocess.run(["bash", str(WORKLOAD_SCRIPT), str(n), str(target)], check=True, capture_output=True)
    return target


def bench_poll(n: int = 300) -> None:
    if not WORKLOAD_SCRIPT.exists():
        print(f"source poll: skipped ({WORKLOAD_SCRIPT} not found)")
        return
    root = workload(n)
    pkgs = loader.read(str(root / "rdoinfo" / "rdo.yml")).packages
    with tempfile.TemporaryDirectory() as state:
        kw = {"release": "bench", "db_path": f"{state}/state.db", "mirror_dir": f"{state}/git"}
        started = time.perf_counter()
        first = poll_and_queue(pkgs, **kw)
        first_s = time.perf_counter() - started
        assert len(first["new_commits"]) == n, first["errors"][:3]
        samples = []
        for _round in range(3):
            started = time.perf_counter()
            again = poll_and_queue(pkgs, **kw)
            samples.append(time.perf_counter() - started)
            assert again["new_commits"] == [] and again["errors"] == []
    ours = sorted(samples)[1]
    repos = [(p["upstream"], p["source_branch"]) for p in pkgs] + [(p["distgit"], p["distgit_branch"]) for p in pkgs]
    started = time.perf_counter()
    for url, branch in repos:
        subprocess.run(["git", "ls-remote", url, f"refs/heads/{branch}"], check=True, capture_output=True)
    loop_s = time.perf_counter() - started
    print(f"source poll: {n} packages, {len(repos)} repositories; first poll (mirrors + queue) {first_s:.2f} s")
    report(f"source poll, nothing changed, {n} packages (source_poll engine)", ours, loop_s, "sequential ls-remote")


if __name__ == "__main__":
    bench_rdoinfo()
    bench_poll()
