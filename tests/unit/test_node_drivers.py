"""node_provision's drivers: listed once (vars/main.yml), dispatched by name, no driver ladder."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from .ansible_run import TOP, play

ROLE = TOP / "roles" / "node_provision"


def _drivers() -> dict:
    return yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__node_provision_drivers"]


def test_every_driver_is_listed_once_with_its_tasks():
    drivers = _drivers()
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())
    assert spec["argument_specs"]["main"]["options"]["node_provision_driver"]["choices"] == list(drivers)
    states = spec["argument_specs"]["main"]["options"]["node_provision_state"]["choices"]
    tasks = {path.name for path in (ROLE / "tasks").glob("*.yml")}
    for name, driver in drivers.items():
        files = {f"{name}_{state}.yml" for state in states}
        if driver["planned"]:
            assert not files & tasks, f"{name} is planned but has tasks"
        else:
            assert files <= tasks, f"{name} lacks {sorted(files - tasks)}"
            assert set(driver) == {"planned", "subnet", "need_ip", "containers", "attach"}
    # besides main.yml, only a driver's own helpers (<driver>_<what>.yml)
    assert {t for t in tasks - {"main.yml"} if t.split("_", 1)[0] not in drivers} == set()


def test_no_task_of_the_role_or_a_playbook_names_a_driver():
    names = "|".join(_drivers())
    ladder = re.compile(rf"""(==|!=)\s*['"]({names})['"]|['"]({names})['"]\s*(==|!=|in\s)""")
    found = [
        f"{path.relative_to(TOP)}:{number}: {line.strip()}"
        for path in [*(ROLE / "tasks").glob("*.yml"), *(TOP / "playbooks").rglob("*.yml")]
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if ladder.search(line)
    ]
    assert not found, (
        "a driver's behaviour is a key of vars/main.yml's __node_provision_drivers, not a test of its name"
    )


# The part of release_upgrade.yml that takes over the deployed node, without serving the repository first.
UPGRADE_FROM = "Read the install test's record"


def _upgrade(driver: str | None) -> subprocess.CompletedProcess[str]:
    extra = {
        "distroforge_release": "zed",
        "distroforge_workdir": "/nonexistent",
        "distroforge_upgrade_node": "df-absent-node",
    }
    if driver:
        extra["node_provision_driver"] = driver
    return play(TOP / "playbooks" / "release_upgrade.yml", extra, "--start-at-task", UPGRADE_FROM, timeout=300)


def test_the_upgrade_takes_over_a_node_as_its_driver_says():
    # podman (the default) attaches a node by its name: a node that does not run stops the play, saying so
    proc = _upgrade(None)
    assert proc.returncode != 0
    assert "df-absent-node does not run: deploy the previous release on it first" in proc.stdout
    # static has no attach: node_provision finds the node, and needs its address
    proc = _upgrade("static")
    assert proc.returncode != 0
    assert "'df-absent-node' is not in the inventory, so the static driver needs its address" in proc.stdout
    proc = _upgrade("vmware")
    assert proc.returncode != 0
    assert "node_provision_driver: 'vmware' is not a driver of node_provision; use one of podman, static" in proc.stdout


def _play(tmp_path: Path, extra: dict) -> subprocess.CompletedProcess[str]:
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
                        },
                        {
                            "name": "Show the nodes",
                            "ansible.builtin.debug": {
                                "msg": "NODES {{ groups['test_nodes'] | default([]) | map('extract', hostvars)"
                                " | map(attribute='ansible_host') | list | to_json }}"
                            },
                        },
                    ],
                }
            ]
        )
    )
    return play(playbook, extra, "-i", "localhost,", "-c", "local", timeout=300)


def test_the_static_driver_needs_each_address(tmp_path):
    proc = _play(tmp_path, {"node_provision_driver": "static", "node_provision_nodes": [{"name": "web1"}]})
    assert proc.returncode != 0
    assert "node_provision_nodes[0].ip: 'web1' is not in the inventory, so the static driver needs its address" in (
        proc.stdout
    )


def test_a_planned_driver_is_refused_with_one_line(tmp_path):
    # Every driver is built now: mark one planned the way vars/main.yml would (extra vars win over role vars).
    drivers = {**_drivers(), "libvirt": {"planned": True}}
    proc = _play(
        tmp_path,
        {
            "node_provision_driver": "libvirt",
            "node_provision_nodes": [{"name": "n1"}],
            "__node_provision_drivers": drivers,
        },
    )
    assert proc.returncode != 0
    built = ", ".join(name for name, d in drivers.items() if not d["planned"])
    assert f"node_provision_driver: 'libvirt' is not implemented yet; use one of {built}." in proc.stdout
