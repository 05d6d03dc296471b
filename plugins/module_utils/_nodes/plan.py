"""Turn a user's node list into a validated plan with fixed addresses.

Podman gives a container a new address on every restart unless one is
fixed, and services register endpoints under that address, so each node
gets a stable address derived from its name: the same name always maps to
the same address in a subnet, whatever else is in the list.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping

from .._common.errors import InputError

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# The first addresses of a subnet are the gateway and what people hand out by hand.
FIRST_DERIVED_HOST = 16
KNOWN_KEYS = {"name", "image", "groups", "ip", "profile", "memory", "cpus", "disk", "openstack"}
# Sizes of a VM node (libvirt driver): memory in MiB, disk in GiB; unset takes the driver's default.
SIZE_KEYS = ("memory", "cpus", "disk")


@dataclass
class NodePlan:
    """One node as the driver will create it."""

    name: str
    image: str
    ip: str | None
    groups: list[str] = field(default_factory=list)
    profile: str = "default"
    memory: int | None = None
    cpus: int | None = None
    disk: int | None = None
    # Server options of the openstack driver (image, flavor, network, floating_ip), checked by _nodes.cloud.
    openstack: dict[str, Any] | None = None


def _where(index: int, key: str = "") -> str:
    return f"node_provision_nodes[{index}]" + (f".{key}" if key else "")


def derived_address(name: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network, taken: set[str]) -> str:
    """A stable address for ``name`` in ``network`` that is not in ``taken``."""
    hosts = network.num_addresses - FIRST_DERIVED_HOST - 1  # leave the broadcast address
    if hosts <= 0:
        raise InputError(f"node_provision_podman_subnet: {network} is too small; use a /24 or larger")
    start = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % hosts
    for step in range(hosts):
        address = str(network.network_address + FIRST_DERIVED_HOST + (start + step) % hosts)
        if address not in taken:
            return address
    raise InputError(f"node_provision_podman_subnet: no free address left in {network}")


def _parse_network(subnet: str | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if subnet is None:
        return None
    try:
        return ipaddress.ip_network(subnet)
    except ValueError as exc:
        raise InputError(f"node_provision_podman_subnet: '{subnet}' is not a subnet such as 10.89.42.0/24") from exc


def _check_name(index: int, node: Any, seen: dict[str, int]) -> str:
    if not isinstance(node, Mapping):
        raise InputError(f"{_where(index)}: each node must be a mapping with at least 'name'")
    unknown = sorted(set(node) - KNOWN_KEYS)
    if unknown:
        raise InputError(f"{_where(index)}: unknown key '{unknown[0]}' (known: {', '.join(sorted(KNOWN_KEYS))})")
    name = node.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InputError(
            f"{_where(index, 'name')}: '{name}' is not a valid node name "
            "(lower-case letters, digits and '-', at most 63, not starting or ending with '-')"
        )
    if name in seen:
        raise InputError(f"{_where(index, 'name')}: duplicate node name '{name}' (also {_where(seen[name])})")
    seen[name] = index
    return name


def _size(index: int, key: str, value: Any) -> int | None:
    """A positive whole number (a templated one may come as a string of digits), or None when unset."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{_where(index, key)}: '{value}' must be a positive whole number")
    return value


def addresses_in_use(containers: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """Address -> container name of the running containers in ``containers`` (``podman container inspect`` data).

    Only running containers hold their address: a stopped one gets it again when it starts,
    from the same derivation.
    """
    found: dict[str, str] = {}
    for container in containers or ():
        if not isinstance(container, Mapping) or not (container.get("State") or {}).get("Running"):
            continue
        name = str(container.get("Name") or "").lstrip("/")
        networks = (container.get("NetworkSettings") or {}).get("Networks") or {}
        for settings in networks.values():
            address = (settings or {}).get("IPAddress")
            if address:
                found[str(address)] = name
    return found


def _check_ip(index: int, ip: Any, network: Any, taken: set[str], others: Mapping[str, str]) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError as exc:
        raise InputError(f"{_where(index, 'ip')}: '{ip}' is not an IP address") from exc
    if network is not None and address not in network:
        raise InputError(f"{_where(index, 'ip')}: {ip} is outside node_provision_podman_subnet {network}")
    if str(address) in taken:
        raise InputError(f"{_where(index, 'ip')}: address {ip} is given to two nodes")
    if str(address) in others:
        raise InputError(
            f"{_where(index, 'ip')}: address {ip} is in use by the running container '{others[str(address)]}';"
            " give another address, or leave ip out to get a free one"
        )
    taken.add(str(address))
    return str(address)


def make_plan(
    nodes: Iterable[Mapping[str, Any]],
    *,
    images: Mapping[str, Any],
    default_image: str,
    subnet: str | None,
    need_ip: bool = False,
    profiles: Mapping[str, Any] | None = None,
    known_hosts: Iterable[str] = (),
    driver: str = "",
    node_drivers: Mapping[str, str] | None = None,
    in_use: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Validate ``nodes`` and return one plan dict per node.

    ``subnet`` set: every node gets an address in it (given or derived).
    ``need_ip``: every node must give its address (static hosts), except
    hosts of the inventory (``known_hosts``), which keep their own.
    ``node_drivers``: the inventory's nodes and the driver that made each;
    a name another driver's node has is refused (``driver`` is this one).
    ``in_use``: addresses other running containers hold (:func:`addresses_in_use`);
    no node is given one of them, except the container of the same name, which keeps its own.
    Errors name the list index, the field and the fix.
    """
    known = set(known_hosts)
    owners = dict(node_drivers or {})
    network = _parse_network(subnet)
    plans: list[NodePlan] = []
    seen: dict[str, int] = {}
    taken: set[str] = set()
    nodes = list(nodes)
    ours = {node.get("name") for node in nodes if isinstance(node, Mapping)}
    others = {address: owner for address, owner in (in_use or {}).items() if owner not in ours}
    for index, node in enumerate(nodes):
        name = _check_name(index, node, seen)
        owner = owners.get(name)
        if driver and owner and owner != driver:
            raise InputError(
                f"{_where(index, 'name')}: '{name}' is already a node of the {owner} driver; pick another name "
                f"or remove that node first (node_provision_driver: {owner}, node_provision_state: absent)"
            )
        image = node.get("image") or default_image
        if image not in images:
            raise InputError(
                f"{_where(index, 'image')}: unknown image '{image}' (defined in node_provision_images: "
                f"{', '.join(sorted(images)) or 'none'})"
            )
        groups = node.get("groups") or []
        if isinstance(groups, str) or not all(isinstance(g, str) and g for g in groups):
            raise InputError(f"{_where(index, 'groups')}: must be a list of group names")
        ip = node.get("ip")
        if ip is not None:
            ip = _check_ip(index, ip, network, taken, others)
        elif need_ip and name not in known:
            raise InputError(
                f"{_where(index, 'ip')}: '{name}' is not in the inventory, so the static driver needs its address"
            )
        profile = node.get("profile") or "default"
        if profiles is not None and profile not in profiles:
            raise InputError(
                f"{_where(index, 'profile')}: unknown profile '{profile}' (defined in node_provision_podman_profiles: "
                f"{', '.join(sorted(profiles))})"
            )
        sizes = {key: _size(index, key, node.get(key)) for key in SIZE_KEYS}
        plans.append(
            NodePlan(
                name=name,
                image=image,
                ip=ip,
                groups=list(groups),
                profile=profile,
                # a plain dict: asdict() cannot copy the templating engine's lazy containers
                openstack=dict(node["openstack"])
                if isinstance(node.get("openstack"), Mapping)
                else node.get("openstack"),
                **sizes,
            )
        )
    if network is not None:
        for plan in plans:
            if plan.ip is None:
                plan.ip = derived_address(plan.name, network, taken | set(others))
                taken.add(plan.ip)
    return [asdict(p) for p in plans]
