"""The openstack driver's tasks against a fake cloud on loopback (tests/slow/fake_cloud.py).

Slow lane: every openstack.cloud module run loads openstacksdk and logs in again, so each test takes
from half a minute to a few minutes on a busy 2-core machine.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

# tests/ is on the path: the slow lane reuses the unit helpers
from unit.loopback_ssh import LoopbackSshd, free_port, usable
from unit.test_node_cloud import USE_THE_NODES, _provision

from ansible_collections.distroforge.openstack.plugins.module_utils._nodes import cloud

from .fake_cloud import FakeCloud, FakeCloudServer

IMAGES = [{"id": "img-1", "name": "debian-12", "status": "active"}]
FLAVORS = [{"id": "1", "name": "m1.small", "ram": 2048, "vcpus": 1, "disk": 10}]
NETWORKS = [{"id": "net-1", "name": "private", "status": "ACTIVE"}]
ON_THE_FAKE = {
    "node_provision_driver": "openstack",
    "node_provision_openstack_prefix": "df-",
    "node_provision_openstack_image": "debian-12",
    "node_provision_openstack_flavor": "m1.small",
    "node_provision_openstack_network": "private",
}


def _on_fake(tmp_path, fake: FakeCloud, extra: dict, *plays: dict) -> subprocess.CompletedProcess[str]:
    with FakeCloudServer(fake) as server:
        config = tmp_path / "clouds.yaml"
        config.write_text(yaml.safe_dump(server.clouds_yaml("fake")))
        extra = {**ON_THE_FAKE, "node_provision_openstack_ssh_key": str(tmp_path / "key"), **extra}
        return _provision(tmp_path, extra, {"OS_CLOUD": "fake", "OS_CLIENT_CONFIG_FILE": str(config)}, *plays)


@pytest.mark.slow
@pytest.mark.skipif(bool(usable()), reason=usable() or "usable")
def test_on_a_fake_cloud_present_makes_the_servers_waits_for_ssh_and_the_nodes_work_and_again_changes_nothing(tmp_path):
    """The fake's servers answer at 127.0.0.1, where an sshd plays them (as root: it is loopback)."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "key")], check=True)
    sshd = LoopbackSshd(tmp_path / "sshd", free_port())
    sshd.start(tmp_path / "key.pub")
    fake = FakeCloud(images=IMAGES, flavors=FLAVORS, networks=NETWORKS)
    extra = {
        "node_provision_nodes": [{"name": "n1", "groups": ["web"]}],
        "node_provision_openstack_ssh_user": "root",
        "node_provision_openstack_ssh_port": sshd.port,
        "node_provision_openstack_ingress_ports": [sshd.port],
        "ansible_ssh_common_args": "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no",
        "ansible_ssh_args": "-o ControlMaster=no",  # nothing of the test outlives it
    }
    try:
        proc = _on_fake(tmp_path, fake, extra, USE_THE_NODES)
        first = len(fake.requests)
        again = _on_fake(tmp_path, fake, extra, USE_THE_NODES)
    finally:
        sshd.stop()
    assert proc.returncode == 0, proc.stdout[-3000:]
    # a second present changes nothing and creates nothing
    assert again.returncode == 0, again.stdout[-3000:]
    assert [r for r in fake.requests[first:] if r.startswith(("POST /compute", "POST /network", "PUT", "DELETE"))] == []
    assert "localhost                  : ok=" in again.stdout and " changed=0 " in again.stdout.split("PLAY RECAP")[1]
    assert "ok: [n1]" in proc.stdout
    (server,) = fake.servers
    assert (server["name"], server["metadata"], server["key_name"]) == (
        "df-n1",
        {cloud.OWNER_KEY: "df-", cloud.NODE_KEY: "n1"},
        "df-key",
    )
    (group,) = fake.security_groups
    assert group["name"] == "df-nodes" and group["description"] == "distroforge node_provision: df-"
    assert {"remote_group_id": group["id"], "direction": "ingress"}.items() <= next(
        r for r in group["security_group_rules"] if r.get("remote_group_id")
    ).items()
    assert [k["name"] for k in fake.keypairs] == ["df-key"]


def _server(name, owner="df-"):
    meta = {cloud.OWNER_KEY: owner} if owner else {}
    return {"id": f"id-{name}", "name": name, "metadata": meta, "status": "ACTIVE", "addresses": {}}


def test_on_a_fake_cloud_unknown_names_and_servers_in_the_way_are_one_line_each_and_nothing_is_made(tmp_path):
    fake = FakeCloud(images=IMAGES, flavors=FLAVORS, networks=NETWORKS, servers=[_server("df-n2", owner=None)])
    nodes = [{"name": "n1", "openstack": {"image": "debian-13"}}, {"name": "n2"}]
    proc = _on_fake(tmp_path, fake, {"node_provision_nodes": nodes, "node_provision_openstack_flavor": "m1.large"})
    assert proc.returncode != 0
    report = proc.stdout.split("fatal: [localhost]: FAILED! =>", 1)[-1]
    lines = [line.strip() for line in report.splitlines() if line.strip().startswith("node_provision_nodes[")]
    assert [line.split(":")[0] for line in lines] == [
        "node_provision_nodes[0].openstack.image",
        "node_provision_nodes[0].openstack.flavor",
        "node_provision_nodes[1].openstack.flavor",
        "node_provision_nodes[1].name",
    ], proc.stdout[-3000:]
    assert "server 'df-n2' (id-df-n2) already exists in cloud 'fake' but node_provision did not make it" in lines[3]
    assert {r for r in fake.requests if not r.startswith("GET")} == {"POST /identity/v3/auth/tokens"}


def test_on_a_fake_cloud_a_failed_step_removes_only_what_the_run_created(tmp_path):
    theirs = {"name": "someone-elses", "public_key": "ssh-ed25519 AAAA", "fingerprint": "x", "type": "ssh"}
    fake = FakeCloud(
        images=IMAGES,
        flavors=FLAVORS,
        networks=NETWORKS,
        keypairs=[theirs],
        servers=[_server("other-n1", owner="other-")],
        fail=["POST /network/v2.0/security-groups"],
    )
    proc = _on_fake(tmp_path, fake, {"node_provision_nodes": [{"name": "n1"}]})
    assert proc.returncode != 0
    assert "POST /compute/v2.1/os-keypairs" in fake.requests, proc.stdout[-3000:]
    assert "node_provision: creating the openstack nodes failed at 'Create the node set's security group" in proc.stdout
    assert "- removed what this run created (df-key)." in proc.stdout
    assert fake.keypairs == [theirs] and [s["name"] for s in fake.servers] == ["other-n1"]
    assert [r for r in fake.requests if r.startswith("DELETE")] == ["DELETE /compute/v2.1/os-keypairs/df-key"]


def test_on_a_fake_cloud_absent_deletes_the_nodes_servers_keypair_and_group_and_nothing_else(tmp_path):
    group = {
        "id": "sg-1",
        "name": "df-nodes",
        "description": "distroforge node_provision: df-",
        "security_group_rules": [],
    }
    fake = FakeCloud(
        servers=[_server("df-n1"), _server("df-n2", owner=None), _server("other-n1", owner="other-")],
        keypairs=[{"name": "df-key", "public_key": "ssh-ed25519 AAAA", "fingerprint": "x", "type": "ssh"}],
        security_groups=[group],
    )
    nodes = [{"name": "n1"}, {"name": "n2"}]
    proc = _on_fake(tmp_path, fake, {"node_provision_nodes": nodes, "node_provision_state": "absent"})
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert [s["name"] for s in fake.servers] == ["df-n2", "other-n1"]
    assert fake.keypairs == [] and fake.security_groups == []
