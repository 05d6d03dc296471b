"""VM node (libvirt driver, qemu) create and destroy next to a podman node, images cached.

Both through node_provision (playbooks/provision.yml), one node each,
interleaved in the same run so load spikes hit both. The VM's figure is
mostly its boot to SSH: TCG where KVM does not work (the driver reports
which it used, and the boot-to-SSH seconds, which are printed too).
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time

from _common import TOP, report, sh

PLAYBOOK = "playbooks/provision.yml"
VM_NODE = "df-bench-vm"
PODMAN_NODE = "df-bench-pod"
ROUNDS = 1  # a TCG boot takes minutes


def provision(driver: str, node: str, state: str, extra: dict) -> tuple[float, str]:
    """Wall seconds of one node_provision run, and its output."""
    args = {"node_provision_driver": driver, "node_provision_nodes": [{"name": node}], "node_provision_state": state}
    args.update(extra)
    started = time.perf_counter()
    proc = sh("ansible-playbook", "-v", PLAYBOOK, "-e", json.dumps(args))
    return time.perf_counter() - started, proc.stdout


def _boot(out: str) -> tuple[float, float, str]:
    """Boot-to-SSH wall and CPU seconds, and the accelerator, from a -v run's output."""
    # the result as the callback prints it, YAML or JSON
    wall = re.search(r'\bboot_seconds"?: ([0-9.]+)', out)
    cpu = re.search(r'\bboot_cpu_seconds"?: ([0-9.]+)', out)
    accel = re.search(r'\baccel"?: "?(kvm|tcg)\b', out)
    nan = float("nan")
    return (
        float(wall.group(1)) if wall else nan,
        float(cpu.group(1)) if cpu else nan,
        accel.group(1) if accel else "?",
    )


def main() -> None:
    (TOP / "build").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-vms-", dir=TOP / "build") as vms:
        # the libvirt driver's own options: where the VMs live, and 1 GiB for a bare node (the role gives 2)
        vm_extra = {"node_provision_libvirt_dir": vms, "node_provision_libvirt_memory": 1024}
        # Up once (builds the images if needed; not timed), then destroy, create, destroy, timed:
        # a TCG boot takes minutes, so each round is one create and one destroy.
        provision("libvirt", VM_NODE, "present", vm_extra)
        provision("podman", PODMAN_NODE, "present", {})
        vm_create, vm_destroy, pod_create, pod_destroy, boots = [], [], [], [], []
        accel = "?"
        for _round in range(ROUNDS):
            vm_destroy.append(provision("libvirt", VM_NODE, "absent", vm_extra)[0])
            pod_destroy.append(provision("podman", PODMAN_NODE, "absent", {})[0])
            seconds, out = provision("libvirt", VM_NODE, "present", vm_extra)
            vm_create.append(seconds)
            wall, cpu, accel = _boot(out)
            boots.append((wall, cpu))
            pod_create.append(provision("podman", PODMAN_NODE, "present", {})[0])
        vm_destroy.append(provision("libvirt", VM_NODE, "absent", vm_extra)[0])
        pod_destroy.append(provision("podman", PODMAN_NODE, "absent", {})[0])
    med = statistics.median
    report(f"VM node create, image cached ({accel})", med(vm_create), med(pod_create), "podman node create")
    report("VM node destroy", med(vm_destroy), med(pod_destroy), "podman node destroy")
    for wall, cpu in boots:
        print(f"VM boot to SSH ({accel}): {wall:.1f} s wall, {cpu:.1f} s of qemu CPU", flush=True)


if __name__ == "__main__":
    main()
