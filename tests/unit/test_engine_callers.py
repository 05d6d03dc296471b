"""Every function and method of the engine (plugins/module_utils) has a caller outside the tests.

Code only tests call is code nobody runs: it drifts from what the product does while its tests keep passing.
A name counts as used when a Python file outside tests/ and docs/ names it (a call, an attribute, an import, a
table entry) or another tracked file (a role, a playbook, a template) holds it as a word. What only tests call
on purpose is listed in TESTED_ONLY with why.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
ENGINE = TOP / "plugins" / "module_utils"
NOT_CALLERS = ("tests/", "docs/", "changelogs/")

# "<file under module_utils>:<function or Class.method>" (a class name alone: all its methods) -> why only tests
# (or a library, or a lookup by name) reach it.
TESTED_ONLY = {
    "_build/deps.py:spec_relations_fallback": "spec_relations' path without rpm's bindings, held equal to rpm's",
    "_release/pkgfiles.py:spec_dependencies_minimal": "spec_dependencies' path without rpm's bindings, held to rpmspec",
    "_tempest/subunit_parse.py:fold_events": "the plain fold the one-pass fold is proven equal to",
    "_runs/manifest.py:json_schema": "the manifest's JSON Schema for users (docs/run_manifest.md), held to the reader",
    "_runs/manifest.py:_Reader": "its _<kind> checks are looked up by name (getattr)",
    "_pkgdb/loader.py:_TrackingFetcher.get_file_data": "distroinfo calls it: an override of its fetcher",
}


def tracked(prefix: str = "") -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z", "--", prefix or "."], cwd=TOP, capture_output=True, check=True)
    return [TOP / name for name in listed.stdout.decode().split("\0") if name and (TOP / name).is_file()]


def names_used(paths: list[Path]) -> set[str]:
    """Identifiers Python files name (not their comments or docstrings) and words of the other text files."""
    used: set[str] = set()
    for path in paths:
        if path.suffix == ".py":
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Name):
                    used.add(node.id)
                elif isinstance(node, ast.Attribute):
                    used.add(node.attr)
                elif isinstance(node, ast.alias):
                    used.add(node.name.rsplit(".", 1)[-1])
        else:
            data = path.read_bytes()
            if b"\0" not in data:
                used |= set(re.findall(r"\w+", data.decode(errors="replace")))
    return used


def definitions(path: Path) -> list[str]:
    """Module-level functions and the methods (not dunders) of module-level classes, as ``f`` or ``Class.m``."""
    found = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(node.name)
        elif isinstance(node, ast.ClassDef):
            found += [
                f"{node.name}.{item.name}"
                for item in node.body
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("__")
            ]
    return found


def uncalled() -> dict[str, str]:
    """``file:name`` -> name for every engine definition nothing outside the tests names."""
    used = names_used([path for path in tracked() if not str(path.relative_to(TOP)).startswith(NOT_CALLERS)])
    return {
        f"{path.relative_to(ENGINE)}:{name}": name
        for path in sorted(ENGINE.rglob("*.py"))
        for name in definitions(path)
        if name.rsplit(".", 1)[-1] not in used
    }


def test_every_engine_function_has_a_caller_outside_the_tests():
    found = uncalled()
    # a method is covered by its own entry or by its class's
    entries = {
        key: key if key in TESTED_ONLY else key.split(":")[0] + ":" + name.split(".")[0] for key, name in found.items()
    }
    unlisted = sorted(key for key, entry in entries.items() if entry not in TESTED_ONLY)
    assert not unlisted, (
        "engine code only tests call (remove it with its tests, or list it in TESTED_ONLY of "
        f"tests/unit/test_engine_callers.py with why): {unlisted}"
    )
    stale = sorted(set(TESTED_ONLY) - set(entries.values()))
    assert not stale, f"TESTED_ONLY lists code that is gone or now has a caller: drop {stale}"


def test_the_scan_sees_calls_and_not_prose(tmp_path):
    caller = tmp_path / "caller.py"
    caller.write_text('"""Mentions unused_function in prose only."""\nfrom x import imported\nobj.method_a()\n')
    yaml = tmp_path / "role.yml"
    yaml.write_text('filter: "{{ value | in_a_template }}"\n')
    used = names_used([caller, yaml])
    assert {"imported", "method_a", "in_a_template"} <= used
    assert "unused_function" not in used
