"""The engine's map holds: each package's __init__ says what it may import, and it imports nothing else."""

import ast
import re
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
ENGINE = TOP / "plugins" / "module_utils"
PACKAGES = sorted(path.parent.name for path in ENGINE.glob("_*/__init__.py"))
# The one adapter to Ansible in _common opens the state DB for the modules.
EXCEPTIONS = {("_common", "module.py"): {"_statedb"}}


def allowed(package: str) -> set[str]:
    """Engine packages (or ``package.module``) named in the ``May import`` paragraph of its docstring."""
    doc = ast.get_docstring(ast.parse((ENGINE / package / "__init__.py").read_text())) or ""
    match = re.search(r"May import(.*?)(?:\n\s*\n|\Z)", doc, re.S)
    assert match, (
        f"{package}/__init__.py: its docstring must say what it owns and what it may import ('May import: ...')"
    )
    return set(re.findall(r"(_[a-z]+(?:\.[a-z_]+)?)", match.group(1)))


def engine_imports(path: Path, package: str) -> set[str]:
    """``_pkg`` or ``_pkg.module`` for every engine import of ``path`` outside its own package."""
    depth = len(path.relative_to(ENGINE / package).parts)  # 1: a module of the package, 2: of a subpackage
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = node.module or ""
        if "plugins.module_utils." in module:
            parts = module.split("plugins.module_utils.", 1)[1].split(".")
        elif node.level > depth:  # leaves the package: relative to module_utils
            parts = module.split(".") if module else [alias.name for alias in node.names][:1]
        else:
            continue
        if parts and parts[0] != package:
            found.add(".".join(parts[:2]))
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_what_its_map_allows(package):
    permitted = allowed(package)
    wrong = {}
    for path in (ENGINE / package).rglob("*.py"):
        extra = EXCEPTIONS.get((package, path.name), set())
        for target in engine_imports(path, package):
            if target in permitted or target.split(".")[0] in permitted | extra:
                continue
            wrong.setdefault(str(path.relative_to(ENGINE)), []).append(target)
    assert not wrong, f"imports outside {package}'s map (its __init__ docstring): {wrong}"


def test_the_map_finds_imports():
    """The checker itself: a relative import out of the package is seen."""
    assert "_common.errors" in engine_imports(ENGINE / "_statedb" / "db.py", "_statedb")
