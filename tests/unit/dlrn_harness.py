"""Where the DLRN benchmark harness is (shared by the compatibility test and bench/bench_build.py)."""

from __future__ import annotations

import os
from pathlib import Path

from .shared_dir import SHARED

# The harness is in the shared directory beside the checkout; DISTROFORGE_DLRN_HARNESS points elsewhere.
HARNESS = next(
    (
        path
        for path in (
            Path(os.environ.get("DISTROFORGE_DLRN_HARNESS", "/nonexistent")),
            SHARED / "bench" / "dlrn",
        )
        if (path / "run_dlrn.sh").is_file()
    ),
    SHARED / "bench" / "dlrn",
)
