"""The openstack driver's decisions without a cloud: plan, checks, what a failure or `absent` deletes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._nodes import cloud, static_check

from .ansible_run import ansible_env, play

DEFAULTS = {"image": "debian-12", "flavor": "m1.large", "network": "private", "floating_ip": False}
NODES = ({"name": "controller", "groups": ["openstack"]}, {"name": "compute1", "groups": ["compute"]})


def plan(nodes=NODES, per_node=None, **kw):
    """The cloud plan of ``nodes``, each with its ``openstack`` options from ``per_node``."""
    kw.setdefault("defaults", DEFAULTS)
    nodes = [{**node, "openstack": (per_node or {}).get(node["name"])} for node in nodes]
    return cloud.make_cloud_plan(nodes, cloud="lab", prefix="df-", **kw)


def server(name, owner="df-", sid=None, **extra):
    meta = {cloud.OWNER_KEY: owner} if owner else {}
    return {"id": sid or f"id-{name}", "name": name, "metadata": meta, **extra}


def group(name="df-nodes", description="distroforge node_provision: df-", gid="sg-1"):
    return {"id": gid, "name": name, "description": description}


def test_the_plan_names_every_resource_with_the_prefix_and_tags_each_server():
    p = plan(per_node={"compute1": {"flavor": "m1.xlarge", "floating_ip": True}})
    assert (p["keypair"], p["security_group"]) == ("df-key", "df-nodes")
    assert [(s["name"], s["flavor"], s["floating_ip"]) for s in p["servers"]] == [
        ("df-controller", "m1.large", False),
        ("df-compute1", "m1.xlarge", True),
    ]
    assert p["metadata"]["compute1"] == {cloud.OWNER_KEY: "df-", cloud.NODE_KEY: "compute1"}


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (
            {"defaults": {**DEFAULTS, "flavor": ""}},
            "node_provision_nodes[0].openstack.flavor: node 'controller' has no",
        ),
        ({"per_node": {"compute1": {"flavour": "x"}}}, "node_provision_nodes[1].openstack.flavour: unknown key"),
        ({"per_node": {"compute1": "m1.large"}}, "node_provision_nodes[1].openstack: must be a mapping"),
    ],
)
def test_bad_server_options_name_the_node_and_the_field(kw, message):
    with pytest.raises(InputError) as err:
        plan(**kw)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_the_security_group_lets_nodes_talk_and_opens_the_given_ports():
    rules = plan(ingress_ports=[22, 8088], ingress_cidr="192.0.2.0/24")["security_group_rules"]
    assert {"direction": "ingress", "ether_type": "IPv4", "remote_group": "df-nodes"} in rules
    assert [(r["port_range_min"], r["remote_ip_prefix"]) for r in rules if r.get("protocol") == "tcp"] == [
        (22, "192.0.2.0/24"),
        (8088, "192.0.2.0/24"),
    ]
    with pytest.raises(InputError, match=r"^node_provision_openstack_ingress_ports: 70000 is not a TCP port"):
        plan(ingress_ports=[22, 70000])
    with pytest.raises(InputError, match=r"^node_provision_openstack_ingress_cidr: 'anywhere' is not a network"):
        plan(ingress_cidr="anywhere")


def test_absent_needs_no_image_and_a_prefix_must_be_a_name():
    assert plan(defaults={}, need_server_options=False)["servers"][0]["name"] == "df-controller"
    with pytest.raises(InputError, match="node_provision_openstack_prefix: 'df_'"):
        cloud.make_cloud_plan(NODES, cloud="lab", prefix="df_", defaults=DEFAULTS)


def test_unknown_image_flavor_and_network_each_get_a_line_naming_node_and_field():
    p = plan(per_node={"compute1": {"image": "debian-13", "network": "net-id-2"}})
    lines = cloud.missing_resources(
        p,
        images=[{"id": "i1", "name": "debian-12"}],
        flavors=[{"id": "1", "name": "m1.small"}],
        networks=[{"id": "net-id-1", "name": "private"}, {"id": "net-id-2", "name": "other"}],
    )
    assert [line.split(":")[0] for line in lines] == [
        "node_provision_nodes[0].openstack.flavor",
        "node_provision_nodes[1].openstack.image",
        "node_provision_nodes[1].openstack.flavor",
    ]
    assert "asks for image 'debian-13', which cloud 'lab' does not have (it has: debian-12, i1)" in lines[1]


def test_a_server_someone_else_made_under_a_node_name_is_in_the_way():
    lines = cloud.servers_in_the_way(plan(), [server("df-compute1", owner=None), server("df-controller")])
    assert len(lines) == 1
    assert lines[0].startswith("node_provision_nodes[1].name: server 'df-compute1' (id-df-compute1) already exists")


def test_absent_deletes_only_this_node_sets_servers_then_keypair_and_group():
    listing = [
        server("df-controller"),
        server("df-compute1"),
        server("df-compute2", owner=None),  # a user's server that shares the prefix
        server("other-controller", owner="other-"),
    ]
    groups = [group(), group(name="df-nodes", description="the user's", gid="sg-2")]
    todo = cloud.cleanup(plan(), servers=listing, keypairs=[{"name": "df-key"}], security_groups=groups)
    assert todo == {
        "servers": [
            {"id": "id-df-controller", "name": "df-controller"},
            {"id": "id-df-compute1", "name": "df-compute1"},
        ],
        "keypair": "df-key",
        "security_group": "sg-1",
    }


def test_absent_of_some_nodes_keeps_what_the_others_still_use():
    listing = [server("df-controller"), server("df-compute1")]
    todo = cloud.cleanup(plan(NODES[:1]), servers=listing, keypairs=[{"name": "df-key"}], security_groups=[group()])
    assert todo == {
        "servers": [{"id": "id-df-controller", "name": "df-controller"}],
        "keypair": None,
        "security_group": None,
    }


def test_absent_with_nothing_there_deletes_nothing():
    assert cloud.cleanup(plan(), servers=[], keypairs=[], security_groups=[]) == {
        "servers": [],
        "keypair": None,
        "security_group": None,
    }


def test_a_failed_run_removes_only_what_it_created():
    before = {"servers": [server("df-controller")], "keypairs": [{"name": "df-key"}], "security_groups": []}
    after = [server("df-controller"), server("df-compute1")]
    todo = cloud.cleanup(plan(), servers=after, keypairs=[{"name": "df-key"}], security_groups=[group()], before=before)
    # compute1 is new; controller, and the keypair it uses, were there before; the group is still used.
    assert todo == {
        "servers": [{"id": "id-df-compute1", "name": "df-compute1"}],
        "keypair": None,
        "security_group": None,
    }
    fresh = cloud.cleanup(
        plan(),
        servers=[server("df-controller", sid="new-1")],
        keypairs=[{"name": "df-key"}],
        security_groups=[group()],
        before={"servers": [], "keypairs": [], "security_groups": []},
    )
    assert fresh == {
        "servers": [{"id": "new-1", "name": "df-controller"}],
        "keypair": "df-key",
        "security_group": "sg-1",
    }


def test_inventory_entries_use_the_floating_address_when_asked():
    p = plan(per_node={"compute1": {"floating_ip": True}})
    addresses = {
        "private": [
            {"addr": "10.0.0.5", "version": 4, "OS-EXT-IPS:type": "fixed"},
            {"addr": "203.0.113.9", "version": 4, "OS-EXT-IPS:type": "floating"},
        ]
    }
    results = [
        {"server": {"id": "a", "name": "df-controller", "addresses": addresses}},
        {"server": {"id": "b", "name": "df-compute1", "addresses": addresses}},
    ]
    assert [(h["name"], h["address"], h["groups"]) for h in cloud.inventory_hosts(p, results)] == [
        ("controller", "10.0.0.5", ["openstack"]),
        ("compute1", "203.0.113.9", ["compute"]),
    ]


def test_the_cloud_must_be_named_and_in_clouds_yaml(tmp_path, monkeypatch):
    for var in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "OS_AUTH_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(InputError, match=r"^node_provision_openstack_cloud: no cloud given; set OS_CLOUD"):
        cloud.check_cloud("")
    with pytest.raises(InputError, match=r"^node_provision_openstack_config_file: .*/nope\.yaml does not exist"):
        cloud.check_cloud("lab", str(tmp_path / "nope.yaml"))
    config = tmp_path / "clouds.yaml"
    config.write_text(yaml.safe_dump({"clouds": {"lab": {"auth": {"auth_url": "http://127.0.0.1:9/v3"}}}}))
    with pytest.raises(InputError) as err:
        cloud.check_cloud("prod", str(config))
    assert str(err.value) == (
        f"node_provision_openstack_cloud: cloud 'prod' is not in {config} (clouds there: lab); "
        "set OS_CLOUD or node_provision_openstack_cloud to one of them"
    )
    assert cloud.check_cloud("lab", str(config)) == "lab"


def test_a_static_host_missing_python_and_sudo_gets_one_line_naming_both():
    probe = {"item": {"name": "h1", "ip": None}, "rc": 127, "stdout": "sh: 1: python3: not found"}
    become = {"item": probe, "rc": 1, "stdout": "sudo: a password is required"}
    ready = {"item": {"name": "h2", "ip": "192.0.2.2"}, "rc": 0, "stdout": "3"}
    lines = static_check.static_problems(
        [probe, ready], [become, {"item": ready, "rc": 0, "stdout": "0\r\n"}], {"h1": "192.0.2.1"}
    )
    assert lines == [
        "node_provision_nodes: static host 'h1' (192.0.2.1) is not ready: no Python 3 (sh: 1: python3: not found) - "
        f"{static_check.FIX_PYTHON}; cannot become root (sudo: a password is required) - {static_check.FIX_BECOME}"
    ]


USE_THE_NODES = {
    "name": "Use the nodes",
    "hosts": "test_nodes",
    "gather_facts": False,
    "tasks": [{"name": "Run Python as root", "ansible.builtin.command": "id -u", "changed_when": False}],
}


def _provision(
    tmp_path: Path, extra: dict, env: dict[str, str], *plays: dict, hosts: dict | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the role on localhost with ``extra`` vars and only ``env``'s OS_* variables, then ``plays``.

    ``hosts``: more hosts of the inventory, with their variables.
    """
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Provision",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Run node_provision",
                            "ansible.builtin.include_role": {"name": "distroforge.openstack.node_provision"},
                        }
                    ],
                },
                *plays,
            ]
        )
    )
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                        **(hosts or {}),
                    }
                }
            }
        )
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    full_env = ansible_env(base, HOME=str(tmp_path), **env)  # HOME: no ~/.config/openstack of the machine
    # localhost runs modules with this venv's Python, which has openstacksdk (as a controller must)
    return play(playbook, extra, "-i", str(inventory), timeout=300, env=full_env, cwd=tmp_path)


def _error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stdout.splitlines() if "node_provision" in line and "[ERROR]" in line]


OPENSTACK = {"node_provision_driver": "openstack", "node_provision_nodes": [{"name": "n1"}]}


@pytest.mark.parametrize("state", ["present", "absent"])
def test_no_cloud_is_one_line_naming_the_variable(tmp_path, state):
    proc = _provision(tmp_path, {**OPENSTACK, "node_provision_state": state}, {})
    assert proc.returncode != 0
    assert "node_provision_openstack_cloud: no cloud given; set OS_CLOUD" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_cloud_missing_from_clouds_yaml_is_one_line_naming_the_file(tmp_path):
    config = tmp_path / "clouds.yaml"
    config.write_text(yaml.safe_dump({"clouds": {"lab": {"auth": {"auth_url": "http://127.0.0.1:9/v3"}}}}))
    proc = _provision(tmp_path, OPENSTACK, {"OS_CLOUD": "prod", "OS_CLIENT_CONFIG_FILE": str(config)})
    assert proc.returncode != 0
    assert f"node_provision_openstack_cloud: cloud 'prod' is not in {config} (clouds there: lab)" in proc.stdout


def test_missing_server_options_name_the_node_before_the_cloud_is_called(tmp_path):
    config = tmp_path / "clouds.yaml"
    config.write_text(yaml.safe_dump({"clouds": {"lab": {"auth": {"auth_url": "http://127.0.0.1:9/v3"}}}}))
    # the node's own openstack options pass through the node plan (a lazy mapping in a play)
    nodes = [{"name": "n1", "openstack": {"image": "debian-12"}}]
    extra = {**OPENSTACK, "node_provision_nodes": nodes, "node_provision_openstack_network": "net"}
    proc = _provision(tmp_path, extra, {"OS_CLOUD": "lab", "OS_CLIENT_CONFIG_FILE": str(config)})
    assert proc.returncode != 0
    assert "node_provision_nodes[0].openstack.flavor: node 'n1' has no flavor" in proc.stdout
    assert "List the cloud's images" not in proc.stdout


def test_a_name_another_drivers_node_has_is_refused_before_the_cloud_is_called(tmp_path):
    hosts = {"n1": {"node_provision_node_driver": "podman"}}
    proc = _provision(tmp_path, OPENSTACK, {"OS_CLOUD": "lab"}, hosts=hosts)
    assert proc.returncode != 0
    assert "node_provision_nodes[0].name: 'n1' is already a node of the podman driver; pick another name" in proc.stdout
    assert "Check the cloud's name" not in proc.stdout
