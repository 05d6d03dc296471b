"""node_provision's libvirt driver boots a real VM (TCG where KVM fails), end to end.

One node: `present` builds the disk image (cached by its inputs, shared with
users of the default image), boots it and adds it to the inventory; a play
on it runs commands over SSH with become; a second `present` changes
nothing; `absent` leaves no qemu process, overlay, tap or bridge behind.
Measured with the image cached, TCG on two cores shared with other test
runs (load 8-10): 4 min 37 s in all; the first build of the image adds
2.5 min on an idle host (9 min at load 14).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from .ansible_run import play

NODE = "df-vm-unit"
BRIDGE = "dft-unit-br0"
SUBNET = "10.89.97.0/24"
GATEWAY = "10.89.97.1"


def _playbook(path: Path, state: str, *, on_node: bool) -> Path:
    plays = [
        {
            "name": "Provision",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Run node_provision",
                    "ansible.builtin.include_role": {"name": "distroforge.openstack.node_provision"},
                    "vars": {"node_provision_state": state},
                }
            ],
        }
    ]
    if on_node:
        plays.append(
            {
                "name": "Use the node",
                "hosts": "test_nodes",
                "gather_facts": False,
                "become": True,
                "tasks": [
                    {"name": "Ping", "ansible.builtin.ping": {}},
                    {
                        "name": "Ask the node who it is",
                        "ansible.builtin.command": "sh -c 'echo WHO=$(hostname)/$(id -un)/$(uname -s)'",
                        "register": "who",
                        "changed_when": False,
                    },
                    {"name": "Show it", "ansible.builtin.debug": {"msg": "{{ who.stdout }}"}},
                    {
                        "name": "Reach the controller on the node network",
                        "ansible.builtin.command": f"ping -c 1 -W 5 {GATEWAY}",
                        "changed_when": False,
                    },
                ],
            }
        )
    playbook = path / f"{state}-{int(on_node)}.yml"
    playbook.write_text(yaml.safe_dump(plays))
    return playbook


def _run(playbook: Path, extra: dict, timeout: float) -> subprocess.CompletedProcess[str]:
    # The controller runs modules with the venv's Python; the node keeps its own (/usr/bin/python3).
    inventory = playbook.parent / "inventory.yml"
    localhost = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": localhost}}}))
    return play(playbook, extra, "-i", str(inventory), timeout=timeout)


def _recap(stdout: str, host: str) -> dict[str, int]:
    match = re.search(rf"^{re.escape(host)}\s*:\s*(.*)$", stdout, re.MULTILINE)
    assert match, stdout[-2000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def _qemu_processes(vm_dir: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(vm_dir).encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_a_vm_node_boots_answers_over_ssh_stays_unchanged_and_goes_away(tmp_path):
    vm_dir = tmp_path / "vms"
    extra = {
        "node_provision_driver": "libvirt",
        "node_provision_nodes": [{"name": NODE, "groups": ["keystone"], "memory": 768}],
        "node_provision_libvirt_dir": str(vm_dir),
        "node_provision_libvirt_bridge": BRIDGE,
        "node_provision_libvirt_subnet": SUBNET,
    }
    try:
        up = _run(_playbook(tmp_path, "present", on_node=True), extra, timeout=1500)
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-2000:]
        assert f"WHO={NODE}/root/Linux" in up.stdout
        assert (vm_dir / NODE / "overlay.qcow2").is_file()
        again = _run(_playbook(tmp_path, "present", on_node=False), extra, timeout=600)
        assert again.returncode == 0, again.stdout[-4000:]
        assert _recap(again.stdout, "localhost")["changed"] == 0, again.stdout[-3000:]
    finally:
        down = _run(_playbook(tmp_path, "absent", on_node=False), extra, timeout=300)
    assert down.returncode == 0, down.stdout[-4000:]
    assert _recap(down.stdout, "localhost")["changed"] >= 1
    assert _qemu_processes(vm_dir) == []
    assert not (vm_dir / NODE).exists()
    assert not Path("/sys/class/net", BRIDGE).exists()
    # the node key and the cached image stay
    assert (vm_dir / "id_ed25519").is_file()
