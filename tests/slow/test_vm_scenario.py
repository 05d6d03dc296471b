"""The pipeline's test half (test_hash.yml: scenario001 + Tempest's identity smoke tests) on a TCG VM node.

The reduced example (Keystone alone, as tests/e2e builds it) is built, published and served, and
pipeline.yml runs with ``node_provision_driver: libvirt``: the node is a qemu VM on the bridge
``distroforge-vm``, the repo server listens on the bridge's gateway, Puppet deploys scenario001 twice
and Tempest runs on the VM. Under TCG on two cores at load 5-7 the node's package install took 30 minutes and
the first Puppet apply 87 (each `openstack` CLI call of Keystone's providers takes minutes), so the run takes
hours. The time of each
stage, read from ARA's records of the run, is printed (``-s`` shows it; it is also written to
``<work dir>/stage_times.json``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from unit.ansible_run import TOP, play  # tests/ is on the path: the slow lane reuses the unit helpers
from unit.ara_records import ara_env

EXAMPLE = TOP / "build" / "example" / "rdoinfo"
NODE = "df-vm-scenario"
PORT = 8092  # neither make run's 8088, the e2e test's 8090 nor the bisect test's 8091
SMOKE = r"^tempest\.api\.identity\..*\bsmoke\b"
# ARA task names (regular expressions) of each stage; a stage's time is the sum of its tasks'.
STAGES = {
    "VM image (cached after the first build)": r"node_provision : Build the VM disk images",
    "VM create (boot to SSH)": r"node_provision : Start the VMs",
    "repo configure": r"^distroforge\.openstack\.repo_configure : ",
    "first Puppet apply": r"deploy_puppet : Apply the scenario \(deploy phase\)",
    "second Puppet apply": r"deploy_puppet : Apply the scenario again",
    "deploy (all of deploy_puppet)": r"^distroforge\.openstack\.deploy_puppet : ",
    "Tempest run": r"tempest_run : Run the selected tests",
    "Tempest (install, config, run, reports)": r"^distroforge\.openstack\.tempest_run : ",
    "VM destroy": r"node_provision : Destroy the VMs",
}

pytestmark = pytest.mark.skipif(
    not shutil.which("qemu-system-x86_64") or not shutil.which("dpkg-buildpackage"),
    reason="needs qemu and the dpkg build tools (run `make`)",
)


def reduced_pkgdb(root: Path) -> Path:
    """The example's rdoinfo with only keystone tagged for zed (as tests/e2e has it)."""
    if not (EXAMPLE / "rdo.yml").exists():
        pytest.fail("the example distro is missing: run `make example`")
    (root / "tags").mkdir(parents=True)
    shutil.copy(EXAMPLE / "rdo.yml", root / "rdo.yml")
    (root / "tags" / "zed.yml").write_text("packages:\n- project: keystone\n  tags:\n    zed:\n")
    entry = root / "rdo-vm.yml"
    entry.write_text("import:\n- rdo.yml\n- tags/zed.yml\n")
    return entry


def remove_node() -> subprocess.CompletedProcess[str]:
    """node_provision absent for the test's VM: nothing of it stays running."""
    playbook = (
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.include_role:\n        name: distroforge.openstack.node_provision\n"
        f"      vars:\n        node_provision_driver: libvirt\n        node_provision_state: absent\n"
        f"        node_provision_nodes: [{{name: {NODE}}}]\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".yml", dir="/var/tmp") as handle:
        handle.write(playbook)
        handle.flush()
        return play(Path(handle.name), {}, timeout=600)


def stage_times(ara_db: Path) -> dict[str, float]:
    """Seconds per stage of the last playbook ARA recorded in ``ara_db`` (tasks' durations, in µs)."""
    with sqlite3.connect(ara_db) as db:
        (playbook,) = db.execute("SELECT max(id) FROM playbooks").fetchone()
        tasks = db.execute("SELECT name, duration FROM tasks WHERE playbook_id = ?", (playbook,)).fetchall()
    return {
        stage: round(sum(duration or 0 for name, duration in tasks if re.search(pattern, name or "")) / 1e6, 1)
        for stage, pattern in STAGES.items()
    }


@pytest.fixture
def workdir():
    # /var/tmp, not /tmp: nginx serves it to the node, and pytest re-privatises /tmp/pytest-of-root.
    path = Path(tempfile.mkdtemp(prefix="distroforge-vm-scenario-", dir="/var/tmp"))
    os.chmod(path, 0o755)
    remove_node()  # a VM an interrupted run left behind
    yield path
    removed = remove_node()
    nginx = path / "repo_serve" / "nginx.conf"
    if nginx.exists():
        subprocess.run(["/usr/sbin/nginx", "-c", str(nginx), "-s", "quit"], check=False, capture_output=True)
    for pidfile in [*path.glob("api/*.pid"), *path.glob("ara_serve/*.pid")]:  # the REST API's and ARA's gunicorn
        subprocess.run(["pkill", "--signal", "TERM", "--pidfile", str(pidfile)], check=False, capture_output=True)
    if os.environ.get("DISTROFORGE_SLOW_KEEP") != "1":
        shutil.rmtree(path, ignore_errors=True)
    assert removed.returncode == 0, removed.stdout[-3000:]


def test_scenario001_and_tempest_pass_on_a_tcg_vm_node(workdir):
    extra = {
        "distroforge_workdir": str(workdir),
        "distroforge_pkgdb": str(reduced_pkgdb(workdir / "rdoinfo")),
        "distroforge_repo_port": PORT,
        "distroforge_pipeline_node": NODE,
        "node_provision_driver": "libvirt",
        # TCG: the first apply took 87 minutes at load 5-7 on two cores (5,215 s of a 5,400 s limit).
        "deploy_puppet_apply_timeout": 10800,
        "tempest_run_scenario": "",
        "tempest_run_include_regex": [SMOKE],
    }
    recording = ara_env(workdir)
    assert recording, "ara is not installed in the venv: run `make`"
    with mock.patch.dict(os.environ, recording):
        proc = play(TOP / "playbooks" / "pipeline.yml", extra, timeout=8 * 3600)
    (workdir / "pipeline.log").write_text(proc.stdout + proc.stderr)
    times = stage_times(workdir / "ara" / "ansible.sqlite")
    (workdir / "stage_times.json").write_text(json.dumps(times, indent=1) + "\n")
    print("\nvm-scenario stage times (s):\n" + "\n".join(f"  {stage}: {took}" for stage, took in times.items()))
    manifests = sorted(workdir.glob("runs/*/manifest.json"))
    assert len(manifests) == 1, proc.stdout[-3000:]
    manifest = json.loads(manifests[0].read_text())
    tempest = manifest.get("tempest") or {}
    print(
        f"vm-scenario: verdict {manifest.get('verdict')}, Tempest {tempest.get('total')} tests:"
        f" {tempest.get('passed')} passed, {tempest.get('failed')} failed, {tempest.get('skipped')} skipped"
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert manifest["verdict"] == "passed", manifest
    phases = {phase["name"]: phase for phase in manifest["deploy"]["phases"]}
    assert phases["deploy"]["status"] == "passed" and phases["idempotency"]["changed_resources"] == 0, phases
    assert manifest["tempest"]["total"] > 0 and manifest["tempest"]["failed"] == 0, manifest["tempest"]
    assert "deb12" not in manifest["deploy"]["keystone_version"]  # our keystone, from the served repository
    # It ran on the VM: the repository URL the node got is the VM bridge's gateway.
    assert manifest["repo_url"].startswith(f"http://10.89.43.1:{PORT}/repos/"), manifest["repo_url"]
    assert times["VM create (boot to SSH)"] > 0 and times["first Puppet apply"] > 0, times
