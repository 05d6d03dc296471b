"""No tracked file names a path of the machine it was written on: the tree works wherever it is cloned.

A development machine's paths (its checkout, a home directory, root's home) leak in through a pasted
command or an example run. Paths on the nodes the collection manages are part of the product; they are listed in
ALLOWED with why.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
SCANNED = ["plugins", "roles", "playbooks", "tests", "bench", "docs", "tools", "examples", "Makefile", "README.md"]

# An absolute path starts the word: a path after a directory name, a template, a make variable or a <placeholder>
# is relative to something (test_the_scan_finds_what_it_is_for spells them).
MACHINE_PATH = re.compile(r"(?<![\w.})>$\]-])/(?:work\b|home/[\w.-]+|root/)[^\s'\"`),]*")

# Path prefixes that name a managed node, a container or a made-up example, never a development machine.
ALLOWED = {
    "/root/openrc": "the admin credentials Puppet writes on a deployed node (deploy_puppet, tempest, logs)",
    "/root/.ssh": "root's keys on a node: vm_image's first boot, Packstack's answer file",
    "/root/debs": "a directory inside the example distro's throwaway check container",
    "/home/me/": "the documented example of a reproduce URL rewrite",
    "/home/u/": "a made-up path in an error message test",
}


def machine_paths(text: str) -> list[str]:
    """Every absolute path in ``text`` under the work, home or root directories that ALLOWED does not cover."""
    return [found for found in MACHINE_PATH.findall(text) if not found.startswith(tuple(ALLOWED))]


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *SCANNED], cwd=TOP, capture_output=True, check=True
    ).stdout.decode()
    return [TOP / name for name in listed.split("\0") if name]


def test_no_tracked_file_names_a_development_machine_path():
    found = []
    for path in tracked_files():
        if not path.is_file():  # deleted in the work tree, not yet in the index
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        for number, line in enumerate(data.decode(errors="replace").splitlines(), 1):
            found += [f"{path.relative_to(TOP)}:{number}: {hit}" for hit in machine_paths(line)]
    assert not found, (
        "paths of a development machine in tracked files (make them relative, use a variable or a made-up "
        "example, or list a node path in ALLOWED of tests/unit/test_portable_tree.py with why):\n" + "\n".join(found)
    )


def test_the_scan_finds_what_it_is_for():
    # spelled in pieces so this file does not match itself
    work, home, root = "/" + "work", "/" + "home", "/" + "root"
    assert machine_paths(f"cd {work}/main && make") == [f"{work}/main"]
    assert machine_paths(f"see {work}") == [work]
    assert machine_paths(f"file://{home}/alice/src/x.git") == [f"{home}/alice/src/x.git"]
    assert machine_paths(f'"{root}/.cache/pip"') == [f"{root}/.cache/pip"]
    assert machine_paths(f"{home}/me/example {root}/openrc {root}/.ssh/authorized_keys") == []
    assert machine_paths(f"build{work}/x {{{{ dir }}}}{root}/y $(TOP){work} /build/deps{root}/usr HOME={root}") == []
    assert machine_paths(f"recorded in <target>{work}/ara/ansible.sqlite") == []


def test_every_allowed_path_is_still_used():
    text = "\n".join(p.read_text(errors="replace") for p in tracked_files() if p.is_file() and p != Path(__file__))
    assert not [prefix for prefix in ALLOWED if prefix not in text], "drop allowed paths nothing uses any more"
