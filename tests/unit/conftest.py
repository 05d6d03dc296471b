"""Make the working tree importable as ``ansible_collections.distroforge.openstack``."""

import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
COLLECTIONS = TOP / ".venv" / "collections"
if not (COLLECTIONS / "ansible_collections" / "distroforge" / "openstack").exists():
    raise SystemExit("tests/unit: run `make` first; it links the collection into .venv/collections")
sys.path.insert(0, str(COLLECTIONS))
