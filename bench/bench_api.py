"""The REST API on a state DB of 100,000 commits and 1,000,000 votes, against the real DLRN 0.26.1 API on the same data.

Ours: gunicorn (sync workers) over the state DB.  Peer: DLRN's own
``dlrn.api:app`` under gunicorn from its venv (build/bench-peers/dlrn, made
by bench/peers.py on first use), over a DLRN DB loaded from ours by dlrn_api_peer.py; the same number
of workers, the same client, one after the other on loopback.  Measured:
throughput and p99 latency of ``GET /api/repo_status``, ``GET
/api/last_tested_repo`` and ``POST /api/report_result`` with concurrent
clients.  DLRN checks the password of every write with passlib's
sha512_crypt at its default rounds (what ``dlrn-user create`` stores); it is
measured that way and again with a cheap hash (1,000 rounds), so the ratio
without password hashing is shown too.  Every answer must be a success, or
the figure is not printed.

    python bench/run.py api        (N=... WORKERS=... CLIENTS=... SECONDS=... to change the defaults)
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import TOP

sys.path.insert(0, str(TOP / ".venv" / "collections"))
sys.path.insert(0, str(TOP))

from ansible_collections.distroforge.openstack.plugins.module_utils._api import passwords
from ansible_collections.distroforge.openstack.plugins.module_utils._api.config import ApiConfig
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB
from tests.unit import api_peers

COMMITS = int(os.environ.get("N", "100000"))
VOTES = COMMITS * 10
WORKERS = int(os.environ.get("WORKERS", "2"))
CLIENTS = int(os.environ.get("CLIENTS", "4"))
SECONDS = float(os.environ.get("SECONDS", "8"))
JOBS = [f"periodic-job-{index:02d}" for index in range(20)]
USER, PASSWORD = "bench", "bench-password"
T0 = 1_700_000_000


def commit_hashes(index: int) -> tuple[str, str]:
    return hashlib.sha1(f"c{index}".encode()).hexdigest(), hashlib.sha1(f"d{index}".encode()).hexdigest()


def status(index: int) -> str:
    return "FAILED" if index % 20 == 0 else "SUCCESS"


def generate(path: Path) -> list[tuple[int, str, str]]:
    """The state DB: COMMITS commits of 1,000 projects (one in 20 FAILED), VOTES votes on the successful ones."""
    StateDB(path).close()  # schema, WAL
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO commits (id, project, release, commit_hash, distro_hash, dt_commit, dt_distgit, status,"
        " dt_queued, dt_build, artifacts) VALUES (?, ?, 'master', ?, ?, ?, ?, ?, ?, ?, '[]')",
        (
            (i, f"project-{i % 1000:04d}", *commit_hashes(i), T0 + i * 60, T0 + i * 60, status(i), T0 + i, T0 + i * 60)
            for i in range(1, COMMITS + 1)
        ),
    )
    successful = [(i, *commit_hashes(i)) for i in range(1, COMMITS + 1) if status(i) == "SUCCESS"]
    conn.executemany(
        "INSERT INTO votes (ref_hash, aggregate, commit_id, job_id, success, in_progress, url, notes, user, timestamp)"
        " VALUES (?, 0, ?, ?, ?, 0, ?, '', ?, ?)",
        (
            (
                f"{successful[v % len(successful)][1]}_{successful[v % len(successful)][2][:8]}",
                successful[v % len(successful)][0],
                JOBS[v % len(JOBS)],
                int(v % 7 != 0),
                f"https://ci.example/{v}",
                USER,
                T0 + v * 3,
            )
            for v in range(VOTES)
        ),
    )
    conn.execute(
        "INSERT INTO users (username, password, dt_updated) VALUES (?, ?, 1)", (USER, passwords.hash_password(PASSWORD))
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return successful


def load(url: str, method: str, make, seconds: float, clients: int) -> tuple[float, float, int, str]:
    """Throughput (req/s) and p99 (ms) of ``clients`` threads sending ``make()`` requests for ``seconds``."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            path, body, headers = make(rng)
            started = time.perf_counter()
            connection = http.client.HTTPConnection(host, int(port), timeout=120)
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                status = response.status
            finally:
                connection.close()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if status not in (200, 201):
                    errors.append(f"{status} {data[:200]!r}")

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else latencies[0]
    return len(latencies) / wall, p99 * 1000, len(latencies), errors[0] if errors else ""


def workloads(successful: list[tuple[int, str, str]]) -> dict:
    auth = {
        "Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
        "Content-Type": "application/json",
    }

    def repo_status(rng):
        _id, commit, distro = rng.choice(successful)
        return f"/api/repo_status?commit_hash={commit}&distro_hash={distro}", None, {}

    def last_tested_repo(rng):
        return f"/api/last_tested_repo?max_age=0&job_id={rng.choice(JOBS)}", None, {}

    def report_result(rng):
        _id, commit, distro = rng.choice(successful)
        body = {
            "job_id": "bench-report",
            "commit_hash": commit,
            "distro_hash": distro,
            "url": "https://ci.example/bench",
            "timestamp": T0 + rng.randrange(10**8),
            "success": "true",
        }
        return "/api/report_result", json.dumps(body), auth

    return {
        "repo_status": ("GET", repo_status),
        "last_tested_repo": ("GET", last_tested_repo),
        "report_result": ("POST", report_result),
    }


def cheap_dlrn_password(db_file: str) -> None:
    """Give DLRN's user a sha512_crypt hash of 1,000 rounds (its default is 656,000)."""
    code = f"from passlib.hash import sha512_crypt; print(sha512_crypt.using(rounds=1000).hash({PASSWORD!r}))"
    hashed = subprocess.run(
        [str(api_peers.dlrn_python()), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    conn = sqlite3.connect(db_file)
    conn.execute("UPDATE users SET password = ? WHERE username = ?", (hashed, USER))
    conn.commit()
    conn.close()


def measure(name: str, server_url: str, work: dict, only: tuple[str, ...] = ()) -> dict:
    figures = {}
    for what, (method, make) in work.items():
        if only and what not in only:
            continue
        load(server_url, method, make, 1.0, CLIENTS)  # warm-up: caches, logins, page cache
        rate, p99, count, error = load(server_url, method, make, SECONDS, CLIENTS)
        if error:
            print(f"{name} {what}: {count} requests, FAILED: {error}", flush=True)
            continue
        figures[what] = (rate, p99)
        print(f"{name} {what}: {rate:.1f} req/s, p99 {p99:.1f} ms ({count} requests)", flush=True)
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-api-", dir=TOP / "build") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        successful = generate(work / "state.db")
        print(f"state DB: {COMMITS} commits, {VOTES} votes in {time.perf_counter() - started:.1f} s", flush=True)
        config = ApiConfig(db=work / "state.db", repos_dir=work / "repos", baseurl="http://bench.example/repos")
        (work / "repos").mkdir()
        started = time.perf_counter()
        try:
            loaded = api_peers.load_dlrn(work / "state.db", work / "dlrn", config.baseurl, USER, PASSWORD)
        except (subprocess.CalledProcessError, AssertionError) as exc:
            print(f"(DLRN peer skipped: {exc})")
            loaded = None
        else:
            print(f"DLRN DB loaded from it in {time.perf_counter() - started:.1f} s", flush=True)
        work_items = workloads(successful)
        print(f"{WORKERS} gunicorn workers each, {CLIENTS} concurrent clients, {SECONDS:.0f} s per figure", flush=True)
        with api_peers.ours(config, work / "ours", WORKERS) as server:
            mine = measure("ours", server.url, work_items)
        if loaded is None:
            return
        with api_peers.dlrn(loaded, work / "dlrn", WORKERS) as server:
            theirs = measure("DLRN 0.26.1", server.url, work_items)
        cheap_dlrn_password(loaded["db"])
        with api_peers.dlrn(loaded, work / "dlrn", WORKERS) as server:
            cheap = measure("DLRN 0.26.1 (1,000-round password hash)", server.url, work_items, ("report_result",))
        for what, (rate, p99) in mine.items():
            for label, peer in (("DLRN 0.26.1", theirs), ("DLRN 0.26.1, cheap password hash", cheap)):
                if what in peer:
                    peer_rate, peer_p99 = peer[what]
                    print(
                        f"{what}: ours {rate:.1f} req/s p99 {p99:.1f} ms | {label}: {peer_rate:.1f} req/s"
                        f" p99 {peer_p99:.1f} ms | throughput ratio ours/peer: {rate / peer_rate:.1f}x,"
                        f" p99 ratio peer/ours: {peer_p99 / p99:.1f}x",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
