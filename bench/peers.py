"""The benchmark peers, installed from PyPI into venvs of their own under build/bench-peers.

- ``dlrn``: DLRN 0.26.1 built from its sdist, with the exact set of
  dependencies it was measured with, and gunicorn to serve its API
  (bench/bench_build.py, bench_publish.py, bench_api.py and the side-by-side
  tests run it).
- ``subunit2junitxml``: python-subunit with junitxml (bench/bench_tempest_results.py).

Each peer's pins are in bench/peer-pins/<peer>.txt.  A venv is made once
(about a minute for DLRN) and reused while its pins are the same: a stamp
file in it holds what it was made from; an interrupted install leaves no
stamp and is made again.  A lock keeps two runs from making one venv at the
same time.  Only PyPI is asked.

    python bench/peers.py                 # make every peer's venv, print where they are
    python bench/peers.py dlrn            # one
    python bench/peers.py --check         # say which are ready, install nothing
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("DISTROFORGE_BENCH_PEERS", TOP / "build" / "bench-peers"))
PINS = Path(__file__).resolve().parent / "peer-pins"
# The peers run on the system's Python, as a user of DLRN on Debian 12 would run them.
SYSTEM_PYTHON = "/usr/bin/python3"


@dataclass(frozen=True)
class Peer:
    """A peer: what to install (pinned by its constraints file) and a program that proves it is there."""

    name: str
    requirements: tuple[str, ...]
    program: str
    # Built from the sdist even if a wheel appears on PyPI one day: what the measured peer was.
    no_binary: tuple[str, ...] = ()

    @property
    def pins(self) -> Path:
        return PINS / f"{self.name}.txt"

    @property
    def home(self) -> Path:
        """The peer's directory (the DLRN harness's BENCH_ROOT: the venv is its ``venv``)."""
        return ROOT / self.name

    @property
    def venv(self) -> Path:
        return self.home / "venv"

    def stamp(self) -> str:
        """What the venv is made from: requirements, pins and the Python that runs it."""
        digest = hashlib.sha256()
        digest.update("\n".join(self.requirements + self.no_binary).encode())
        digest.update(self.pins.read_bytes())
        digest.update(os.path.realpath(SYSTEM_PYTHON).encode())
        return digest.hexdigest()

    def ready(self) -> bool:
        stamp = self.venv / ".distroforge-peer"
        return (
            stamp.is_file()
            and stamp.read_text().strip() == self.stamp()
            and (self.venv / "bin" / self.program).exists()
        )


PEERS = {
    peer.name: peer
    for peer in (
        Peer("dlrn", ("DLRN==0.26.1", "gunicorn==27.0.1"), "dlrn", no_binary=("DLRN",)),
        Peer("subunit2junitxml", ("python-subunit==1.4.6", "junitxml==0.7"), "subunit2junitxml"),
    )
}


def ensure(name: str, *, quiet: bool = True) -> Path:
    """The venv of peer ``name``, made from PyPI first if it is missing or its pins changed."""
    peer = PEERS[name]
    if peer.ready():
        return peer.venv
    peer.home.mkdir(parents=True, exist_ok=True)
    with open(peer.home / ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if peer.ready():  # made by another run while this one waited
            return peer.venv
        if not quiet:
            print(f"[peers] making {peer.venv} from PyPI ({', '.join(peer.requirements)})", flush=True)
        shutil.rmtree(peer.venv, ignore_errors=True)
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(peer.venv)], check=True)
        pip = [str(peer.venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        for package in peer.no_binary:
            pip += ["--no-binary", package]
        proc = subprocess.run(
            [*pip, "-c", str(peer.pins), *peer.requirements], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            raise RuntimeError(f"peer {name}: pip install failed (rc {proc.returncode}): " + " | ".join(tail))
        (peer.venv / ".distroforge-peer").write_text(peer.stamp() + "\n")
    return peer.venv


def python(name: str) -> Path:
    """The Python of peer ``name``'s venv (made if needed)."""
    return ensure(name) / "bin" / "python"


def program(name: str, program_name: str | None = None) -> Path:
    """A program of peer ``name``'s venv (its own program by default; made if needed)."""
    return ensure(name) / "bin" / (program_name or PEERS[name].program)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peers", nargs="*", choices=[[], *PEERS], help="peers to make (default: all)")
    parser.add_argument("--check", action="store_true", help="say which peers are ready; install nothing")
    args = parser.parse_args(argv)
    names = args.peers or list(PEERS)
    missing = 0
    for name in names:
        peer = PEERS[name]
        if args.check:
            state = "ready" if peer.ready() else "missing (python bench/peers.py makes it)"
            missing += not peer.ready()
            print(f"{name}: {peer.venv}: {state}")
            continue
        print(f"{name}: {ensure(name, quiet=False)}", flush=True)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
