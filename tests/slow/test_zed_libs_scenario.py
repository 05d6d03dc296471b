"""Scenario002 + Tempest on a node whose OpenStack libraries are the zed-libs example's (make zed-libs-scenario).

The zed-libs example (61 generated packages) is built with the DEB backend into
``build/zed-libs-scenario/deps`` (incremental: a second run builds nothing) and served on
its own port as a dependencies repository, the way RDO serves its deps repo beside
the trunk repositories. pipeline.yml then builds the reduced example (Keystone), and
test_hash.yml configures both repositories on a podman node
(``distroforge_test_deps_repos``), deploys scenario002 (Keystone, Glance and Placement;
Glance and Placement are Debian's) and runs Tempest's scenario002 selection.

Checked: the run passed; its manifest records the dependencies repository; every
zed-libs package installed on the node is our build (its installed version is the
one in our Packages, which wins over bookworm's through the Origin pin and our
epochs), and our libraries are what the services import. The figures (build,
deploy, Tempest, libraries in use) are printed and written to
``build/zed-libs-scenario/report.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from unittest import mock

import pytest
from debian import deb822
from unit.ansible_run import TOP, play  # tests/ is on the path: the slow lane reuses the unit helpers
from unit.ara_records import ara_env
from unit.test_zed_libs import PINS, maker

from ansible_collections.distroforge.openstack.plugins.module_utils._common.openpgp import primary_fingerprints

ZED_LIBS = Path(os.environ.get("ZED_LIBS", TOP / "build" / "zed-libs"))
EXAMPLE = TOP / "build" / "example" / "rdoinfo"
OUT = TOP / "build" / "zed-libs-scenario"
DEPS = OUT / "deps"
NODE = "df-zl-scenario"
PORT = 8097  # the pipeline's; 8088-8095 are make run's and the other test lanes'
DEPS_PORT = 8096
GATEWAY = "10.89.42.1"  # the podman nodes' network (inventory/group_vars/all.yml)
# Libraries scenario002's services and clients import, which must be ours on the node.
MUST_BE_OURS = (
    "python3-oslo.config",
    "python3-oslo.db",
    "python3-oslo.messaging",
    "python3-keystoneauth1",
    "python3-keystonemiddleware",
    "python3-glance-store",
    "python3-osc-placement",
    "python3-openstackclient",
)


def reduced_pkgdb(root: Path) -> Path:
    """The example's rdoinfo with only keystone tagged for zed (as tests/e2e has it)."""
    if not (EXAMPLE / "rdo.yml").exists():
        pytest.fail("the example distro is missing: run `make example`")
    (root / "tags").mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE / "rdo.yml", root / "rdo.yml")
    (root / "tags" / "zed.yml").write_text("packages:\n- project: keystone\n  tags:\n    zed:\n")
    entry = root / "rdo-scenario.yml"
    entry.write_text("import:\n- rdo.yml\n- tags/zed.yml\n")
    return entry


def _playbook(tmp: Path, name: str, tasks: list[dict]) -> Path:
    path = tmp / f"{name}.yml"
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    return path


def serve_deps(tmp: Path, state: str) -> subprocess.CompletedProcess[str]:
    """repo_serve for the dependencies repository: DEPS/repos at http://<gateway>:DEPS_PORT/repos/."""
    role = {"name": "distroforge.openstack.repo_serve"}
    args = {
        "repo_serve_root": str(DEPS),
        "repo_serve_locations": ["repos"],
        "repo_serve_state_dir": str(DEPS / "repo_serve"),
        "repo_serve_port": DEPS_PORT,
        "repo_serve_listen": ["127.0.0.1", GATEWAY],
        "repo_serve_state": state,
    }
    task = {"name": f"Dependencies repository {state}", "ansible.builtin.include_role": role, "vars": args}
    return play(_playbook(tmp, f"serve-{state}", [task]), {}, timeout=600)


def remove_node(tmp: Path) -> subprocess.CompletedProcess[str]:
    """node_provision absent for the test's node."""
    task = {
        "name": "Remove the node",
        "ansible.builtin.include_role": {"name": "distroforge.openstack.node_provision"},
        "vars": {"node_provision_state": "absent", "node_provision_nodes": [{"name": NODE}]},
    }
    return play(_playbook(tmp, "remove", [task]), {}, timeout=600)


def our_versions(repo: Path) -> dict[str, str]:
    """Binary package -> version in the dependencies repository's Packages."""
    with open(repo / "Packages", encoding="utf-8") as handle:
        return {para["Package"]: para["Version"] for para in deb822.Packages.iter_paragraphs(handle)}


def installed_on_node() -> dict[str, str]:
    """Binary package -> installed version on the node."""
    proc = subprocess.run(
        ["podman", "exec", NODE, "dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package} ${Version}\n"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = (line.split() for line in proc.stdout.splitlines())
    return {row[1]: row[2] for row in rows if len(row) == 3 and row[0] == "ii"}


@pytest.fixture
def tmp():
    path = Path(tempfile.mkdtemp(prefix="distroforge-zl-scenario-", dir="/var/tmp"))
    os.chmod(path, 0o755)
    remove_node(path)  # a node an interrupted run left behind
    yield path
    removed = remove_node(path)
    serve_deps(path, "stopped")
    work = OUT / "run"
    nginx = work / "repo_serve" / "nginx.conf"
    if nginx.exists():
        subprocess.run(["/usr/sbin/nginx", "-c", str(nginx), "-s", "quit"], check=False, capture_output=True)
    for pidfile in [*work.glob("api/*.pid"), *work.glob("ara_serve/*.pid")]:
        subprocess.run(["pkill", "--signal", "TERM", "--pidfile", str(pidfile)], check=False, capture_output=True)
    shutil.rmtree(path, ignore_errors=True)
    assert removed.returncode == 0, removed.stdout[-3000:]


def test_scenario002_and_tempest_pass_with_our_libraries(tmp):
    maker.make(ZED_LIBS, maker.base.DEFAULT_CACHE, echo=False)
    OUT.mkdir(parents=True, exist_ok=True)
    report: dict = {"packages": len(PINS)}

    # 1. The dependencies repository: every zed-libs package, DEB (incremental).
    started = time.monotonic()
    deps = {
        "distroforge_pkgdb": str(ZED_LIBS / "rdoinfo" / "rdo-full.yml"),
        "distroforge_release": "zed",
        "distroforge_workdir": str(DEPS),
        "distroforge_backend": "dpkg",
    }
    proc = play(TOP / "playbooks" / "build.yml", deps, timeout=4 * 3600)
    (OUT / "deps-build.log").write_text(proc.stdout + proc.stderr)
    report["deps_build_seconds"] = round(time.monotonic() - started)
    assert proc.returncode == 0, proc.stdout[-3000:]
    with sqlite3.connect(DEPS / "state.db") as db:
        failed = [p for p, s in db.execute("SELECT project, status FROM commits") if s != "SUCCESS"]
    assert not failed, f"zed-libs packages failed to build: {failed} (logs under {DEPS / 'repos'})"
    repo = DEPS / "repos" / "current"
    ours = our_versions(repo)
    key = DEPS / "repos" / "RPM-GPG-KEY-delorean"
    served = serve_deps(tmp, "started")
    assert served.returncode == 0, served.stdout[-3000:]

    # 2. The pipeline on the reduced example, the node given both repositories, scenario002.
    work = OUT / "run"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    os.chmod(work, 0o755)
    extra = {
        "distroforge_workdir": str(work),
        "distroforge_pkgdb": str(reduced_pkgdb(work / "rdoinfo")),
        "distroforge_repo_port": PORT,
        "distroforge_pipeline_node": NODE,
        "distroforge_keep_nodes": True,
        "distroforge_test_scenario": "scenario002",
        "distroforge_test_deps_repos": [
            {
                "repo_configure_name": "zed-libs",
                "repo_configure_base_url": f"http://{GATEWAY}:{DEPS_PORT}/repos",
                "repo_configure_label": "current",
                "repo_configure_key_fingerprints": primary_fingerprints(key.read_bytes(), str(key)),
            }
        ],
    }
    started = time.monotonic()
    with mock.patch.dict(os.environ, ara_env(work)):
        proc = play(TOP / "playbooks" / "pipeline.yml", extra, timeout=4 * 3600)
    report["pipeline_seconds"] = round(time.monotonic() - started)
    (OUT / "pipeline.log").write_text(proc.stdout + proc.stderr)
    manifests = sorted(work.glob("runs/*/manifest.json"))
    assert len(manifests) == 1, proc.stdout[-3000:]
    manifest = json.loads(manifests[0].read_text())

    # 3. What the node runs: our libraries, where bookworm has the same ones.
    installed = installed_on_node()
    in_use = sorted(name for name in installed if name in ours)
    not_ours = {name: installed[name] for name in in_use if installed[name] != ours[name]}
    report.update(
        verdict=manifest["verdict"],
        deploy_phases={p["name"]: p.get("duration") for p in manifest["deploy"].get("phases", [])},
        tempest={k: manifest["tempest"].get(k) for k in ("total", "passed", "failed", "skipped")},
        ours_installed=len(in_use),
        ours_installed_names=in_use,
        not_ours=not_ours,
    )
    (OUT / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\nzed-libs scenario002: deps build {report['deps_build_seconds']} s, pipeline {report['pipeline_seconds']} s,"
        f" verdict {manifest['verdict']}, tempest {report['tempest']}; {len(in_use)} of our {len(ours)} packages"
        f" installed on the node, {len(not_ours)} of them not at our version"
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert manifest["verdict"] == "passed", manifest["reasons"]
    assert manifest["deploy"]["scenario"] == "scenario002"
    assert manifest["tempest"]["total"] > 0 and manifest["tempest"]["failed"] == 0, manifest["tempest"]
    assert [r["name"] for r in manifest["deps_repos"]] == ["zed-libs"], manifest["deps_repos"]
    assert not not_ours, f"installed, but not our build: {not_ours}"
    missing = [name for name in MUST_BE_OURS if name in ours and name not in installed]
    assert not missing, f"scenario002 ran without our {missing}"
    assert len(in_use) >= 30, in_use
