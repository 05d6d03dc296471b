# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: node_plan
short_description: Validate a node list and give each node a stable address
version_added: 0.1.0
description:
  - Checks names (unique, hostname-safe), images and addresses of
    C(node_provision_nodes) and returns one dict per node with C(name),
    C(image), C(groups) and C(ip).
  - Nodes without an address get one derived from their name, so the same
    node keeps the same address across runs and restarts (the next free one when
    a running container of another name holds it).
author:
  - distroforge developers (@distroforge)
positional: images, default_image, subnet
options:
  _input:
    description: The node list.
    type: list
    elements: dict
    required: true
  images:
    description: Image definitions by key.
    type: dict
    required: true
  default_image:
    description: Image key for nodes that name none.
    type: str
    required: true
  subnet:
    description: Subnet to place nodes in; omit for drivers without a node network.
    type: str
  need_ip:
    description: Require an address on every node (static hosts).
    type: bool
    default: false
  profiles:
    description: Container profiles by name; a node's C(profile) must be one of them.
    type: dict
  known_hosts:
    description: Hosts of the inventory; with O(need_ip), these may omit C(ip) and keep the inventory's address.
    type: list
    elements: str
    default: []
  driver:
    description: The driver making these nodes, for the check against O(node_drivers).
    type: str
    default: ""
  node_drivers:
    description: Nodes already in the inventory and the driver that made each; another driver's name is refused.
    type: dict
  containers:
    description:
      - The host's containers as C(podman container inspect) gives them (the C(containers) of
        M(containers.podman.podman_container_info)). No node is given an address a running container
        of another name holds; a given C(ip) that one holds is refused, naming the container.
    type: list
    elements: dict
    default: []
"""

EXAMPLES = r"""
- name: Plan two podman nodes
  ansible.builtin.set_fact:
    plan: "{{ [{'name': 'a'}, {'name': 'b'}] | distroforge.openstack.node_plan(images, 'bookworm', '10.89.42.0/24') }}"
"""

RETURN = r"""
_value:
  description: One dict per node with name, image, groups and ip.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._nodes.plan import addresses_in_use, make_plan


def node_plan(
    nodes,
    images,
    default_image,
    subnet=None,
    *,
    need_ip=False,
    profiles=None,
    known_hosts=(),
    driver="",
    node_drivers=None,
    containers=None,
):
    """Filter entry point; see DOCUMENTATION."""
    try:
        return make_plan(
            nodes,
            images=images,
            default_image=default_image,
            subnet=subnet,
            need_ip=need_ip,
            profiles=profiles,
            known_hosts=known_hosts,
            driver=driver,
            node_drivers=node_drivers,
            in_use=addresses_in_use(containers),
        )
    except InputError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """distroforge node filters."""

    def filters(self):
        return {"node_plan": node_plan}
