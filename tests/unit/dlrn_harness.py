"""Where the DLRN benchmark harness is (shared by the compatibility test and bench/bench_build.py)."""

from __future__ import annotations

import os
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]

# The harness sits beside the checkout (../shared); DISTROFORGE_DLRN_HARNESS points elsewhere.
HARNESS = next(
    (
        path
        for path in (
            Path(os.environ.get("DISTROFORGE_DLRN_HARNESS", "/nonexistent")),
            TOP.parent / "shared" / "bench" / "dlrn",
        )
        if (path / "run_dlrn.sh").is_file()
    ),
    TOP.parent / "shared" / "bench" / "dlrn",
)
