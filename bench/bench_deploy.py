"""scenario001 first and second Puppet apply on a podman node, through playbooks/deploy.yml.

The peer would be puppet-openstack-integration's run_tests.sh on the same
node; it cannot run here (it clones from opendev, which is unreachable), so
there is no live peer: the ratios are against ENVIRONMENT.md's measured
figures for a hand-run Puppet Keystone deploy on a podman node (first apply
~160 s, second ~27 s), and the output says so.  The node uses Debian's
keystone (no repository given); it is removed at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from _common import TOP, report, sh

NODE = "df-deploy-bench"
PEER = "ENVIRONMENT.md measured, no live peer"
PEER_FIRST_S = 160.0
PEER_SECOND_S = 27.0
PHASE_TASKS = {
    "deploy": "Apply the scenario (deploy phase)",
    "idempotency": "Apply the scenario again; it must change nothing (idempotency phase)",
}


def deploy() -> tuple[dict, float]:
    """Run the deploy playbook with the JSON callback; return its phases by name and the wall time."""
    extra = {"deploy_nodes": [{"name": NODE, "groups": ["keystone"]}], "deploy_keep_node": True}
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_CONFIG": str(TOP / "ansible.cfg")}
    started = time.perf_counter()
    proc = subprocess.run(
        ["ansible-playbook", "playbooks/deploy.yml", "-e", json.dumps(extra)],
        cwd=TOP,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    phases = {}
    for play in json.loads(proc.stdout[proc.stdout.index("{") :])["plays"]:
        for task in play["tasks"]:
            for name, title in PHASE_TASKS.items():
                if task["task"]["name"] == title and NODE in task["hosts"]:
                    phases[name] = task["hosts"][NODE]["phase"]
    if proc.returncode != 0 or set(phases) != set(PHASE_TASKS):
        raise SystemExit(f"deploy failed (rc {proc.returncode}); phases seen: {json.dumps(phases, indent=1)}")
    return phases, wall


def memory() -> str:
    """The node's memory use as podman reports it (cgroup: RSS + page cache)."""
    out = sh("podman", "stats", "--no-stream", "--format", "{{.MemUsage}}", NODE, check=False)
    rss = sh("podman", "exec", NODE, "sh", "-c", "ps -eo rss= | awk '{s+=$1} END {print int(s/1024)}'", check=False)
    return f"{out.stdout.strip()} (cgroup, incl. cache); {rss.stdout.strip()} MiB RSS of all processes"


def main() -> None:
    try:
        phases, wall = deploy()
        mem = memory()
    finally:
        sh(
            "ansible-playbook",
            "playbooks/provision.yml",
            "-e",
            json.dumps({"node_provision_nodes": [{"name": NODE}]}),
            "-e",
            "node_provision_state=absent",
            check=False,
        )
    print(f"no live peer: puppet-openstack-integration's run_tests.sh needs opendev; peer figures are {PEER}")
    report("scenario001 first apply (deploy phase)", phases["deploy"]["duration"], PEER_FIRST_S, PEER)
    report("scenario001 second apply (idempotency phase)", phases["idempotency"]["duration"], PEER_SECOND_S, PEER)
    first, second = phases["deploy"], phases["idempotency"]
    print(
        f"changed resources: first {first['changed_resources']}, second {second['changed_resources']}"
        f" ({second['status']}); whole playbook incl. node and packages: {wall:.0f} s; node memory: {mem}",
        flush=True,
    )


main()
