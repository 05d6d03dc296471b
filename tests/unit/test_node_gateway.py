"""The local inventory serves the repositories on the gateway of the node network the driver uses."""

import json
import subprocess

import pytest

from .ansible_run import TOP, ansible_env


def facts(*extra: str) -> dict:
    """The repo server's address settings as the pipeline reads them, with ``extra`` ansible options."""
    query = "{{ {'gateway': distroforge_node_network_gateway, 'listen': distroforge_repo_listen} }}"
    proc = subprocess.run(
        ["ansible", "localhost", "-m", "ansible.builtin.debug", "-a", f"msg={query}", *extra],
        cwd=TOP,
        env=ansible_env(ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # the JSON document, between the task timer's lines
    document, _end = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("\n{") + 1 :])
    return document["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"]


@pytest.mark.parametrize(
    ("options", "gateway"),
    [
        ((), "10.89.42.1"),
        (("-e", "node_provision_driver=podman"), "10.89.42.1"),
        (("-e", "node_provision_driver=libvirt"), "10.89.43.1"),
    ],
)
def test_the_repo_server_listens_where_the_nodes_of_the_driver_reach_it(options, gateway):
    found = facts(*options)
    assert found == {"gateway": gateway, "listen": ["127.0.0.1", gateway]}


def test_an_explicit_gateway_still_wins():
    found = facts("-e", "node_provision_driver=libvirt", "-e", "distroforge_node_network_gateway=192.0.2.1")
    assert found["listen"] == ["127.0.0.1", "192.0.2.1"]
