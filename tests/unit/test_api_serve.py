"""api_serve + repo_serve: the real gunicorn service behind nginx on loopback, driven by the real dlrnapi CLI."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB

from .ansible_run import TOP, changed_tasks, run_roles_json
from .apisite import basic
from .pkgfactory import add_build

DLRNAPI = TOP / ".venv" / "bin" / "dlrnapi"
PASSWORD = "ci-secret-9c1e"
pytestmark = pytest.mark.skipif(not Path("/usr/sbin/nginx").exists(), reason="needs Debian's nginx (run `make`)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def play(tmp_path: Path, role_vars: dict) -> dict:
    """Run api_serve then repo_serve; the play's stats, with the names of the tasks that changed."""
    result, proc = run_roles_json(tmp_path, ["api_serve", "repo_serve"], role_vars)
    assert PASSWORD not in proc.stdout + proc.stderr
    return {**result["stats"]["localhost"], "changed_tasks": changed_tasks(result)}


def dlrnapi(url: str, *args: str, password: str = PASSWORD) -> tuple[int, object]:
    """The real client; its exit code and its JSON output (or its error text)."""
    proc = subprocess.run(
        [str(DLRNAPI), "--url", url, "--username", "ci", "--password", password, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if proc.returncode == 0:
        return 0, json.loads(proc.stdout)
    return proc.returncode, proc.stdout + proc.stderr


def http(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get_content_type(), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get_content_type(), exc.read().decode()


@pytest.fixture
def served_dir():
    """World-readable: nginx's unprivileged workers reach the API's socket and the repos through it."""
    path = Path(tempfile.mkdtemp(prefix="df-api-serve-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def published(root: Path, db: StateDB, project: str, seq: int, component: str):
    record = add_build(db, project, seq, component=component)
    directory = root / "repos" / "component" / component / record.repo_path
    directory.mkdir(parents=True)
    (directory / "delorean.repo").write_text(f"[delorean-component-{component}]\nbaseurl=http://x/{record.repo_path}\n")
    return record


def test_role_serves_the_api_behind_nginx_for_the_dlrnapi_client(tmp_path, served_dir):
    root = served_dir / "data"
    (root / "repos").mkdir(parents=True)
    db = StateDB(root / "state.db")
    compute = published(root, db, "nova", 0, "compute")
    tooling = published(root, db, "tempest", 1, "tooling")
    db.close()
    port = free_port()
    state = served_dir / "api"
    url = f"http://127.0.0.1:{port}"
    role_vars = {
        "api_serve_db": str(root / "state.db"),
        "api_serve_repos_dir": str(root / "repos"),
        "api_serve_baseurl": f"{url}/repos",
        "api_serve_use_components": True,
        "api_serve_bind": f"unix:{state}/api.sock",
        "api_serve_workers": 2,
        "api_serve_state_dir": str(state),
        "api_serve_venv": str(TOP / ".venv"),
        "api_serve_users": [{"username": "ci", "password": PASSWORD}],
        "repo_serve_root": str(root),
        "repo_serve_state_dir": str(tmp_path / "nginx"),
        "repo_serve_port": port,
        "repo_serve_listen": ["127.0.0.1"],
        "repo_serve_api_upstream": f"unix:{state}/api.sock",
    }
    try:
        assert play(tmp_path, role_vars)["changed"] > 0
        again = play(tmp_path, role_vars)
        assert again["changed"] == 0, again["changed_tasks"]

        # A CI job reports its result, the next one takes the tested repo, a promoter moves labels.
        stamp = str(int(time.time()) - 60)
        vote = ["--commit-hash", compute.commit_hash, "--distro-hash", compute.distro_hash]
        rc, answer = dlrnapi(
            url, "report-result", "--job-id", "puppet", *vote, "--info-url", "https://ci/1", "--timestamp", stamp,
            "--success", "true",
        )  # fmt: skip
        assert rc == 0 and answer["job_id"] == "puppet" and answer["success"] is True
        rc, answer = dlrnapi(url, "repo-status", *vote)
        assert rc == 0 and [(v["job_id"], v["success"], v["component"]) for v in answer] == [
            ("puppet", True, "compute")
        ]
        rc, answer = dlrnapi(url, "repo-get", "--max-age", "0", "--job-id", "puppet")
        assert rc == 0 and (answer["commit_hash"], answer["in_progress"]) == (compute.commit_hash, False)
        rc, answer = dlrnapi(url, "repo-use", "--max-age", "0", "--job-id", "puppet", "--reporting-job-id", "tempest")
        assert rc == 0 and (answer["job_id"], answer["in_progress"]) == ("tempest", True)
        rc, answer = dlrnapi(url, "repo-promote", *vote, "--promote-name", "puppet-ci-testing")
        assert rc == 0 and answer["repo_hash"] == compute.repo_hash and answer["aggregate_hash"]
        pairs = f"{compute.commit_hash}_{compute.distro_hash},{tooling.commit_hash}_{tooling.distro_hash}"
        rc, answer = dlrnapi(url, "repo-promote-batch", "--hash-pairs", pairs, "--promote-name", "puppet-passed-ci")
        assert rc == 0 and answer["promote_name"] == "puppet-passed-ci"
        aggregate = answer["aggregate_hash"]
        assert (root / "repos" / "component" / "tooling" / "puppet-passed-ci").readlink() == Path(tooling.repo_path)
        # The label's aggregate is served by nginx, and its md5 is the aggregate hash.
        status, _kind, text = http(f"{url}/repos/puppet-passed-ci/delorean.repo.md5")
        assert (status, text) == (200, aggregate)
        rc, answer = dlrnapi(url, "promotion-get", "--promote-name", "puppet-passed-ci")
        assert rc == 0 and {p["component"] for p in answer} == {"compute", "tooling"}
        rc, answer = dlrnapi(
            url, "report-result", "--job-id", "periodic", "--agg-hash", aggregate, "--info-url", "https://ci/2",
            "--timestamp", stamp, "--success", "false",
        )  # fmt: skip
        assert rc == 0 and answer["aggregate_hash"] == aggregate
        rc, answer = dlrnapi(url, "agg-status", "--agg-hash", aggregate)
        assert rc == 0 and [(v["job_id"], v["success"]) for v in answer] == [("periodic", False)]
        rc, answer = dlrnapi(url, "build-metrics", "--start-date", "2023-01-01", "--end-date", "2024-12-31")
        assert rc == 0 and answer == {"succeeded": 2, "failed": 0, "total": 2}

        # Wrong credentials, an unknown hash, a 10 MB body: refused with a JSON message, through nginx.
        rc, text = dlrnapi(url, "repo-promote", *vote, "--promote-name", "x", password="wrong")
        assert rc != 0 and "401" in text
        rc, text = dlrnapi(url, "repo-status", "--commit-hash", "0" * 40, "--distro-hash", "1" * 40)
        assert rc != 0 and "combination not found" in text
        big = json.dumps({"job_id": "x", "notes": "n" * 10_000_000}).encode()
        headers = {"Content-Type": "application/json", **basic("ci", PASSWORD)}
        status, kind, text = http(f"{url}/api/report_result", big, headers)
        assert (status, kind) == (413, "application/json") and "larger than" in json.loads(text)["message"]
        status, kind, text = http(f"{url}/api/nothing")
        assert (status, kind) == (404, "application/json")
        status, kind, text = http(f"{url}/metrics")
        assert status == 200 and f'dlrn_builds_succeeded_total{{baseurl="{url}/repos"}} 2.0' in text
        status, kind, text = http(f"{url}/api/civotes.html")
        assert status == 200 and kind == "text/html" and compute.commit_hash in text
    except (AssertionError, OSError):
        for log in (state / "error.log", tmp_path / "nginx" / "error.log"):
            if log.exists():
                print(f"== {log}\n{log.read_text()[-3000:]}")
        raise
    finally:
        play(tmp_path, {**role_vars, "api_serve_state": "stopped", "repo_serve_state": "stopped"})
    assert not (state / "gunicorn.pid").exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/api/health", timeout=3)


def test_role_pins_the_requirements_of_the_lock():
    pins = {
        line.split("==")[0].lower().replace("_", "-"): line.strip()
        for line in (TOP / "requirements" / "python.lock").read_text().splitlines()
        if "==" in line
    }
    wanted = yaml.safe_load((TOP / "roles" / "api_serve" / "vars" / "main.yml").read_text())["__api_serve_requirements"]
    for requirement in wanted:
        name = requirement.split("==")[0].lower().replace("_", "-")
        assert pins[name].lower().replace("_", "-") == requirement.lower().replace("_", "-"), requirement
