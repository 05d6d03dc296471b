"""Where the read-only shared material (real third-party data, benchmark peers) is: ``shared/`` beside the checkout.

A checkout normally sits right next to it (``../shared``); a clone made a level
or two deeper (a CI workspace inside the same tree) finds it by looking up the
parents. ``DISTROFORGE_SHARED`` names it explicitly.
"""

from __future__ import annotations

import os
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """The shared directory (``../shared`` when none is found, so messages name where it was expected)."""
    if os.environ.get("DISTROFORGE_SHARED"):
        return Path(os.environ["DISTROFORGE_SHARED"])
    for parent in TOP.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared"
    return TOP.parent / "shared"


SHARED = shared_dir()
