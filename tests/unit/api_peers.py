"""Our API and the real DLRN 0.26.1 API side by side, each under gunicorn on loopback (tests and bench/bench_api.py).

DLRN runs from the venv bench/peers.py makes under build/bench-peers (from
PyPI, pinned, on first use), over its own DB loaded from our state DB by
bench/dlrn_api_peer.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from ansible_collections.distroforge.openstack.plugins.module_utils._api.config import ApiConfig

from .dlrn_harness import PEERS

TOP = Path(__file__).resolve().parents[2]
PEER = TOP / "bench" / "dlrn_api_peer.py"


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dlrn_python() -> Path:
    """DLRN 0.26.1's venv python (bench/peers.py makes the venv, about a minute, once)."""
    return PEERS.python("dlrn")


def load_dlrn(state_db: Path, work: Path, baseurl: str, user: str, password: str, *, rounds: int | None = None) -> dict:
    """DLRN's DB and settings from our state DB; what the peer script printed."""
    work.mkdir(parents=True, exist_ok=True)
    args = [str(dlrn_python()), str(PEER), str(state_db), str(work), baseurl, user, password]
    if rounds:
        args.append(str(rounds))
    proc = subprocess.run(args, capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Server:
    """A gunicorn master on a loopback port, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.argv, self.env, self.port, self.log = argv, env, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/health", timeout=5) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"{self.argv} did not answer in 60 s: {self.log.read_text()[-2000:]}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def ours(config: ApiConfig, work: Path, workers: int) -> Server:
    """Our API under gunicorn (sync workers), from the working tree."""
    work.mkdir(parents=True, exist_ok=True)
    settings = work / "api.json"
    settings.write_text(
        json.dumps(
            {
                "db": str(config.db),
                "repos_dir": str(config.repos_dir),
                "baseurl": config.baseurl,
                "use_components": config.use_components,
                "target": config.target,
            }
        )
    )
    port = free_port()
    app = f'ansible_collections.distroforge.openstack.plugins.module_utils._api.wsgi:create_app("{settings}")'
    argv = [
        str(TOP / ".venv" / "bin" / "gunicorn"),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--no-control-socket",
        "--pythonpath",
        str(TOP / ".venv" / "collections"),
        app,
    ]
    return Server(argv, dict(os.environ), port, work / "gunicorn.log")


def dlrn(loaded: dict, work: Path, workers: int) -> Server:
    """DLRN 0.26.1's API (``dlrn.api:app``) under gunicorn from its venv, same worker count."""
    port = free_port()
    argv = [
        str(PEERS.program("dlrn", "gunicorn")),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--no-control-socket",
        "--chdir",
        str(work),
        "dlrn.api:app",
    ]
    env = {**os.environ, "CONFIG_FILE": loaded["settings"]}
    return Server(argv, env, port, work / "gunicorn.log")
