"""House rules every role must keep; each failure names the role and the fix."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (TOP / "roles").iterdir() if p.is_dir())


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_has_an_argument_spec_and_prefixed_defaults(role):
    spec_file = role / "meta" / "argument_specs.yml"
    assert spec_file.exists(), f"{role.name}: add meta/argument_specs.yml"
    options = yaml.safe_load(spec_file.read_text())["argument_specs"]["main"].get("options", {})
    defaults_file = role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) or {} if defaults_file.exists() else {}
    for name, value in defaults.items():
        assert name.startswith(f"{role.name}_"), f"{role.name}: default {name} must start with {role.name}_"
        assert name in options, f"{role.name}: default {name} is missing from meta/argument_specs.yml"
        if "default" in options[name]:
            assert options[name]["default"] == value, f"{role.name}: {name} default differs between spec and defaults"
    for name, option in options.items():
        if "default" in option:
            assert name in defaults, f"{role.name}: {name} has a spec default but none in defaults/main.yml"


def test_role_readmes_match_their_argument_specs():
    proc = subprocess.run(
        [sys.executable, str(TOP / "tools" / "role_readme.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_role_readme_tool_detects_drift(tmp_path):
    role = tmp_path / "roles" / "demo_thing"
    (role / "meta").mkdir(parents=True)
    (role / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    short_description: Demo.\n    options:\n"
        "      demo_thing_size:\n        type: int\n        default: 3\n        description: How many.\n"
    )
    tool = [sys.executable, str(TOP / "tools" / "role_readme.py"), "--roles", str(tmp_path / "roles")]
    assert subprocess.run([*tool, "--check"], capture_output=True, check=False).returncode == 1
    assert subprocess.run(tool, check=False).returncode == 0
    readme = (role / "README.md").read_text()
    assert "| `demo_thing_size` | int | `3` | How many. |" in readme
    assert subprocess.run([*tool, "--check"], check=False).returncode == 0
    (role / "meta" / "argument_specs.yml").write_text(
        (role / "meta" / "argument_specs.yml").read_text().replace("default: 3", "default: 4")
    )
    assert subprocess.run([*tool, "--check"], capture_output=True, check=False).returncode == 1
