"""bisect.yml names the commit that broke a package's build, among 16 that landed over two polls, and reuses the
build the pipeline made in between; with distroforge_bisect_kind=test it runs the test bisect's plays instead."""

import json
import shutil
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB

from .ansible_run import TOP, play, run_playbook
from .buildfixtures import T0, hellodf_pkgdb, make_distgit, make_upstream
from .gitrepos import commit, git

BISECT = TOP / "playbooks" / "bisect.yml"
PLANTED = 10  # the 11th of 16 commits breaks the build
POLLED = 7  # the pipeline polls (and builds) after the 8th commit, then after the 16th

needs_builds = pytest.mark.skipif(
    not shutil.which("bwrap") or not shutil.which("rpmbuild"), reason="needs bubblewrap and rpmbuild (run `make`)"
)


def repo_hash(upstream: Path, distgit: Path, upstream_commit: str) -> str:
    return f"{upstream_commit}_{git(distgit, 'rev-parse', 'HEAD')[:8]}"


def said(proc) -> str:
    """The run's output with Ansible's line wrapping undone."""
    return " ".join(proc.stdout.split())


def built_states(work: Path, name: str) -> list[str]:
    """The upstream commits a bisect built (its own build dir, one result per state built)."""
    results = work / "bisect" / name / "builds" / "results" / "hellodf"
    return sorted(path.name.split("_")[0] for path in results.iterdir()) if results.is_dir() else []


@needs_builds
def test_bisect_names_the_commit_that_broke_the_build_and_reuses_the_pipelines_build(tmp_path):
    upstream = make_upstream(tmp_path)
    distgit = make_distgit(tmp_path)
    pkgdb = tmp_path / "rdoinfo" / "rdo.yml"
    pkgdb.parent.mkdir()
    pkgdb.write_text(hellodf_pkgdb(upstream, distgit))
    work = tmp_path / "work"
    common = {
        "distroforge_pkgdb": str(pkgdb),
        "distroforge_release": "zed",
        "distroforge_workdir": str(work),
        "distroforge_release_tags": False,
    }
    run_playbook(TOP / "playbooks" / "build.yml", common, timeout=900)  # builds: the first good point
    first = repo_hash(upstream, distgit, git(upstream, "rev-parse", "HEAD"))

    landed = []
    for number in range(16):
        files = {f"hellodf/change{number}.py": f"CHANGE = {number}\n"}
        if number == PLANTED:
            files["setup.py"] = "raise SystemExit('planted: this setup.py refuses to build')\n"
        landed.append(commit(upstream, f"Change number {number}", T0 + 10_000 + 100 * number, files))
        if number in (POLLED, 15):  # builds: the last success, then the failing head
            run_playbook(TOP / "playbooks" / "build.yml", common, timeout=900)
    polled, head = repo_hash(upstream, distgit, landed[POLLED]), repo_hash(upstream, distgit, landed[15])
    with StateDB(work / "state.db") as db:
        assert [(item.last_success.repo_hash, item.first_failed.repo_hash) for item in db.ftbfs()] == [(polled, head)]
    culprit = landed[PLANTED]

    # From the FTBFS lifecycle: the 8 commits between the last success and the failure, halved 3 times.
    bisect = {**common, "distroforge_bisect_project": "hellodf"}
    proc = run_playbook(BISECT, bisect, timeout=1800)
    assert f"8 commits between {polled} and {head}: at most 3 builds" in said(proc)
    saved = json.loads((work / "bisect" / "build-hellodf" / "bisect.json").read_text())
    assert [c["commit_hash"] for c in saved["candidates"]] == landed[POLLED + 1 :]
    # Nothing between a last success and its first failure is in the state DB: every state tried is built.
    assert [(step["index"], step["outcome"], step["reused"]) for step in saved["steps"]] == [
        (3, "bad", False),  # Change number 11
        (1, "good", False),  # Change number 9
        (2, "bad", False),  # Change number 10
    ]
    assert built_states(work, "build-hellodf") == sorted(landed[9:12])
    assert culprit in proc.stdout and "Change number 10" in proc.stdout and "Test Bot <bot@example.org>" in proc.stdout
    bad = saved["steps"][2]
    assert "failed" in bad["evidence"]["error"]
    assert "planted: this setup.py refuses to build" in Path(bad["evidence"]["log"]).read_text()

    # Between two builds given by hand: 16 commits. The middle state is the one the pipeline built after the 8th
    # commit: it is read from the state DB, not built again; three builds name the same culprit.
    explicit = {
        **bisect,
        "distroforge_bisect_good": first,
        "distroforge_bisect_bad": head,
        "distroforge_bisect_name": "by-hand",
    }
    proc = run_playbook(BISECT, explicit, timeout=1800)
    assert f"16 commits between {first} and {head}: at most 4 builds" in said(proc)
    plan = work / "bisect" / "by-hand" / "bisect.json"
    saved = json.loads(plan.read_text())
    assert [c["commit_hash"] for c in saved["candidates"]] == landed
    assert [(step["index"], step["outcome"], step["reused"]) for step in saved["steps"]] == [
        (POLLED, "good", True),
        (11, "bad", False),
        (9, "good", False),
        (PLANTED, "bad", False),
    ]
    assert saved["steps"][0]["repo_hash"] == polled and saved["steps"][0]["evidence"]["status"] == "SUCCESS"
    assert built_states(work, "by-hand") == sorted(landed[9:12])  # not the 8th commit's state
    assert culprit in proc.stdout and "Change number 10" in proc.stdout

    # run again: the plan is complete, nothing is built, nothing changes
    again = run_playbook(BISECT, explicit, timeout=600)
    assert "changed=0" in again.stdout and culprit in again.stdout and "<< error" not in again.stdout
    assert f"16 commits between {first} and {head}: at most 4 builds" in said(again)
    assert json.loads(plan.read_text()) == saved
    assert built_states(work, "by-hand") == sorted(landed[9:12])


def dispatch(tmp_path: Path, extra: dict) -> str:
    """bisect.yml with ``extra``, which must fail early; its whole output."""
    proc = play(BISECT, {"distroforge_workdir": str(tmp_path / "work"), **extra}, timeout=120)
    assert proc.returncode != 0, proc.stdout[-3000:]
    return proc.stdout + proc.stderr


def test_bisect_kind_test_runs_the_test_bisect_and_not_the_build_one(tmp_path):
    pkgdb = tmp_path / "rdo.yml"
    pkgdb.write_text(hellodf_pkgdb(tmp_path / "up", tmp_path / "dg"))
    # The test bisect's inputs are asked for, under bisect.yml's name.
    out = dispatch(tmp_path, {"distroforge_bisect_kind": "test", "distroforge_pkgdb": str(pkgdb)})
    (line,) = [line for line in out.splitlines() if line.startswith("[ERROR]")]
    assert line.startswith("[ERROR]: Task failed: Action failed: bisect.yml -e distroforge_bisect_kind=test needs")
    assert "distroforge_bisect_manifest=<runs/<run id>/manifest.json>" in line
    assert "distroforge_bisect_good_label=<label under repos/>" in line
    assert "distroforge_bisect_project" not in out

    # Given them, it plans a test bisect (kind test: both points looked up as repositories) and stops there.
    (tmp_path / "work").mkdir()
    with StateDB(tmp_path / "work" / "state.db"):
        pass  # an empty state DB
    given = {
        "distroforge_bisect_kind": "test",
        "distroforge_pkgdb": str(pkgdb),
        "distroforge_bisect_good": "a" * 40 + "_" + "b" * 8,
        "distroforge_bisect_bad": "c" * 40 + "_" + "d" * 8,
        "distroforge_bisect_tests": ["tempest.api.identity.test_x"],
    }
    out = dispatch(tmp_path, given)
    assert "TASK [Choose the points, the failing tests and where the bisect lives]" in out
    assert f"good: no build '{'a' * 40}_{'b' * 8}' in the state DB" in out
    assert not (tmp_path / "work" / "bisect").exists()

    # The build kind (the default) never reaches the test bisect's plays, and warns about no node.
    out = dispatch(tmp_path, {"distroforge_pkgdb": str(pkgdb), "distroforge_release": "zed"})
    (line,) = [line for line in out.splitlines() if line.startswith("[ERROR]")]
    assert "bisect.yml needs" in line and "distroforge_bisect_project=<package>" in line
    assert "(a Tempest failure: -e distroforge_bisect_kind=test, docs/triage.md)" in line
    assert "Plan the test bisect" not in out and "WARNING" not in out

    out = dispatch(tmp_path, {"distroforge_bisect_kind": "tests"})
    (line,) = [line for line in out.splitlines() if line.startswith("[ERROR]")]
    assert line.endswith("distroforge_bisect_kind: must be build (a package that fails to build) or test (a Tempest"
                         " failure), got tests")  # fmt: skip
