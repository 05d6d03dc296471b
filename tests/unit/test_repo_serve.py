"""repo_serve through Ansible: a real nginx serves the tree with the right types, idempotently."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/usr/sbin/nginx").exists(), reason="needs Debian's nginx (run `make`)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def play(tmp_path: Path, **role_vars) -> dict:
    playbook = tmp_path / "serve.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  roles:\n    - role: distroforge.openstack.repo_serve\n"
    )
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(TOP / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
    )
    proc = subprocess.run(
        [str(TOP / ".venv" / "bin" / "ansible-playbook"), str(playbook), "-e", json.dumps(role_vars)],
        cwd=TOP,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    # ansible.cfg's profile_tasks prints its timings around the JSON document.
    start = proc.stdout.index("{") if proc.stdout.startswith("{") else proc.stdout.index("\n{") + 1
    return json.JSONDecoder().raw_decode(proc.stdout[start:])[0]["stats"]["localhost"]


@pytest.fixture
def served_dir():
    """A world-readable temp dir: nginx's workers run unprivileged, and pytest
    keeps its own temp tree private (and re-privatises it when another
    pytest session starts), so the served tree lives outside it."""
    path = Path(tempfile.mkdtemp(prefix="df-repo-serve-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_serves_repos_with_content_types_and_is_idempotent(tmp_path, served_dir):
    root = served_dir / "data"
    (root / "repos" / "current").mkdir(parents=True)
    (root / "repos" / "current" / "delorean.repo").write_text("[delorean]\n")
    (root / "repos" / "RPM-GPG-KEY-delorean.asc").write_text("key\n")
    (root / "repos" / "status_report.json").write_text("{}\n")
    port = free_port()
    role_vars = {
        "repo_serve_root": str(root),
        "repo_serve_state_dir": str(tmp_path / "state"),
        "repo_serve_port": port,
        "repo_serve_listen": "127.0.0.1",
    }
    try:
        assert play(tmp_path, **role_vars)["changed"] > 0
        assert play(tmp_path, **role_vars)["changed"] == 0
        for path, kind in (
            ("repos/current/delorean.repo", "text/plain"),
            ("repos/RPM-GPG-KEY-delorean.asc", "application/pgp-keys"),
            ("repos/status_report.json", "application/json"),
        ):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=10) as response:
                assert response.headers["Content-Type"].startswith(kind), path
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/repos/", timeout=10) as response:
            assert "current/" in response.read().decode()
    except AssertionError:
        raise
    except OSError as exc:
        error_log = tmp_path / "state" / "error.log"
        detail = error_log.read_text()[-2000:] if error_log.exists() else "no error.log"
        pytest.fail(f"{exc}; nginx error.log: {detail}")
    finally:
        play(tmp_path, **role_vars, repo_serve_state="stopped")
    # `nginx -s quit` lets the workers finish first: wait for the port to close.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/repos/", timeout=3).close()
        except OSError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the instance still serves after repo_serve_state=stopped")
