#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vm_node
short_description: Run test nodes as qemu virtual machines
version_added: 0.1.0
description:
  - Starts each node as a qemu VM booting the kernel of a M(distroforge.openstack.vm_image)
    image, from a qcow2 overlay of its disk (C(<vm_dir>/<name>/overlay.qcow2)), and waits
    until root can log in over SSH with the controller's node key
    (C(<vm_dir>/id_ed25519), made once) and run Python.
  - The node's name, address and public key reach it on the kernel command line; the image
    turns them into its hostname, a systemd-networkd file and C(/root/.ssh/authorized_keys)
    at every boot.
  - Each VM has two NICs. qemu's user-mode network is its way out (the Debian mirror,
    DNS); a tap on the bridge O(bridge), which holds the first address of O(subnet),
    gives it its fixed address O(nodes[].ip), reached by the controller (SSH, services
    listening on the gateway address) and by the other nodes.
  - KVM is used when a kernel boots with it (probed once per host boot), TCG otherwise;
    O(accel) forces one.
  - qemu runs directly, without libvirt.
  - A node that runs already with the same settings is left alone (no change); one that
    runs with other settings is refused. A node whose qemu stopped boots again from its
    overlay. When a node does not come up, every node this call created is removed.
  - O(state=absent) stops the VMs and removes their taps, overlays, console logs and
    known_hosts, and the bridge once no tap is left on it; the images and the key stay.
author:
  - distroforge developers (@distroforge)
options:
  nodes:
    description: The nodes.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Node name (hostname).
        type: str
        required: true
      ip:
        description: Address in O(subnet). Needed with O(state=present).
        type: str
      image:
        description:
          - Directory of the node's image (RV(distroforge.openstack.vm_image#module:directory)).
          - Needed with O(state=present).
        type: path
      memory:
        description: Memory in MiB.
        type: int
        default: 1024
      cpus:
        description: Virtual CPUs.
        type: int
        default: 1
      disk:
        description: Disk size in GiB (the file system grows to it at boot; the overlay holds only what changed).
        type: int
        default: 8
      where:
        description: How errors name this node (for example C(node_provision_nodes[0])).
        type: str
  state:
    description: C(present) starts the nodes, C(absent) destroys them.
    type: str
    choices: [present, absent]
    default: present
  vm_dir:
    description: Directory of the nodes' overlays, pid files, console logs and of the node key.
    type: path
    default: /var/lib/distroforge/vms
  bridge:
    description: Bridge the nodes' taps are attached to; created when missing, removed with the last node.
    type: str
    default: distroforge-vm
  subnet:
    description: Subnet of the bridge; the host holds its first address.
    type: str
    default: 10.89.43.0/24
  accel:
    description: C(auto) probes KVM and falls back to TCG.
    type: str
    choices: [auto, kvm, tcg]
    default: auto
  timeout:
    description: Seconds to wait for SSH on every node (TCG boots take about a minute).
    type: int
    default: 600
attributes:
  check_mode:
    support: full
    description: Reports which nodes would be created or destroyed; starts and removes nothing.
  diff_mode:
    support: none
    description: VMs have no textual diff.
requirements:
  - qemu-system-x86 (qemu-system-x86_64)
  - qemu-utils (qemu-img)
  - iproute2 (ip)
  - openssh-client (ssh, ssh-keygen)
"""

EXAMPLES = r"""
- name: Build the disk image
  distroforge.openstack.vm_image:
    name: bookworm
  register: image

- name: Start two VMs
  distroforge.openstack.vm_node:
    nodes:
      - {name: node1, ip: 10.89.43.21, image: "{{ image.directory }}", memory: 2048, cpus: 2}
      - {name: node2, ip: 10.89.43.22, image: "{{ image.directory }}"}
  register: vms

- name: Destroy them
  distroforge.openstack.vm_node:
    nodes: [{name: node1}, {name: node2}]
    state: absent
"""

RETURN = r"""
accel:
  description: C(kvm) or C(tcg) for the nodes started by this call, C(running) when none was started.
  returned: state=present
  type: str
accel_reason:
  description: Why that accelerator (the KVM probe's result).
  returned: state=present and a node was started
  type: str
private_key:
  description: The controller's key for root on the nodes.
  returned: state=present, not in check mode
  type: str
nodes:
  description:
    - Per node name, C(ip), whether it was C(created), C(boot_seconds) to SSH, C(boot_cpu_seconds) its qemu used by
      then (on a shared host, the boot's cost apart from the wait for a core) and its C(known_hosts) file.
  returned: state=present
  type: dict
removed:
  description: Names of the nodes destroyed.
  returned: state=absent
  type: list
  elements: str
"""

import ipaddress
from pathlib import Path

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._nodes import qemu, vm_image


def _specs(params: dict) -> list[qemu.NodeSpec]:
    net = qemu.Network(params["bridge"], params["subnet"])
    specs = []
    for index, node in enumerate(params["nodes"]):
        where = node["where"] or f"nodes[{index}]"
        for key in ("ip", "image"):
            if not node[key]:
                raise InputError(f"{where}.{key}: needed to start node '{node['name']}'")
        for key, low in (("memory", 128), ("cpus", 1), ("disk", 1)):
            if node[key] < low:
                raise InputError(f"{where}.{key}: {node[key]} is too small for node '{node['name']}' (at least {low})")
        if ipaddress.ip_address(node["ip"]) not in net.network or node["ip"] == net.gateway:
            raise InputError(f"{where}.ip: {node['ip']} is not a node address in {params['subnet']}")
        vm_image.check_image(node["image"], f"{where}.image")
        specs.append(
            qemu.NodeSpec(node["name"], node["ip"], node["memory"], node["cpus"], node["disk"], node["image"], where)
        )
    return specs


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    net = qemu.Network(params["bridge"], params["subnet"])
    vm_dir = Path(params["vm_dir"])
    if params["state"] == "absent":
        return qemu.absent([n["name"] for n in params["nodes"]], net, vm_dir, check_mode=module.check_mode)
    specs = _specs(params)
    images = {spec.image: (vm_image.VmImage(Path(spec.image)), Path(spec.image).name) for spec in specs}
    return qemu.present(
        specs, images, net, vm_dir, accel=params["accel"], timeout=params["timeout"], check_mode=module.check_mode
    )


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "nodes": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "ip": {"type": "str"},
                    "image": {"type": "path"},
                    "memory": {"type": "int", "default": 1024},
                    "cpus": {"type": "int", "default": 1},
                    "disk": {"type": "int", "default": 8},
                    "where": {"type": "str"},
                },
            },
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "vm_dir": {"type": "path", "default": "/var/lib/distroforge/vms"},
            "bridge": {"type": "str", "default": "distroforge-vm"},
            "subnet": {"type": "str", "default": "10.89.43.0/24"},
            "accel": {"type": "str", "choices": ["auto", "kvm", "tcg"], "default": "auto"},
            "timeout": {"type": "int", "default": 600},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
