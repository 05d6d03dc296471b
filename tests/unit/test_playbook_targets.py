"""Playbooks that work on nodes fail in one line when they have none, instead of "no hosts matched" and exit 0.

build.yml and its kind fill an empty repo_server or builders group with this machine (inventory_groups.yml);
the playbooks here act on a cloud or on test nodes, which this machine is not, so they fail, naming the
group or variable and how to fill it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .ansible_run import TOP, play

EMPTY_KEYSTONE = "all:\n  children:\n    keystone:\n      hosts: {}\n    cloud_b:\n      hosts: {}\n"


def run(tmp_path: Path, playbook: str, extra: dict, *options: str) -> str:
    """The run's output on one line per message (the screen wraps long ones); asserts it failed."""
    proc = play(TOP / "playbooks" / playbook, extra, *options, timeout=180)
    out = " ".join(proc.stdout.split())
    assert proc.returncode != 0, out[-3000:]
    assert "no hosts matched" not in out
    return out


@pytest.mark.parametrize(
    ("target", "group"),
    [
        ({}, "keystone"),
        ({"distroforge_tempest_target": "cloud_b"}, "cloud_b"),
        ({"tempest_target": "cloud_b"}, "cloud_b"),
    ],
    ids=["the default group", "a group named by the target", "a group named by the deprecated variable"],
)
def test_tempest_with_an_empty_group_fails_naming_it(tmp_path, target, group):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(EMPTY_KEYSTONE)
    extra = {"distroforge_artifacts_dir": str(tmp_path / "artifacts"), **target}
    out = run(tmp_path, "tempest.yml", extra, "-i", str(inventory))
    assert (
        f"tempest.yml: the inventory has no host in group {group}: add the node of the cloud to group {group}"
        " in your inventory (-i), or name it with -e distroforge_tempest_target=<node>"
    ) in out


@pytest.mark.parametrize("variable", ["distroforge_deploy_nodes", "deploy_nodes"], ids=["its name", "deprecated name"])
def test_deploy_with_no_node_fails_naming_the_variable(tmp_path, variable):
    out = run(tmp_path, "deploy.yml", {variable: [], "distroforge_workdir": str(tmp_path)})
    assert "deploy.yml: distroforge_deploy_nodes is empty: give at least one node, as -e" in out


def test_provision_with_no_node_fails_naming_the_variable(tmp_path):
    out = run(tmp_path, "provision.yml", {})
    assert "provision.yml: node_provision_nodes is empty: give the nodes, as -e @nodes.yml" in out
