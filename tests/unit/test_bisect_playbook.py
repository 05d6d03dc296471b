"""bisect.yml names the commit that broke a package's build, among 16 that landed between two polls."""

import json
import shutil
from pathlib import Path

import pytest

from .ansible_run import TOP, run_playbook
from .buildfixtures import T0, make_distgit, make_upstream
from .gitrepos import commit

pytestmark = pytest.mark.skipif(
    not shutil.which("bwrap") or not shutil.which("rpmbuild"), reason="needs bubblewrap and rpmbuild (run `make`)"
)

PKGDB = """releases:
- name: zed
  branch: rpm-master
  repos:
  - name: el9s
    buildsys: none
packages:
- project: hellodf
  name: python-hellodf
  upstream: file://{upstream}
  master-distgit: file://{distgit}
  maintainers:
  - bot@example.org
"""
PLANTED = 10  # the 11th of 16 commits breaks the build


def test_bisect_names_the_commit_that_broke_the_build_in_log2_builds(tmp_path):
    upstream = make_upstream(tmp_path)
    distgit = make_distgit(tmp_path)
    pkgdb = tmp_path / "rdoinfo" / "rdo.yml"
    pkgdb.parent.mkdir()
    pkgdb.write_text(PKGDB.format(upstream=upstream, distgit=distgit))
    work = tmp_path / "work"
    common = {
        "distroforge_pkgdb": str(pkgdb),
        "distroforge_release": "zed",
        "distroforge_workdir": str(work),
        "distroforge_release_tags": False,
    }
    run_playbook(TOP / "playbooks" / "build.yml", common, timeout=900)  # builds: the last good point

    landed = []
    for number in range(16):
        files = {f"hellodf/change{number}.py": f"CHANGE = {number}\n"}
        if number == PLANTED:
            files["setup.py"] = "raise SystemExit('planted: this setup.py refuses to build')\n"
        landed.append(commit(upstream, f"Change number {number}", T0 + 10_000 + 100 * number, files))
    run_playbook(TOP / "playbooks" / "build.yml", common, timeout=900)  # the head fails to build

    bisect = {**common, "distroforge_bisect_project": "hellodf"}
    proc = run_playbook(TOP / "playbooks" / "bisect.yml", bisect, timeout=1800)
    plan = work / "bisect" / "build-hellodf" / "bisect.json"
    saved = json.loads(plan.read_text())
    assert len(saved["candidates"]) == 16
    built = [step for step in saved["steps"] if not step["reused"]]
    reused = [step for step in saved["steps"] if step["reused"]]
    assert len(built) <= 4 and len(reused) <= 1  # ceil(log2(16)); the failing head is known, not rebuilt
    culprit = landed[PLANTED]
    assert culprit in proc.stdout and "Change number 10" in proc.stdout and "Test Bot <bot@example.org>" in proc.stdout
    bad = next(step for step in saved["steps"] if step["index"] == PLANTED)
    assert bad["outcome"] == "bad" and "failed" in bad["evidence"]["error"]
    assert "planted: this setup.py refuses to build" in Path(bad["evidence"]["log"]).read_text()

    # run again: the plan is complete, nothing is built, nothing changes
    again = run_playbook(TOP / "playbooks" / "bisect.yml", bisect, timeout=600)
    assert "changed=0" in again.stdout and culprit in again.stdout
    assert json.loads(plan.read_text()) == saved
