"""The slow lane (``make slow``): tests too long for every landing. Imports the collection as tests/unit does."""

import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
COLLECTIONS = TOP / ".venv" / "collections"
if not (COLLECTIONS / "ansible_collections" / "distroforge" / "openstack").exists():
    raise SystemExit("tests/slow: run `make` first; it links the collection into .venv/collections")
sys.path.insert(0, str(COLLECTIONS))
