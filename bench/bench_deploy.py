"""Puppet scenarios' first and second apply and node memory on podman nodes, through playbooks/deploy.yml.

Which scenarios: ``DF_BENCH_DEPLOY_SCENARIOS`` (comma-separated, default
``scenario001``), e.g. ``DF_BENCH_DEPLOY_SCENARIOS=scenario001,scenario002
python bench/run.py deploy``.  They run one after the other (two cores).

The peer would be puppet-openstack-integration's run_tests.sh on the same
node; it cannot run here (it clones from opendev, which is unreachable), so
scenario001 is compared with ENVIRONMENT.md's measured figures for a
hand-run Puppet Keystone deploy on a podman node (first apply ~160 s,
second ~27 s, ~390 MB RSS).  scenario002 is compared with scenario001
measured in the same run when both are chosen (what Glance and Placement
cost), else with those same figures; the output says which.  Memory is the
node's cgroup: peak RSS (sampled every second during the deploy) and the
kernel's own peak including page cache.  Nodes use Debian's OpenStack
packages (no repository given) and are removed at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

from _common import TOP, report, sh

PEER = "ENVIRONMENT.md measured scenario001, no live peer"
PEER_FIGURES = {"deploy": 160.0, "idempotency": 27.0, "rss_mib": 390.0}
PHASE_TASKS = {
    "deploy": "Apply the scenario (deploy phase)",
    "idempotency": "Apply the scenario again; it must change nothing (idempotency phase)",
}
MIB = 1024 * 1024


class MemorySampler(threading.Thread):
    """Peak RSS of a podman node's cgroup, sampled once a second until stopped."""

    def __init__(self, node: str) -> None:
        super().__init__(daemon=True)
        self.node = node
        self.peak_rss = 0
        self.peak_with_cache = 0
        self._done = threading.Event()

    def _cgroup(self) -> tuple[Path, str, str] | None:
        """The node's memory cgroup directory, its RSS key in memory.stat and its peak file (v1 or v2)."""
        out = sh("podman", "inspect", self.node, "--format", "{{.State.CgroupPath}}", check=False)
        path = out.stdout.strip()
        if out.returncode != 0 or not path:
            return None
        v1 = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
        if (v1 / "memory.stat").exists():
            return v1, "total_rss", "memory.max_usage_in_bytes"
        v2 = Path("/sys/fs/cgroup") / path.lstrip("/")
        if (v2 / "memory.stat").exists():
            return v2, "anon", "memory.peak"
        return None

    def run(self) -> None:
        cgroup = None
        while not self._done.wait(1.0):
            cgroup = cgroup or self._cgroup()
            if cgroup is None:
                continue
            directory, rss_key, peak_file = cgroup
            try:
                stat = dict(line.split() for line in (directory / "memory.stat").read_text().splitlines())
                self.peak_rss = max(self.peak_rss, int(stat.get(rss_key, 0)))
                self.peak_with_cache = max(self.peak_with_cache, int((directory / peak_file).read_text()))
            except (OSError, ValueError):
                cgroup = None  # the node was recreated or is gone; look it up again

    def stop(self) -> None:
        self._done.set()
        self.join()


def deploy(scenario: str, node: str) -> tuple[dict, float, MemorySampler]:
    """Run the deploy playbook with the JSON callback; return its phases by name, the wall time and the memory."""
    extra = {
        "distroforge_deploy_nodes": [{"name": node, "groups": ["keystone"]}],
        "distroforge_keep_nodes": True,
        "deploy_puppet_scenario": scenario,
    }
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_CONFIG": str(TOP / "ansible.cfg")}
    sampler = MemorySampler(node)
    sampler.start()
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            ["ansible-playbook", "playbooks/deploy.yml", "-e", json.dumps(extra)],
            cwd=TOP,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        wall = time.perf_counter() - started
        sampler.stop()
    phases = {}
    # raw_decode: ansible.cfg's profile_tasks prints its timings before and after the JSON document.
    for play in json.JSONDecoder().raw_decode(proc.stdout, proc.stdout.index("{"))[0]["plays"]:
        for task in play["tasks"]:
            for name, title in PHASE_TASKS.items():
                if task["task"]["name"] == title and node in task["hosts"]:
                    phases[name] = task["hosts"][node]["phase"]
    if proc.returncode != 0 or set(phases) != set(PHASE_TASKS):
        raise SystemExit(
            f"{scenario}: deploy failed (rc {proc.returncode}); phases seen: {json.dumps(phases, indent=1)}"
        )
    return phases, wall, sampler


def remove(node: str) -> None:
    """Remove a bench node, whatever state it is in."""
    sh(
        "ansible-playbook",
        "playbooks/provision.yml",
        "-e",
        json.dumps({"node_provision_nodes": [{"name": node}]}),
        "-e",
        "node_provision_state=absent",
        check=False,
    )


def main() -> None:
    scenarios = [s.strip() for s in os.environ.get("DF_BENCH_DEPLOY_SCENARIOS", "scenario001").split(",") if s.strip()]
    measured: dict[str, dict[str, float]] = {}
    for scenario in scenarios:
        node = f"df-bench-{scenario}"
        try:
            phases, wall, memory = deploy(scenario, node)
        finally:
            remove(node)
        first, second = phases["deploy"], phases["idempotency"]
        figures = {
            "deploy": first["duration"],
            "idempotency": second["duration"],
            "rss_mib": memory.peak_rss / MIB,
        }
        measured[scenario] = figures
        if scenario != "scenario001" and "scenario001" in measured:
            peer, peer_name = measured["scenario001"], "scenario001 in this run"
        else:
            peer, peer_name = PEER_FIGURES, PEER
            print(f"no live peer: puppet-openstack-integration's run_tests.sh needs opendev; peer is {PEER}")
        report(f"{scenario} first apply (deploy phase)", figures["deploy"], peer["deploy"], peer_name)
        report(f"{scenario} second apply (idempotency phase)", figures["idempotency"], peer["idempotency"], peer_name)
        report(f"{scenario} node peak RSS", figures["rss_mib"], peer["rss_mib"], peer_name, unit="MiB")
        print(
            f"{scenario}: changed resources first {first['changed_resources']}, second {second['changed_resources']}"
            f" ({second['status']}); node peak incl. page cache {memory.peak_with_cache / MIB:.0f} MiB;"
            f" whole playbook incl. node and packages: {wall:.0f} s",
            flush=True,
        )


main()
