"""The openstack driver's decisions, apart from any cloud: what to create, what is in the way, what to delete.

The role's tasks talk to the cloud through ``openstack.cloud`` and hand the
listings they get here; everything that decides (names, which cloud
resource belongs to which node, what a failed run must remove) is plain
Python, so it is tested without a cloud.

Ownership: every resource of a node set carries its prefix
(``node_provision_openstack_prefix``) in its name; servers also carry
``metadata[OWNER_KEY] == prefix``, the security group carries
``OWNER_DESCRIPTION``. Nothing without both marks is ever deleted: a server
a user made under the same name is reported as in the way, not removed.
A failed ``present`` removes only what did not exist before it started.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .._common.errors import InputError

OWNER_KEY = "distroforge_nodes"
NODE_KEY = "distroforge_node"
OWNER_DESCRIPTION = "distroforge node_provision: {prefix}"
SERVER_KEYS = ("image", "flavor", "network", "floating_ip")


@dataclass
class CloudServer:
    """One node as a server of the cloud."""

    node: str
    name: str
    image: str
    flavor: str
    network: str
    floating_ip: bool
    groups: list[str] = field(default_factory=list)
    index: int = 0


@dataclass
class CloudPlan:
    """Everything one run of the driver creates, by name."""

    cloud: str
    prefix: str
    keypair: str
    security_group: str
    security_group_description: str
    servers: list[CloudServer]

    def metadata(self, node: str) -> dict[str, str]:
        return {OWNER_KEY: self.prefix, NODE_KEY: node}


def _config_files(config_file: str) -> list[str]:
    if not config_file:
        return []
    if not Path(config_file).is_file():
        raise InputError(
            f"node_provision_openstack_config_file: {config_file} does not exist (it comes from "
            "OS_CLIENT_CONFIG_FILE unless set); point it at your clouds.yaml"
        )
    return [config_file]


def check_cloud(cloud: str, config_file: str = "") -> str:
    """The cloud's name once openstacksdk's own loader finds it in clouds.yaml (no network)."""
    if not cloud:
        raise InputError(
            "node_provision_openstack_cloud: no cloud given; set OS_CLOUD or node_provision_openstack_cloud "
            "to a cloud of your clouds.yaml"
        )
    files = _config_files(config_file)
    try:
        from openstack.config import loader  # noqa: PLC0415 - only the openstack driver needs openstacksdk
    except ImportError as exc:
        raise InputError(
            "node_provision_driver: openstack needs openstacksdk on the controller; pip install openstacksdk"
        ) from exc
    # The loader reads every standard place (./clouds.yaml, ~/.config/openstack, /etc/openstack)
    # and OS_CLIENT_CONFIG_FILE, and OS_AUTH_URL & co as cloud "envvars", as the openstack.cloud modules will.
    config = loader.OpenStackConfig(config_files=files + list(loader.CONFIG_FILES))
    known = sorted(config.get_cloud_names())
    if cloud not in known:
        where = config.config_filename or ", ".join(files + list(loader.CONFIG_FILES))
        raise InputError(
            f"node_provision_openstack_cloud: cloud '{cloud}' is not in {where} "
            f"(clouds there: {', '.join(known) or 'none'}); "
            "set OS_CLOUD or node_provision_openstack_cloud to one of them"
        )
    return cloud


def make_cloud_plan(
    nodes: Iterable[Mapping[str, Any]],
    *,
    cloud: str,
    prefix: str,
    defaults: Mapping[str, Any],
    need_server_options: bool = True,
    ingress_ports: Iterable[int] = (22,),
    ingress_cidr: str = "0.0.0.0/0",
) -> dict[str, Any]:
    """Names and server options for ``nodes`` (the node plan), checked; one line per error.

    ``defaults``: ``image``, ``flavor``, ``network``, ``floating_ip`` for every
    node; a node's own ``openstack`` mapping overrides them.
    ``need_server_options``: image, flavor and network must be known (not
    for ``absent``, which only needs names).
    """
    if not prefix or not prefix.replace("-", "").isalnum() or not prefix[0].isalpha():
        raise InputError(
            f"node_provision_openstack_prefix: '{prefix}' must start with a letter and hold only letters, "
            "digits and '-' (it starts the name of every server, keypair and security group)"
        )
    servers = []
    for index, node in enumerate(nodes):
        name = str(node["name"])
        override = node.get("openstack") or {}
        if not isinstance(override, Mapping):
            raise InputError(f"node_provision_nodes[{index}].openstack: must be a mapping of {', '.join(SERVER_KEYS)}")
        unknown = sorted(set(override) - set(SERVER_KEYS))
        if unknown:
            raise InputError(
                f"node_provision_nodes[{index}].openstack.{unknown[0]}: unknown key (known: {', '.join(SERVER_KEYS)})"
            )
        values = {key: override.get(key, defaults.get(key)) for key in SERVER_KEYS}
        if need_server_options:
            for key in ("image", "flavor", "network"):
                if not values[key]:
                    raise InputError(
                        f"node_provision_nodes[{index}].openstack.{key}: node '{name}' has no {key}; "
                        f"set it there or set node_provision_openstack_{key} for every node"
                    )
        servers.append(
            CloudServer(
                node=name,
                name=f"{prefix}{name}",
                image=str(values["image"] or ""),
                flavor=str(values["flavor"] or ""),
                network=str(values["network"] or ""),
                floating_ip=bool(values["floating_ip"]),
                groups=list(node.get("groups") or []),
                index=index,
            )
        )
    plan = CloudPlan(
        cloud=cloud,
        prefix=prefix,
        keypair=f"{prefix}key",
        security_group=f"{prefix}nodes",
        security_group_description=OWNER_DESCRIPTION.format(prefix=prefix),
        servers=servers,
    )
    result = asdict(plan)
    result["metadata"] = {server.node: plan.metadata(server.node) for server in servers}
    result["security_group_rules"] = security_group_rules(plan.security_group, ingress_ports, ingress_cidr)
    return result


def security_group_rules(group: str, ports: Iterable[int], cidr: str) -> list[dict[str, Any]]:
    """The node set's rules: anything out, anything between its nodes, ICMP and ``ports`` (TCP) from ``cidr``.

    Listed in full because openstack.cloud.security_group deletes rules it is not given.
    """
    try:
        network = ipaddress.ip_network(cidr)
    except ValueError as exc:
        raise InputError(
            f"node_provision_openstack_ingress_cidr: '{cidr}' is not a network such as 0.0.0.0/0 or 192.0.2.0/24"
        ) from exc
    ether = f"IPv{network.version}"
    rules: list[dict[str, Any]] = [
        {"direction": "egress", "ether_type": "IPv4"},
        {"direction": "egress", "ether_type": "IPv6"},
        {"direction": "ingress", "ether_type": "IPv4", "remote_group": group},
        {"direction": "ingress", "ether_type": "IPv6", "remote_group": group},
        {"direction": "ingress", "ether_type": ether, "protocol": "icmp", "remote_ip_prefix": str(network)},
    ]
    for port in ports:
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise InputError(f"node_provision_openstack_ingress_ports: {port!r} is not a TCP port (1-65535)")
        rules.append(
            {
                "direction": "ingress",
                "ether_type": ether,
                "protocol": "tcp",
                "port_range_min": port,
                "port_range_max": port,
                "remote_ip_prefix": str(network),
            }
        )
    return rules


def _names(resources: Iterable[Mapping[str, Any]]) -> set[str]:
    found: set[str] = set()
    for resource in resources:
        found.update(str(resource[key]) for key in ("name", "id") if resource.get(key))
    return found


def missing_resources(
    plan: Mapping[str, Any],
    *,
    images: Iterable[Mapping[str, Any]],
    flavors: Iterable[Mapping[str, Any]],
    networks: Iterable[Mapping[str, Any]],
) -> list[str]:
    """One line per node option naming an image, flavor or network the cloud does not have."""
    available = {"image": _names(images), "flavor": _names(flavors), "network": _names(networks)}
    lines = []
    for server in plan["servers"]:
        for key, names in available.items():
            value = server[key]
            if value not in names:
                choices = ", ".join(sorted(n for n in names if len(n) < 64)[:20]) or "none"
                lines.append(
                    f"node_provision_nodes[{server['index']}].openstack.{key}: node '{server['node']}' asks for "
                    f"{key} '{value}', which cloud '{plan['cloud']}' does not have (it has: {choices}); "
                    f"set node_provision_openstack_{key} or the node's openstack.{key} to one of them"
                )
    return lines


def _owned(server: Mapping[str, Any], prefix: str) -> bool:
    return (server.get("metadata") or {}).get(OWNER_KEY) == prefix


def servers_in_the_way(plan: Mapping[str, Any], servers: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per node whose server name a server not made by this node set already has."""
    wanted = {s["name"]: s for s in plan["servers"]}
    lines = []
    for server in servers:
        mine = wanted.get(server.get("name"))
        if mine and not _owned(server, plan["prefix"]):
            lines.append(
                f"node_provision_nodes[{mine['index']}].name: server '{server['name']}' ({server.get('id')}) "
                f"already exists in cloud '{plan['cloud']}' but node_provision did not make it "
                f"(no metadata {OWNER_KEY}={plan['prefix']}); rename the node or set another "
                "node_provision_openstack_prefix"
            )
    return lines


def cleanup(
    plan: Mapping[str, Any],
    *,
    servers: Iterable[Mapping[str, Any]],
    keypairs: Iterable[Mapping[str, Any]],
    security_groups: Iterable[Mapping[str, Any]],
    before: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What to delete, given the cloud's listings.

    ``before`` unset (``absent``): the plan's servers that this node set made,
    then the keypair and security group once no server of the node set is
    left. ``before`` set (a failed ``present``): the same, but only what is
    not in ``before`` (listings taken before the run created anything:
    ``servers``, ``keypairs``, ``security_groups``).
    """
    prefix = plan["prefix"]
    wanted = {s["name"] for s in plan["servers"]}
    servers = list(servers)
    old_servers = _names((before or {}).get("servers") or []) if before is not None else set()
    delete = [
        s
        for s in servers
        if s.get("name") in wanted
        and _owned(s, prefix)
        and s.get("id") not in old_servers
        and s.get("name") not in old_servers
    ]
    deleted = {s.get("id") for s in delete}
    remaining = [s for s in servers if _owned(s, prefix) and s.get("id") not in deleted]
    result: dict[str, Any] = {
        "servers": [{"id": s.get("id"), "name": s.get("name")} for s in delete],
        "keypair": None,
        "security_group": None,
    }
    if remaining:
        return result
    if plan["keypair"] in _names(keypairs) and (
        before is None or plan["keypair"] not in _names(before.get("keypairs") or [])
    ):
        result["keypair"] = plan["keypair"]
    for group in security_groups:
        if (
            group.get("name") == plan["security_group"]
            and group.get("description") == plan["security_group_description"]
            and (before is None or group.get("id") not in _names(before.get("security_groups") or []))
        ):
            result["security_group"] = group.get("id") or group.get("name")
    return result


def _address(server: Mapping[str, Any], floating: bool) -> str:
    if server.get("access_ipv4"):
        return str(server["access_ipv4"])
    addresses = server.get("addresses") or {}
    kinds = ("floating", "fixed") if floating else ("fixed", "floating")
    for kind in kinds:
        for entries in addresses.values():
            for entry in entries:
                if entry.get("OS-EXT-IPS:type", "fixed") == kind and entry.get("version", 4) == 4:
                    return str(entry["addr"])
    raise InputError(f"node_provision_nodes: server '{server.get('name')}' has no IPv4 address to reach it at")


def inventory_hosts(plan: Mapping[str, Any], results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One inventory entry per created server: node name, address, groups (from the server task's results)."""
    by_name = {s["name"]: s for s in plan["servers"]}
    hosts = []
    for result in results:
        server = result.get("server") or {}
        mine = by_name.get(server.get("name"))
        if mine is None:
            continue
        hosts.append(
            {
                "name": mine["node"],
                "address": _address(server, mine["floating_ip"]),
                "groups": mine["groups"],
                "id": server.get("id"),
            }
        )
    return hosts
