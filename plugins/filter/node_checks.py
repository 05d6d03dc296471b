# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

"""node_provision's checks and cloud decisions: node_static_problems, node_cloud_plan, node_cloud_problems,
node_cloud_cleanup, node_cloud_hosts.

Each filter is documented in its own ``<name>.yml`` next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._nodes import cloud, static_check


def _call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except InputError as exc:
        raise AnsibleFilterError(str(exc)) from None


def node_static_problems(python_results, become_results, addresses=None):
    """One line per static host that is not ready."""
    return _call(static_check.static_problems, python_results, become_results, addresses)


def node_cloud_plan(
    nodes,
    cloud_name,
    config_file="",
    *,
    prefix,
    defaults,
    need_server_options=True,
    ingress_ports=(22,),
    ingress_cidr="0.0.0.0/0",
):
    """Names and options of the servers, keypair and security group for the node plan."""
    _call(cloud.check_cloud, cloud_name, config_file)
    return _call(
        cloud.make_cloud_plan,
        nodes,
        cloud=cloud_name,
        prefix=prefix,
        defaults=defaults,
        need_server_options=need_server_options,
        ingress_ports=ingress_ports,
        ingress_cidr=ingress_cidr,
    )


def node_cloud_problems(plan, images=None, flavors=None, networks=None, servers=None):
    """One line per missing image, flavor or network and per server in the way."""
    lines = []
    if images is not None:
        lines += _call(cloud.missing_resources, plan, images=images, flavors=flavors or [], networks=networks or [])
    if servers is not None:
        lines += _call(cloud.servers_in_the_way, plan, servers)
    return lines


def node_cloud_cleanup(plan, servers, keypairs, security_groups, before=None):
    """What to delete: this node set's servers, then its keypair and security group."""
    return _call(
        cloud.cleanup, plan, servers=servers, keypairs=keypairs, security_groups=security_groups, before=before
    )


def node_cloud_hosts(plan, results):
    """Inventory entries (name, address, groups) for the created servers."""
    return _call(cloud.inventory_hosts, plan, results)


class FilterModule:
    """distroforge node check filters."""

    def filters(self):
        return {
            "node_static_problems": node_static_problems,
            "node_cloud_plan": node_cloud_plan,
            "node_cloud_problems": node_cloud_problems,
            "node_cloud_cleanup": node_cloud_cleanup,
            "node_cloud_hosts": node_cloud_hosts,
        }
