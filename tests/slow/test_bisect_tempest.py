"""bisect_test.yml names the packaging commit that broke a Tempest test, on one deployed podman node.

The reduced example (Keystone alone, as tests/e2e builds it) is built; then four commits land on
keystone's packaging: three harmless ones and, second, one whose debian/rules sed-patches Keystone so
that listing users hides the users Tempest creates (``tempest-...``): Tempest's users list test fails,
the deploy itself does not notice. The head is built, and the bisect deploys the good repository once,
moves the node between states and re-runs only that test until it names the planted commit.

Checked from what the bisect records (bisect.json's steps and their evidence, the builds and Tempest reports under
the work dir) and from its output: one node, one deploy, one Puppet apply per step, each step running that test
alone, each state built once and nothing built or deployed again by a second run. Its figures (wall times, steps,
deploys, builds) are printed (``make bisect-tempest`` runs it with ``-s``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from unit.ansible_run import TOP, run_playbook  # tests/ is on the path: the slow lane reuses the unit helpers
from unit.gitrepos import commit, git

EXAMPLE = TOP / "build" / "example"
NODE = "df-bisect-slow"
PORT = 8091  # neither make run's 8088 nor the e2e test's 8090
TEST = "tempest.api.identity.admin.v3.test_list_users.UsersV3TestJSON.test_list_users"
NAME = "users-list"
T0 = 1_712_300_000  # after the example's packaging commit
PLANTED = 1
PATCH = (
    "\noverride_dh_auto_configure:\n\tdh_auto_configure\n"
    "\t# Hide the users Tempest creates from the users list.\n"
    "\tsed -i 's/return self.wrap_collection(users, hints=hints)/return self.wrap_collection("
    '[u for u in users if not u["name"].startswith("tempest-")], hints=hints)/\' keystone/api/users.py\n'
)

pytestmark = pytest.mark.skipif(
    not shutil.which("podman") or not shutil.which("dpkg-buildpackage"),
    reason="needs podman and the dpkg build tools (run `make`)",
)


def reduced_pkgdb(root: Path, distgit: Path) -> Path:
    """The example's rdoinfo with only keystone tagged for zed, its packaging read from ``distgit``."""
    text = (EXAMPLE / "rdoinfo" / "rdo.yml").read_text()
    text = text.replace("- project: keystone\n", f"- project: keystone\n  master-distgit: file://{distgit}\n", 1)
    (root / "tags").mkdir(parents=True)
    (root / "rdo.yml").write_text(text)
    (root / "tags" / "zed.yml").write_text("packages:\n- project: keystone\n  tags:\n    zed:\n")
    entry = root / "rdo-bisect.yml"
    entry.write_text("import:\n- rdo.yml\n- tags/zed.yml\n")
    return entry


def task_runs(output: str, name: str) -> int:
    """How many times the playbook ran (or skipped) the task called ``name``: its headers on the screen."""
    return sum(1 for line in output.splitlines() if line.startswith(f"TASK [{name}]"))


def builds(workdir: Path) -> dict[str, float]:
    """The keystone builds the bisect made (``<commit>_<distro hash[:8]>``) and when each finished."""
    results = workdir / "bisect" / NAME / "builds" / "results" / "keystone"
    found = sorted(results.glob("*/buildinfo.json")) if results.is_dir() else []
    return {path.parent.name: path.stat().st_mtime for path in found}


def ran_tests(report_html: str) -> set[str]:
    """The tests a step's Tempest run ran (its results.json, beside the HTML report), without their attributes."""
    document = json.loads((Path(report_html).parent / "results.json").read_text())
    return {test["test_id"].split("[", 1)[0] for test in document["tests"]}


@pytest.fixture
def workdir():
    # /var/tmp, not /tmp: nginx serves it to the node.
    path = Path(tempfile.mkdtemp(prefix="distroforge-bisect-", dir="/var/tmp"))
    os.chmod(path, 0o755)
    yield path
    nginx = path / "repo_serve" / "nginx.conf"
    if nginx.exists():
        subprocess.run(["/usr/sbin/nginx", "-c", str(nginx), "-s", "quit"], check=False, capture_output=True)
    subprocess.run(["podman", "rm", "-f", "-t", "0", NODE], check=False, capture_output=True)
    if os.environ.get("DISTROFORGE_SLOW_KEEP") != "1":
        shutil.rmtree(path, ignore_errors=True)


def test_bisect_names_the_packaging_commit_that_broke_a_tempest_test(workdir):
    if not (EXAMPLE / "rdoinfo" / "rdo.yml").exists():
        pytest.fail("the example distro is missing: run `make example`")
    distgit = workdir / "src" / "keystone-distgit"
    git(workdir, "clone", "-q", "-b", "zed-rdo", str(EXAMPLE / "distgit" / "keystone-distgit"), str(distgit))
    pkgdb = reduced_pkgdb(workdir / "rdoinfo", distgit)
    common = {
        "distroforge_workdir": str(workdir),
        "distroforge_pkgdb": str(pkgdb),
        "distroforge_repo_port": PORT,
    }
    clock = {}
    began = time.monotonic()
    run_playbook(TOP / "playbooks" / "build.yml", common, timeout=3600)  # the good point
    clock["build the good point"] = time.monotonic() - began
    good = os.readlink(workdir / "repos" / "current").rsplit("/", 1)[-1]

    landed = []
    for number in range(4):
        files = {"debian/README.Debian": f"keystone for distroforge, packaging change {number}\n"}
        if number == PLANTED:
            files["debian/rules"] = (distgit / "debian" / "rules").read_text() + PATCH
        landed.append(commit(distgit, f"Packaging change {number}", T0 + 100 * number, files))
    began = time.monotonic()
    run_playbook(TOP / "playbooks" / "build.yml", common, timeout=3600)  # the head: the bad point
    clock["build the head"] = time.monotonic() - began
    bad = os.readlink(workdir / "repos" / "current").rsplit("/", 1)[-1]
    assert bad != good

    bisect = {
        **common,
        "distroforge_bisect_good": good,
        "distroforge_bisect_bad": bad,
        "distroforge_bisect_tests": [TEST],
        "distroforge_bisect_name": NAME,
        "distroforge_bisect_node": NODE,
    }
    began = time.monotonic()
    proc = run_playbook(TOP / "playbooks" / "bisect_test.yml", bisect, timeout=5400)
    clock["bisect"] = time.monotonic() - began
    (workdir / "bisect.log").write_text(proc.stdout)
    saved = json.loads((workdir / "bisect" / NAME / "bisect.json").read_text())
    steps = {step["index"]: step for step in saved["steps"]}
    nodes = task_runs(proc.stdout, "Create the node (or find it running)")
    deploys = task_runs(proc.stdout, "Deploy the scenario with Puppet")
    applies = task_runs(proc.stdout, "distroforge.openstack.deploy_puppet : Apply the scenario (deploy phase)")
    tempest_runs = sum(task_runs(proc.stdout, f"Re-run only the failing tests on state {index}") for index in steps)
    made = builds(workdir)
    # The figures first, so that a failing check still reports them.
    print(
        f"\nbisect-tempest: {len(saved['candidates'])} candidate commits, {len(steps)} steps, {nodes} node(s),"
        f" {deploys} deploy(s), {applies} Puppet applies, {tempest_runs} Tempest runs, {len(made)} builds by the"
        " bisect; wall time: " + ", ".join(f"{what} {seconds:.0f} s" for what, seconds in clock.items())
    )

    assert [candidate["commit_hash"] for candidate in saved["candidates"]] == landed
    # ceil(log2(4)) = 2 states tried, the middle one first; the failing head is not tried again.
    assert [(step["index"], step["outcome"], step["reused"]) for step in saved["steps"]] == [
        (PLANTED, "bad", False),
        (PLANTED - 1, "good", False),
    ], saved["steps"]
    assert any(TEST in test_id for test_id in steps[PLANTED]["evidence"]["failed_tests"]), steps[PLANTED]
    assert steps[PLANTED - 1]["evidence"]["failed_tests"] == [], steps[PLANTED - 1]
    for index, step in steps.items():
        evidence = step["evidence"]
        assert evidence["build_errors"] == [] and evidence["repository"], step
        assert evidence["results"].endswith(f"/runs/bisect-{NAME}/state-{index}/"), step
        assert (workdir / "runs" / f"bisect-{NAME}" / f"state-{index}").is_dir()
        # Each step re-ran the failing test and nothing else.
        assert ran_tests(evidence["report"]) == {TEST}, step
        failed = int(step["outcome"] == "bad")
        assert (evidence["counts"].get("failed"), evidence["counts"].get("passed")) == (failed, 1 - failed), step
    assert landed[PLANTED] in proc.stdout and "Packaging change 1" in proc.stdout and "Test Bot" in proc.stdout

    # One node, deployed once from the good repository; each step then re-applies Puppet once and runs Tempest once.
    assert nodes == 1 and deploys == 1, (nodes, deploys)
    assert applies == 1 + len(steps) and tempest_runs == len(steps), (applies, tempest_runs)
    # Each state tried is built once; the good point and the head come from the pipeline's repositories.
    assert sorted(name.split("_")[1] for name in made) == sorted(landed[index][:8] for index in steps), made
    gone = subprocess.run(["podman", "container", "exists", NODE], check=False)
    assert gone.returncode != 0, "the node was not removed"

    # run again: the plan is complete, nothing is built or deployed, the verdict is the same
    began = time.monotonic()
    again = run_playbook(TOP / "playbooks" / "bisect_test.yml", bisect, timeout=900)
    print(f"bisect-tempest: the finished bisect run again: {time.monotonic() - began:.0f} s")
    assert landed[PLANTED] in again.stdout and "Deploy the scenario with Puppet" not in again.stdout
    assert "Could not match supplied host pattern" not in again.stdout + again.stderr
    assert json.loads((workdir / "bisect" / NAME / "bisect.json").read_text()) == saved
    assert builds(workdir) == made  # the same builds, none made again
    assert subprocess.run(["podman", "container", "exists", NODE], check=False).returncode != 0
