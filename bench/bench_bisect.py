"""Bisect a planted build failure among 16 commits: build cycles and wall time, against building every commit.

Workload: a small real pbr package (tests/unit/buildfixtures.py) whose
last good build is followed by 16 upstream commits; commit 11 breaks its
build. The state DB knows the good build and the failing head, as after
two polls. Ours: the bisect engine (``_triage/bisect.py``) picks each state
and the build runner builds it (rpmbuild in bubblewrap), the failing head
reused from the state DB. Peer: the naive triage that builds every commit
of the range in order until the first failure (what an on-duty engineer
does by hand), with the same runner, in the same run. Goal: at most
ceil(log2 16) + 1 = 5 build cycles.
Environment: BENCH_BISECT_BAD (default 10, the planted commit's index).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from _common import TOP, report

sys.path.insert(0, str(TOP / ".venv" / "collections"))
sys.path.insert(0, str(TOP))

from ansible_collections.distroforge.openstack.plugins.module_utils._build.runner import (
    BuildJob,
    BuildSettings,
    build_as,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import (
    NewCommit,
    StateDB,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._triage import bisect as engine
from tests.unit.buildfixtures import T0, head, make_distgit, make_upstream
from tests.unit.gitrepos import commit

PLANTED = int(os.environ.get("BENCH_BISECT_BAD", "10"))
COMMITS = 16


def build(settings: BuildSettings, upstream: Path, distgit: Path, sha: str, packaging: str) -> str:
    """Build hellodf at ``sha``; its status."""
    job = BuildJob("hellodf", "python-hellodf", f"file://{upstream}", f"file://{distgit}", sha, packaging)
    (result,) = build_as(None, [job], settings)
    return result["status"]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-bisect-") as tmp:
        root = Path(tmp)
        upstream, distgit = make_upstream(root), make_distgit(root)
        good_sha, packaging = head(upstream), head(distgit)
        landed = []
        for number in range(COMMITS):
            files = {f"hellodf/change{number}.py": f"CHANGE = {number}\n"}
            if number == PLANTED:
                files["setup.py"] = "raise SystemExit('planted')\n"
            landed.append(commit(upstream, f"Change number {number}", T0 + 10_000 + 100 * number, files))
        settings = BuildSettings(backend="rpmbuild", workdir=str(root / "work"), mirror_dir=str(root / "git"))
        # warm the mirrors and the first build's caches for both sides alike
        build(settings, upstream, distgit, good_sha, packaging)

        with StateDB(root / "state.db") as db:
            db.upsert_project("hellodf", upstream=f"file://{upstream}", distgit=f"file://{distgit}")
            for sha, status in ((good_sha, "SUCCESS"), (landed[-1], "FAILED")):
                (record,) = db.queue([NewCommit("hellodf", "zed", sha, packaging, T0)])
                db.claim(record.id, "bench")
                db.finish(record.id, status)

            started = time.perf_counter()
            plan = engine.plan_build(db, "hellodf", "zed", str(root / "git"))
            cycles = 0
            while (index := plan.next_index()) is not None:
                known = engine.known_build_outcome(db, plan, index)
                if known is not None:
                    plan.record(index, known.outcome, reused=True)
                    continue
                cycles += 1
                state = plan.state(index)["hellodf"]
                status = build(settings, upstream, distgit, state["commit_hash"], state["distro_hash"])
                plan.record(index, "good" if status == "SUCCESS" else "bad")
            ours = time.perf_counter() - started
        assert [c.commit_hash for c in plan.culprits()] == [landed[PLANTED]], plan.verdict()

        started = time.perf_counter()
        naive = 0
        for sha in landed:
            naive += 1
            if build(settings, upstream, distgit, sha, packaging) != "SUCCESS":
                break
        peer = time.perf_counter() - started
    print(f"bisect over {COMMITS} commits, planted bad commit #{PLANTED + 1}: {cycles} build cycles (goal <= 5),"
          f" naive {naive} cycles")  # fmt: skip
    report("bisect wall time", ours, peer, "build every commit")


if __name__ == "__main__":
    main()
