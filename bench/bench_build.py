"""Build wall time on DLRN's benchmark workload: ours vs DLRN, same machine, same run.

Workload: ../shared/bench/dlrn/make_workload.sh N (N packages, upstream +
distgit git repos, rdoinfo database, deterministic hashes).  Phases, as in
the DLRN harness: first build of everything, no-change rerun, one-change
rerun (one new upstream commit).  Ours runs playbooks/build.yml (poll,
build with rpmbuild in bubblewrap, record); DLRN runs through
../shared/bench/dlrn/run_dlrn.sh with its mock stand-in (rpmbuild too), on
the DLRN that bench/peers.py installs from PyPI (the harness's BENCH_ROOT).

Environment: BENCH_N (default 20), BENCH_DLRN=0 to skip DLRN (then only
our figures print), DISTROFORGE_BENCH_ROOT (default /var/tmp/distroforge-bench).
"""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from _common import TOP

sys.path.insert(0, str(TOP))

from tests.unit.dlrn_harness import HARNESS, ready_env

ROOT = Path(os.environ.get("DISTROFORGE_BENCH_ROOT", "/var/tmp/distroforge-bench"))
N = int(os.environ.get("BENCH_N", "20"))


def dlrn_phases(n: int) -> dict[str, float] | None:
    """Run the DLRN harness; its wall seconds per phase, or None when it cannot run."""
    if os.environ.get("BENCH_DLRN", "1") == "0" or not (HARNESS / "run_dlrn.sh").exists():
        return None
    try:
        env = ready_env()
    except (RuntimeError, OSError) as exc:
        print(f"DLRN harness cannot run ({exc}); DLRN figures skipped")
        return None
    work = ROOT / f"dlrn-run-n{n}"
    run = subprocess.run(
        ["bash", str(HARNESS / "run_dlrn.sh"), str(n)],
        env={**env, "WORK": str(work)},
        capture_output=True,
        text=True,
        check=False,
    )
    results = work / "results.tsv"
    if not results.exists():
        print(f"DLRN harness did not produce {results} (rc {run.returncode}); DLRN figures skipped")
        return None
    with results.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return {row["phase"]: float(row["wall_s"]) for row in rows}


def ours(n: int) -> dict[str, float]:
    """Our three phases on a fresh copy of the same workload."""
    workload = ROOT / f"build-workload-{n}"
    shutil.rmtree(workload, ignore_errors=True)
    subprocess.run(["bash", str(HARNESS / "make_workload.sh"), str(n), str(workload)], check=True, capture_output=True)
    workdir = ROOT / f"build-run-{n}"
    shutil.rmtree(workdir, ignore_errors=True)
    cmd = [
        "ansible-playbook",
        str(TOP / "playbooks" / "build.yml"),
        "-e",
        f"distroforge_pkgdb={workload}/rdoinfo/rdo.yml",
        "-e",
        "distroforge_release=bench",
        "-e",
        f"distroforge_workdir={workdir}",
        "-e",
        "distroforge_release_tags=false",
        "-e",
        "distroforge_backend=rpmbuild",  # the inventory's default is dpkg; DLRN's workload has specs only
    ]
    phases = {}
    for phase in ("first", "nochange", "onechange"):
        if phase == "onechange":
            subprocess.run(
                ["bash", str(HARNESS / "make_workload.sh"), "--new-commit", str(workload), str(n // 2)],
                check=True,
                capture_output=True,
            )
        started = time.perf_counter()
        proc = subprocess.run(cmd, cwd=TOP, capture_output=True, text=True, check=False)
        phases[phase] = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"build.yml failed in phase {phase}:\n{proc.stdout[-3000:]}")
        with sqlite3.connect(workdir / "state.db") as db:
            bad = db.execute("SELECT project, status FROM commits WHERE status != 'SUCCESS'").fetchall()
        if bad:  # a fast failure is no result
            raise SystemExit(f"phase {phase}: builds did not succeed: {bad[:5]} (logs under {workdir}/results)")
    return phases


def main() -> None:
    peer = dlrn_phases(N)
    mine = ours(N)
    for phase in ("first", "nochange", "onechange"):
        line = f"build {phase}, {N} packages (build.yml, rpmbuild): {mine[phase]:.2f} s"
        if peer and phase in peer:
            line += f" | DLRN 0.26.1: {peer[phase]:.2f} s | ratio ours/DLRN: {mine[phase] / peer[phase]:.2f}x"
        print(line, flush=True)
    if peer is None:
        print("(DLRN not run: set BENCH_DLRN=1 with ../shared/bench/dlrn present)")


if __name__ == "__main__":
    main()
