"""What a user relies on after node_provision: booted, Python, a network."""

import pytest

NODES = {"molecule-np-a": "molecule-np-b", "molecule-np-b": "molecule-np-a"}
testinfra_hosts = [f"podman://{name}" for name in NODES]


def _name(host):
    return host.backend.name


def test_systemd_is_running(host):
    state = host.run("systemctl is-system-running")
    assert state.stdout.strip() == "running", host.run("systemctl --failed --no-legend").stdout


def test_python3_is_present(host):
    assert host.exists("python3")
    assert host.run("python3 -c 'import sys; print(sys.version_info[0])'").stdout.strip() == "3"


def test_hostname_is_the_node_name(host):
    assert host.run("hostname").stdout.strip() == _name(host)


@pytest.mark.parametrize("proto", ["name", "address"])
def test_reaches_the_other_node(host, proto):
    peer = NODES[_name(host)]
    target = peer
    if proto == "address":
        target = host.run(f"getent hosts {peer}").stdout.split()[0]
    ping = host.run(f"ping -c 1 -W 3 {target}")
    assert ping.rc == 0, ping.stderr
