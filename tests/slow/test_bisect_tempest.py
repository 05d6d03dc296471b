"""bisect_test.yml names the packaging commit that broke a Tempest test, on one deployed podman node.

The reduced example (Keystone alone, as tests/e2e builds it) is built; then four commits land on
keystone's packaging: three harmless ones and, second, one whose debian/rules sed-patches Keystone so
that listing users hides the users Tempest creates (``tempest-...``): Tempest's users list test fails,
the deploy itself does not notice. The head is built, and the bisect deploys the good repository once,
moves the node between states and re-runs only that test until it names the planted commit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from unit.ansible_run import TOP, run_playbook  # tests/ is on the path: the slow lane reuses the unit helpers
from unit.gitrepos import commit, git

EXAMPLE = TOP / "build" / "example"
NODE = "df-bisect-slow"
PORT = 8091  # neither make run's 8088 nor the e2e test's 8090
TEST = "tempest.api.identity.admin.v3.test_list_users.UsersV3TestJSON.test_list_users"
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
    run_playbook(TOP / "playbooks" / "build.yml", common, timeout=3600)  # the good point
    good = os.readlink(workdir / "repos" / "current").rsplit("/", 1)[-1]

    landed = []
    for number in range(4):
        files = {"debian/README.Debian": f"keystone for distroforge, packaging change {number}\n"}
        if number == PLANTED:
            files["debian/rules"] = (distgit / "debian" / "rules").read_text() + PATCH
        landed.append(commit(distgit, f"Packaging change {number}", T0 + 100 * number, files))
    run_playbook(TOP / "playbooks" / "build.yml", common, timeout=3600)  # the head: the bad point
    bad = os.readlink(workdir / "repos" / "current").rsplit("/", 1)[-1]
    assert bad != good

    bisect = {
        **common,
        "distroforge_bisect_good": good,
        "distroforge_bisect_bad": bad,
        "distroforge_bisect_tests": [TEST],
        "distroforge_bisect_name": "users-list",
        "distroforge_bisect_node": NODE,
    }
    proc = run_playbook(TOP / "playbooks" / "bisect_test.yml", bisect, timeout=5400)
    (workdir / "bisect.log").write_text(proc.stdout)
    saved = json.loads((workdir / "bisect" / "users-list" / "bisect.json").read_text())
    assert [candidate["commit_hash"] for candidate in saved["candidates"]] == landed
    steps = {step["index"]: step for step in saved["steps"]}
    assert len(steps) <= 2, steps  # ceil(log2(4)) deploy steps; the failing head is not tried again
    assert steps[PLANTED]["outcome"] == "bad" and steps[PLANTED - 1]["outcome"] == "good", steps
    assert any(TEST in test_id for test_id in steps[PLANTED]["evidence"]["failed_tests"]), steps[PLANTED]
    assert steps[PLANTED]["evidence"]["results"].endswith("/runs/bisect-users-list/state-1/")
    assert (workdir / "runs" / "bisect-users-list" / "state-1").is_dir()
    assert landed[PLANTED] in proc.stdout and "Packaging change 1" in proc.stdout and "Test Bot" in proc.stdout
    gone = subprocess.run(["podman", "container", "exists", NODE], check=False)
    assert gone.returncode != 0, "the node was not removed"

    # run again: the plan is complete, nothing is built or deployed, the verdict is the same
    again = run_playbook(TOP / "playbooks" / "bisect_test.yml", bisect, timeout=900)
    assert landed[PLANTED] in again.stdout and "Deploy the scenario with Puppet" not in again.stdout
    assert json.loads((workdir / "bisect" / "users-list" / "bisect.json").read_text()) == saved
