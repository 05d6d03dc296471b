"""The engine's map holds: each package's __init__ (each top-level module's docstring) says what it may import,
and it imports nothing else."""

import ast
import re
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
ENGINE = TOP / "plugins" / "module_utils"
PACKAGES = sorted(path.parent.name for path in ENGINE.glob("_*/__init__.py"))
# A module straight under module_utils (_reproduce.py) is a layer of its own; its docstring holds its map.
MODULES = sorted(path.stem for path in ENGINE.glob("_*.py"))
# The one adapter to Ansible in _common opens the state DB for the modules.
EXCEPTIONS = {("_common", "module.py"): {"_statedb"}}


def map_file(unit: str) -> Path:
    """The file whose docstring holds ``unit``'s map: a package's __init__.py, or the top-level module itself."""
    return ENGINE / unit / "__init__.py" if (ENGINE / unit).is_dir() else ENGINE / f"{unit}.py"


def unit_files(unit: str) -> list[Path]:
    return sorted((ENGINE / unit).rglob("*.py")) if (ENGINE / unit).is_dir() else [ENGINE / f"{unit}.py"]


def allowed(unit: str) -> set[str]:
    """Engine packages (or ``package.module``) named in the ``May import`` paragraph of its docstring."""
    path = map_file(unit)
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    match = re.search(r"May import(.*?)(?:\n\s*\n|\Z)", doc, re.S)
    assert match, (
        f"{path.relative_to(ENGINE)}: its docstring must say what it owns and what it may import ('May import: ...')"
    )
    return set(re.findall(r"(_[a-z]+(?:\.[a-z_]+)?)", match.group(1)))


def engine_imports(path: Path, unit: str) -> set[str]:
    """``_pkg`` or ``_pkg.module`` for every engine import of ``path`` outside its own package (or module)."""
    # how many dots leave the unit: 0 for a top-level module, 1 for a module of a package, 2 of a subpackage
    depth = len(path.relative_to(ENGINE / unit).parts) if (ENGINE / unit).is_dir() else 0
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = node.module or ""
        if "plugins.module_utils." in module:
            parts = module.split("plugins.module_utils.", 1)[1].split(".")
        elif node.level > depth:  # leaves the unit: relative to module_utils
            parts = module.split(".") if module else [alias.name for alias in node.names][:1]
        else:
            continue
        if parts and parts[0] != unit:
            found.add(".".join(parts[:2]))
    return found


@pytest.mark.parametrize("unit", PACKAGES + MODULES)
def test_a_package_imports_only_what_its_map_allows(unit):
    permitted = allowed(unit)
    wrong = {}
    for path in unit_files(unit):
        extra = EXCEPTIONS.get((unit, path.name), set())
        for target in engine_imports(path, unit):
            if target in permitted or target.split(".")[0] in permitted | extra:
                continue
            wrong.setdefault(str(path.relative_to(ENGINE)), []).append(target)
    assert not wrong, f"imports outside {unit}'s map (the docstring of {map_file(unit).relative_to(ENGINE)}): {wrong}"


def test_the_map_finds_imports():
    """The checker itself: a relative import out of the package is seen."""
    assert "_common.errors" in engine_imports(ENGINE / "_statedb" / "db.py", "_statedb")
    assert {"_build", "_runs.manifest"} <= engine_imports(ENGINE / "_reproduce.py", "_reproduce")


def test_top_level_modules_are_mapped():
    """A module straight under module_utils is checked like a package, not left out of the map."""
    assert "_reproduce" in MODULES
