"""The static driver on real SSH hosts on loopback: every host is checked before anything runs.

Four hosts, each an sshd on 127.0.0.1 (see loopback_ssh): one ready, one whose
user may not sudo, one without Python 3, one nobody listens for.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from .ansible_run import play
from .loopback_ssh import UNPRIVILEGED, LoopbackSshd, free_port, usable

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(usable()), reason=usable() or "usable")]


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    """An inventory of the four hosts, keyed by what is wrong with each."""
    tmp = tmp_path_factory.mktemp("static")
    # Not under pytest's 0700 tree: the unprivileged user must reach its authorized_keys.
    sshd_dir = Path(tempfile.mkdtemp(prefix="np-sshd-"))
    sshd_dir.chmod(0o755)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "key")], check=True)
    full = LoopbackSshd(sshd_dir / "full", free_port())
    bare = LoopbackSshd(sshd_dir / "bare", free_port(), hide_python=True)
    try:
        for sshd in (full, bare):
            sshd.start(tmp / "key.pub")
    except BaseException:
        full.stop()
        raise
    inventory = {
        "all": {
            "vars": {
                "ansible_ssh_private_key_file": str(tmp / "key"),
                "ansible_ssh_common_args": "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no",
                # no persistent master connection: nothing of the test outlives it
                "ansible_ssh_args": "-o ControlMaster=no",
            },
            "hosts": {
                "localhost": {"ansible_connection": "local"},
                "np-ready": {"ansible_host": "127.0.0.1", "ansible_port": full.port, "ansible_user": "root"},
                # given by address in the node list, not in the inventory's ansible_host
                "np-nosudo": {"ansible_port": full.port, "ansible_user": UNPRIVILEGED},
                "np-nopython": {"ansible_host": "127.0.0.1", "ansible_port": bare.port, "ansible_user": "root"},
                "np-down": {"ansible_host": "127.0.0.1", "ansible_port": free_port(), "ansible_user": "root"},
            },
        }
    }
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    yield tmp
    for sshd in (full, bare):
        sshd.stop()
    shutil.rmtree(sshd_dir)


def _provision(tmp: Path, nodes: list[dict]) -> subprocess.CompletedProcess[str]:
    playbook = tmp / "play.yml"
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
                {
                    "name": "Use the nodes",
                    "hosts": "test_nodes",
                    "gather_facts": False,
                    "become": True,
                    "tasks": [
                        {"name": "Run Python as root", "ansible.builtin.command": "id -u", "changed_when": False}
                    ],
                },
            ]
        )
    )
    extra = {"node_provision_driver": "static", "node_provision_nodes": nodes}
    return play(playbook, extra, "-i", str(tmp / "inventory.yml"), timeout=120)


def _lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The report's lines: what the failing task's msg holds."""
    block = proc.stdout.split("fatal: [localhost]: FAILED! =>", 1)[-1].split("PLAY RECAP", 1)[0]
    return [line.strip() for line in block.splitlines() if "node_provision_nodes: static host" in line]


def test_every_host_that_is_not_ready_gets_one_line_and_nothing_runs(hosts):
    nodes = [
        {"name": "np-ready"},
        {"name": "np-nosudo", "ip": "127.0.0.1"},
        {"name": "np-nopython"},
        {"name": "np-down"},
    ]
    proc = _provision(hosts, nodes)
    assert proc.returncode != 0
    assert "Run Python as root" not in proc.stdout, "the play went on past the check"
    lines = _lines(proc)
    assert len(lines) == 3, proc.stdout[-4000:]
    nosudo, nopython, down = lines
    assert nosudo.startswith("node_provision_nodes: static host 'np-nosudo' (127.0.0.1) is not ready: cannot become")
    assert "Missing sudo password" in nosudo and "ansible_become_password" in nosudo
    assert "Python" not in nosudo
    assert nopython.startswith("node_provision_nodes: static host 'np-nopython' (127.0.0.1) is not ready: no Python 3")
    assert "python3: not found" in nopython and "become" not in nopython
    assert down.startswith("node_provision_nodes: static host 'np-down' (127.0.0.1) is not ready: unreachable")
    assert "Connection refused" in down and "ansible_port" in down


def test_a_ready_host_joins_the_inventory_and_runs_as_root(hosts):
    proc = _provision(hosts, [{"name": "np-ready", "groups": ["web"]}])
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "ok: [np-ready]" in proc.stdout
