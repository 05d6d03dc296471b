"""Run a test playbook through ansible-playbook with the working tree as the collection."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

TOP = Path(__file__).resolve().parents[2]


def run_playbook(
    playbook: Path, extra_vars: dict[str, Any], *options: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``ansible-playbook [options] playbook -e <extra_vars>`` from the top of the repo; asserts rc 0."""
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(TOP / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(TOP / ".venv" / "collections"),
        PATH=f"{TOP / '.venv' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        ANSIBLE_NOCOLOR="1",
    )
    proc = subprocess.run(
        ["ansible-playbook", *options, str(playbook), "-e", json.dumps(extra_vars)],
        cwd=TOP,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc
