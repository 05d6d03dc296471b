"""repo_closure against the real base: Debian bookworm main's Packages index from the Debian mirror.

Slow lane: dose-debcheck reads the ~63,000 packages of bookworm main (about
15 s here). The index is downloaded once into ~/.cache/distroforge/base-indexes
by the module itself and used from there on later runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from unit.ansible_run import run_playbook  # tests/ is on the path: the slow lane reuses the unit helpers
from unit.test_repo_closure import deb

from ansible_collections.distroforge.openstack.plugins.module_utils._publish import debrepo

BOOKWORM_MAIN = "http://deb.debian.org/debian/dists/bookworm/main/binary-amd64/Packages.xz"
CACHE = Path.home() / ".cache" / "distroforge" / "base-indexes"


def test_a_repo_for_bookworm_is_checked_against_bookworm_main(tmp_path):
    repos = {}
    packages = {
        "closed": [
            ("python3-keystone", "2:22.0.3-1", "python3 (>= 3.11), python3-oslo.config (>= 1:9.0.0), python3-bcrypt"),
            ("keystone", "2:22.0.3-1", "python3-keystone (= 2:22.0.3-1), apache2 | httpd, adduser"),
        ],
        "broken": [("python3-keystone", "2:22.0.3-1", "python3-oslo.config (>= 1:99), python3-bcrypt")],
    }
    for name, entries in packages.items():
        repo = repos[name] = tmp_path / name
        repo.mkdir()
        for entry in entries:
            deb(tmp_path / "work" / name, *entry).rename(repo / f"{entry[0]}_{entry[1]}_all.deb")
        debrepo.write_deb_metadata(repo, origin="distroforge", label="distroforge", suite="zed")
    tasks = [
        {
            "name": f"Check {name}",
            "distroforge.openstack.repo_closure": {
                "path": str(repo), "base_index_urls": [BOOKWORM_MAIN], "cache_dir": str(CACHE),
            },
            "register": name,
            "ignore_errors": True,
        }
        for name, repo in repos.items()
    ]  # fmt: skip
    tasks.append(
        {"name": "Save", "ansible.builtin.copy": {"content": "{{ [closed, broken] | to_json }}",
                                                  "dest": str(tmp_path / "out.json")}}
    )  # fmt: skip
    playbook = tmp_path / "closure.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    run_playbook(playbook, {}, timeout=600)
    closed, broken = json.loads((tmp_path / "out.json").read_text())
    assert not closed.get("failed") and closed["checked"] == 2, closed
    assert closed["base_indexes"][0].startswith(str(CACHE)), closed["base_indexes"]
    assert broken["failed"] and "\n" not in broken["msg"]
    assert "python3-keystone 2:22.0.3-1 needs python3-oslo.config (>= 1:99)" in broken["msg"], broken["msg"]
