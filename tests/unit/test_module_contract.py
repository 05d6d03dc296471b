"""House rules every module keeps, read from its source: check mode as documented, state DB options in one place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from .ansible_run import TOP

MODULE_FILES = sorted(path for path in (TOP / "plugins" / "modules").glob("*.py") if path.stem != "__init__")
FRAGMENT = "distroforge.openstack.state_db"
# Modules still to move to the shared state DB options (none now; kept for the next one changed elsewhere).
PENDING_STATE_DB: set[str] = set()


class ModuleSource:
    """A module's DOCUMENTATION and how it builds its DistroforgeModule."""

    def __init__(self, path: Path) -> None:
        self.name = path.stem
        self.text = path.read_text(encoding="utf-8")
        tree = ast.parse(self.text)
        doc = next(
            node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DOCUMENTATION"
        )
        self.doc = yaml.safe_load(doc)
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("DistroforgeModule", "AnsibleModule")
        ]
        assert len(calls) == 1, f"{self.name}: expected one DistroforgeModule(...) call, found {len(calls)}"
        self.keywords = {kw.arg: kw.value for kw in calls[0].keywords}
        spec = self.keywords.get("argument_spec")
        # ``**SHARED_OPTIONS`` entries have no key
        self.spec_names = {key.value for key in spec.keys if key is not None} if isinstance(spec, ast.Dict) else set()

    def flag(self, name: str) -> bool:
        value = self.keywords.get(name)
        return isinstance(value, ast.Constant) and value.value is True

    @property
    def fragments(self) -> list[str]:
        value = self.doc.get("extends_documentation_fragment") or []
        return [value] if isinstance(value, str) else value

    @property
    def uses_state_db(self) -> bool:
        return (
            "db" in (self.doc.get("options") or {})
            or "db" in self.spec_names
            or FRAGMENT in self.fragments
            or self.flag("state_db")
            or "StateDB(" in self.text
        )


SOURCES = [ModuleSource(path) for path in MODULE_FILES]


@pytest.mark.parametrize("module", SOURCES, ids=[m.name for m in SOURCES])
def test_documented_check_mode_matches_supports_check_mode(module):
    support = module.doc["attributes"]["check_mode"]["support"]
    assert support in ("full", "partial", "none")
    assert module.flag("supports_check_mode") == (support != "none"), (
        f"{module.name}: DOCUMENTATION says check_mode support {support}, "
        f"the code says supports_check_mode={module.flag('supports_check_mode')}"
    )


def _state_db_cases():
    for module in SOURCES:
        if not module.uses_state_db:
            continue
        marks = [pytest.mark.xfail(reason="not moved yet", strict=True)] if module.name in PENDING_STATE_DB else []
        yield pytest.param(module, marks=marks, id=module.name)


@pytest.mark.parametrize("module", list(_state_db_cases()))
def test_state_db_users_take_the_shared_options_and_open_it_through_the_module(module):
    assert FRAGMENT in module.fragments, f"{module.name}: add extends_documentation_fragment: {FRAGMENT}"
    assert module.flag("state_db"), f"{module.name}: pass state_db=True to DistroforgeModule"
    assert not {"db", "busy_timeout"} & (set(module.doc.get("options") or {}) | module.spec_names), (
        f"{module.name}: db and busy_timeout come from the doc fragment and STATE_DB_OPTIONS"
    )
    # module.state_db() opens it read-only in check mode, with the task's timeouts.
    assert "StateDB(" not in module.text, f"{module.name}: open the state DB with module.state_db()"


def test_the_state_db_users_are_the_expected_ones():
    """A module that stops (or starts) using the state DB is noticed here."""
    users = sorted(module.name for module in SOURCES if module.uses_state_db)
    assert set(users) >= {
        "api_user",
        "build_queue",
        "build_record",
        "build_status",
        "ci_vote",
        "repo_promote",
        "repo_publish",
        "repo_purge",
        "source_poll",
    }
