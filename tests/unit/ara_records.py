"""ARA for the tests: the environment `make run` gives ansible-playbook to record a work dir's runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]


def ara_env(workdir: Path) -> dict[str, str]:
    """The environment `make run` gives ansible-playbook to record in ``<workdir>/ara`` (empty without ara)."""
    proc = subprocess.run(
        [str(TOP / ".venv" / "bin" / "python"), "-m", "ara.setup.callback_plugins"],
        capture_output=True,
        text=True,
        check=False,
    )
    callback = proc.stdout.strip()
    if proc.returncode != 0 or not callback:
        return {}
    return {
        "ANSIBLE_CALLBACK_PLUGINS": callback,
        "ANSIBLE_ACTION_PLUGINS": callback.removesuffix("callback") + "action",
        "ARA_API_CLIENT": "offline",
        "ARA_BASE_DIR": str(workdir / "ara"),
        "ARA_DATABASE_NAME": str(workdir / "ara" / "ansible.sqlite"),
    }
