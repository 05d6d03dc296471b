"""Run a test playbook through ansible-playbook with the working tree as the collection.

:func:`run_playbook` for the screen a user sees (the project's own output);
:func:`run_roles_json` for what tasks did, read from Ansible's ``json``
output: stats, changed tasks (:func:`changed_tasks`), failures
(:func:`failures`).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TOP = Path(__file__).resolve().parents[2]


def ansible_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment of a run: the venv's ansible, this checkout as the collection, no colours."""
    base = os.environ if base is None else base
    return dict(
        base,
        ANSIBLE_CONFIG=str(TOP / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(TOP / ".venv" / "collections"),
        PATH=f"{TOP / '.venv' / 'bin'}:{base.get('PATH', '/usr/bin:/bin')}",
        ANSIBLE_NOCOLOR="1",
        **extra,
    )


def play(
    playbook: Path,
    extra_vars: dict[str, Any],
    *options: str,
    timeout: float = 120,
    env: Mapping[str, str] | None = None,
    cwd: Path = TOP,
) -> subprocess.CompletedProcess[str]:
    """``ansible-playbook [options] playbook -e <extra_vars>`` (from the top of the repo), whatever its outcome."""
    return subprocess.run(
        ["ansible-playbook", *options, str(playbook), "-e", json.dumps(extra_vars)],
        cwd=cwd,
        env=dict(env) if env is not None else ansible_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_playbook(
    playbook: Path, extra_vars: dict[str, Any], *options: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """:func:`play` that asserts rc 0."""
    proc = play(playbook, extra_vars, *options, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def run_roles_json(
    tmp_path: Path,
    roles: list[str],
    role_vars: dict[str, Any],
    *,
    expect_failure: bool = False,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """Play ``roles`` (short names, in order) on localhost with ``role_vars``; Ansible's JSON document and the run.

    Asserts the run failed exactly when ``expect_failure`` says it should.
    """
    playbook = tmp_path / "roles.yml"
    listed = "".join(f"    - role: distroforge.openstack.{role}\n" for role in roles)
    playbook.write_text(f"- hosts: localhost\n  gather_facts: false\n  roles:\n{listed}")
    proc = subprocess.run(
        [str(TOP / ".venv" / "bin" / "ansible-playbook"), str(playbook), "-e", json.dumps(role_vars)],
        cwd=TOP,
        env={
            **os.environ,
            "ANSIBLE_CONFIG": str(TOP / "ansible.cfg"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
            **(env or {}),
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    assert (proc.returncode != 0) == expect_failure, proc.stdout[-4000:] + proc.stderr[-2000:]
    # ansible.cfg's profile_tasks prints its timings around the JSON document.
    start = proc.stdout.index("{") if proc.stdout.startswith("{") else proc.stdout.index("\n{") + 1
    return json.JSONDecoder().raw_decode(proc.stdout[start:])[0], proc


def _host_results(result: Mapping[str, Any], host: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (task["task"]["name"], task["hosts"][host])
        for play in result["plays"]
        for task in play["tasks"]
        if host in task["hosts"]
    ]


def changed_tasks(result: Mapping[str, Any], host: str = "localhost") -> list[str]:
    """Names of the tasks that changed something on ``host``."""
    return [name for name, outcome in _host_results(result, host) if outcome.get("changed")]


def failures(result: Mapping[str, Any], host: str = "localhost") -> list[str]:
    """The messages of the tasks that failed on ``host``."""
    return [outcome.get("msg", "") for _name, outcome in _host_results(result, host) if outcome.get("failed")]
