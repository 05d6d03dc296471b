"""Where the DLRN benchmark harness is, and the peers bench/peers.py installs (tests and bench scripts share them).

The harness (workload generator, run script, mock stand-in) is in the shared
directory beside the checkout; the peer it runs, the real DLRN, is installed
by bench/peers.py from PyPI into build/bench-peers/dlrn, which the harness
takes as its BENCH_ROOT (:func:`harness_env`).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

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


def _load_peers() -> ModuleType:
    """bench/peers.py (bench/ is scripts, not a package)."""
    path = Path(__file__).resolve().parents[2] / "bench" / "peers.py"
    spec = importlib.util.spec_from_file_location("distroforge_bench_peers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


PEERS = _load_peers()


def harness_env(**extra: str) -> dict[str, str]:
    """The environment for the harness's scripts: its BENCH_ROOT is the DLRN peer's directory (made if needed)."""
    PEERS.ensure("dlrn")
    return {**os.environ, "BENCH_ROOT": str(PEERS.PEERS["dlrn"].home), **extra}


def ready_env(**extra: str) -> dict[str, str]:
    """:func:`harness_env` once the harness can run here: DLRN installed, its mock and spectool stand-ins in place.

    When they are not, it runs the harness's own idempotent setup.sh (root only: it installs the system tools
    and points /usr/bin/mock at its stand-in, refusing to replace a real mock); DISTROFORGE_DLRN_SETUP=0
    forbids that. RuntimeError says why the harness cannot run.
    """
    if not (HARNESS / "run_dlrn.sh").is_file():
        raise RuntimeError(f"DLRN harness {HARNESS} is not present")
    peer = PEERS.PEERS["dlrn"]
    mock = Path("/usr/bin/mock")
    standin = mock.exists() and b"DLRN-BENCH-MOCK-STANDIN" in mock.read_bytes()
    if peer.ready() and (peer.home / "bin" / "spectool").exists() and standin:
        return harness_env(**extra)
    if os.environ.get("DISTROFORGE_DLRN_SETUP", "1") == "0":
        raise RuntimeError("DLRN harness not set up and DISTROFORGE_DLRN_SETUP=0")
    if os.geteuid() != 0:
        raise RuntimeError("DLRN harness not set up; its setup.sh needs root")
    env = harness_env(**extra)
    proc = subprocess.run(
        ["bash", str(HARNESS / "setup.sh")], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"DLRN harness setup.sh failed (rc {proc.returncode}): {(proc.stdout + proc.stderr)[-500:]}")
    return env
