"""Node create (image cached) and destroy: node_provision vs bare podman.

The peer is what the role wraps, done by hand: `podman run` of the same
image with the same options, then waiting for systemd; `podman rm -f` to
destroy.  The difference is Ansible's overhead plus the role's checks.
"""

from __future__ import annotations

import json
import statistics

from _common import report, sh, timed

NODE = "df-bench-node"
PLAYBOOK = "playbooks/provision.yml"
EXTRA = json.dumps({"node_provision_nodes": [{"name": NODE}]})


def role(state: str) -> None:
    sh("ansible-playbook", PLAYBOOK, "-e", EXTRA, "-e", f"node_provision_state={state}")


def role_create() -> None:
    role("present")


def role_destroy() -> None:
    role("absent")


def image() -> str:
    out = sh("podman", "images", "--format", "{{.Repository}}:{{.Tag}}", "--sort", "created")
    refs = [line for line in out.stdout.split() if line.startswith("localhost/distroforge/bookworm:")]
    return refs[-1]


def podman_create() -> None:
    sh(
        "podman",
        "--runtime",
        "runc",
        "run",
        "-d",
        "--name",
        NODE + "-raw",
        "--systemd=always",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=4096:4096",
        "--cap-add",
        "NET_RAW",
        image(),
        "/sbin/init",
    )
    sh("podman", "exec", NODE + "-raw", "systemctl", "is-system-running", "--wait", check=False)


def podman_destroy() -> None:
    sh("podman", "rm", "-f", NODE + "-raw")


def main() -> None:
    role_create()  # builds the image once if needed; not timed
    role_destroy()
    create_times, destroy_times = [], []
    raw_create, raw_destroy = [], []
    for _round in range(3):  # interleaved, so load spikes hit both sides
        create_times.append(timed(role_create, 1))
        destroy_times.append(timed(role_destroy, 1))
        raw_create.append(timed(podman_create, 1))
        raw_destroy.append(timed(podman_destroy, 1))
    med = statistics.median
    report("node create, image cached (node_provision)", med(create_times), med(raw_create), "podman run + wait")
    report("node destroy (node_provision absent)", med(destroy_times), med(raw_destroy), "podman rm -f")


if __name__ == "__main__":
    main()
