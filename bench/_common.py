"""Small helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs, in seconds."""
    samples = []
    for _sample in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command quietly from the top of the repository."""
    return subprocess.run(argv, cwd=TOP, check=check, capture_output=True, text=True)


def report(what: str, ours: float, peer: float, peer_name: str, unit: str = "s") -> None:
    """Print one figure and its ratio to the peer."""
    print(
        f"{what}: {ours:.2f} {unit} | {peer_name}: {peer:.2f} {unit} | ratio ours/peer: {ours / peer:.2f}x", flush=True
    )
