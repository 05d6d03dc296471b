"""Time from an upstream tag landing to a signed release repository with its release package (issue 14's goal: 10 min).

``tools/release_day.py --no-gate`` on the example: keystonemiddleware released at 10.1.0 in set-up, then
upstream's 10.1.1 lands -> bump -> reqcheck -> tagged build -> testing -> release (published, signed)
-> release packages; every stage move checks installability against bookworm main's real index (this
host's apt list).  The figure is the tool's "tag landed -> released" (set-up excluded); each step is
printed.  ``BENCH_RELEASE_PIN`` (``project=tag``, default ``keystonemiddleware=10.1.0``) chooses another
package, ``BENCH_RELEASE_PIN=keystone=22.0.1`` the example's own (keystone 22.0.1 -> 22.0.2).  The gate's
deploy + Tempest and the node tests are the slow lane's (``make release-day``); their figures are in
docs/release.md.

The peer: DLRN (bench/peers.py) on its own benchmark workload (../shared/bench/dlrn, one package), the
time of its one-change rerun - one new upstream commit built and published as an unsigned, ungated
repository, the nearest thing DLRN does (it has no tags, stages or release packages; RDO's own tag ->
release took hours: Ocata's every stable build and its CI within 2 hours of GA).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import TOP, report

PIN = os.environ.get("BENCH_RELEASE_PIN", "keystonemiddleware=10.1.0")
PORT = 8096  # the slow lane's release day takes 8094, its make-test form 8095


def ours() -> dict | None:
    """One release day without the gate; its summary.json, or None when it failed (its output printed)."""
    project = PIN.split("=", 1)[0]
    with tempfile.TemporaryDirectory(prefix="df-bench-release-day-") as scratch:
        target = Path(scratch) / "day"
        argv = [sys.executable, str(TOP / "tools" / "release_day.py"), "--target", str(target), "--no-gate",
                "--packages", project, "--pin", PIN, "--port", str(PORT)]  # fmt: skip
        env = {**os.environ, "ANSIBLE_CONFIG": str(TOP / "ansible.cfg"),
               "ANSIBLE_COLLECTIONS_PATH": str(TOP / ".venv" / "collections")}  # fmt: skip
        run = subprocess.run(argv, cwd=TOP, env=env, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            print(f"release day failed (rc {run.returncode}):\n{run.stdout[-2000:]}{run.stderr[-2000:]}", flush=True)
            return None
        return json.loads((target / "summary.json").read_text(encoding="utf-8"))


def main() -> None:
    summary = ours()
    if summary is None:
        return
    for step in summary["steps"]:
        print(f"  {step['name']}: {step['seconds']:.1f} s  {step['result'][:100]}", flush=True)
    day = summary["tag_to_release_seconds"]
    print(f"release day ({PIN} -> newest tag, no gate): tag landed -> released {day:.1f} s (goal 600 s)", flush=True)
    from bench_build import dlrn_phases  # noqa: PLC0415 - the DLRN harness, only when ours ran

    phases = dlrn_phases(1)
    if not phases or "onechange" not in phases:
        print("DLRN's one-change rerun not measured: no ratio", flush=True)
        return
    report(
        "tag landed -> signed release repo + release package (ours, no gate)",
        day,
        phases["onechange"],
        "DLRN one new commit -> unsigned repo (its workload, 1 package)",
    )


if __name__ == "__main__":
    main()
