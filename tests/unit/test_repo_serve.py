"""repo_serve through Ansible: a real nginx serves only the published locations, with the right types, idempotently."""

import http.client
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from .ansible_run import failures, run_roles_json

pytestmark = pytest.mark.skipif(not Path("/usr/sbin/nginx").exists(), reason="needs Debian's nginx (run `make`)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def play(tmp_path: Path, expect_failure: bool = False, **role_vars):
    """Run the role; its play stats, or the failure message when ``expect_failure``."""
    result, _proc = run_roles_json(tmp_path, ["repo_serve"], role_vars, expect_failure=expect_failure)
    return failures(result)[0] if expect_failure else result["stats"]["localhost"]


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
        stop(tmp_path, role_vars)


def stop(tmp_path: Path, role_vars: dict) -> None:
    """Stop the instance and wait until its port is closed (`nginx -s quit` lets the workers finish first)."""
    play(tmp_path, **role_vars, repo_serve_state="stopped")
    port = role_vars["repo_serve_port"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/repos/", timeout=3).close()
        except OSError:
            return
        time.sleep(0.2)
    pytest.fail("the instance still serves after repo_serve_state=stopped")


SECRET = "planted-secret-3f9a1c"


def workdir_with_secrets(root: Path) -> None:
    """A work directory as a pipeline run leaves it, each private file holding SECRET, all world-readable:
    only the server's locations, not file modes, may keep them out."""
    published = root / "repos" / "ab" / "cd" / "abcdef_12345678"
    published.mkdir(parents=True)
    (published / "delorean.repo").write_text("[delorean]\n")
    (root / "repos" / "current").symlink_to("ab/cd/abcdef_12345678")
    (root / "repos" / ".publish.lock").write_text(SECRET)
    (root / "repos" / ".tmp-publish").mkdir()
    (root / "repos" / ".tmp-publish" / "half.repo").write_text(SECRET)
    artifacts = root / "runs" / "20261203T000000Z" / "artifacts" / "node"
    artifacts.mkdir(parents=True)
    (artifacts / "keystone.log").write_text("log\n")
    (root / "runs" / "20261203T000000Z" / "manifest.json").write_text("{}\n")
    # What a hostile test node could plant in the logs it hands back.
    (artifacts / "evil.log").symlink_to("../../../../state.db")
    (artifacts / "evil-dir").symlink_to("../../../../gnupg")
    (root / "repos" / "escape").symlink_to("../state.db")
    for private in (
        "state.db",
        "state.db-wal",
        "gnupg/private-keys-v1.d/key.key",
        "git/keystone/config",
        "scratch/job/secret",
        "results/keystone/build.log",
        "example/rdo.yml",
    ):
        path = root / private
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(SECRET)
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


FORBIDDEN = [
    "/state.db",
    "/state.db-wal",
    "/gnupg/",
    "/gnupg/private-keys-v1.d/key.key",
    "/git/",
    "/git/keystone/config",
    "/scratch/",
    "/scratch/job/secret",
    "/results/",
    "/results/keystone/build.log",
    "/example/rdo.yml",
    "/repo_serve/",
    "/repo_serve/nginx.conf",
    "/repo_serve/access.log",
    "/repo_serve/error.log",
    "/repo_serve/nginx.pid",
    # hidden entries and planted symlinks inside served locations
    "/repos/.publish.lock",
    "/repos/.tmp-publish/",
    "/repos/.tmp-publish/half.repo",
    "/repos/%2epublish.lock",
    "/runs/20261203T000000Z/artifacts/node/evil.log",
    "/runs/20261203T000000Z/artifacts/node/evil-dir/",
    # traversal, plain and encoded
    "/repos/../state.db",
    "/repos/current/../../state.db",
    "/repos/%2e%2e/state.db",
    "/repos/%2E%2E/state.db",
    "/repos/..%2fstate.db",
    "/repos/..%2Fstate.db",
    "/repos/%2e%2e%2fstate.db",
    "/repos/%252e%252e/state.db",
    "/repos/..%5cstate.db",
    "/repos/..\\state.db",
    "/repos/....//state.db",
    "/repos../state.db",
    "/repos..%2fstate.db",
    "/runs/../gnupg/private-keys-v1.d/key.key",
    "//state.db",
    "/./state.db",
    "/%2e/state.db",
    "/repos/./../state.db",
    "/%73tate.db",
    "/repos/%00/../state.db",
    "/STATE.DB",
    "/../state.db",
    "/repos/current/%2e%2e/%2e%2e/state.db",
]


def get(port: int, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no client-side normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_serves_only_the_published_locations(tmp_path, served_dir):
    root = served_dir / "work"
    workdir_with_secrets(root)
    port = free_port()
    role_vars = {
        "repo_serve_root": str(root),
        # the server's own state inside the served root, as pipeline.yml has it
        "repo_serve_state_dir": str(root / "repo_serve"),
        "repo_serve_port": port,
        "repo_serve_listen": ["127.0.0.1"],
    }
    try:
        play(tmp_path, **role_vars)
        (root / "repo_serve" / "access.log").chmod(0o644)
        served = {path: get(port, path) for path in FORBIDDEN}
        leaks = {path: status for path, (status, body) in served.items() if status not in (400, 403, 404)}
        assert not leaks, f"served what must not be: {leaks}"
        assert not [path for path, (_status, body) in served.items() if SECRET.encode() in body]
        # what is published still is, labels (symlinks) included
        assert get(port, "/repos/current/delorean.repo") == (200, b"[delorean]\n")
        assert get(port, "/runs/20261203T000000Z/artifacts/node/keystone.log")[0] == 200
        status, listing = get(port, "/repos/")
        assert status == 200 and b"current/" in listing and b".publish.lock" not in listing
        status, index = get(port, "/")
        assert status == 200 and b'href="/repos/"' in index and b"state.db" not in index
    finally:
        stop(tmp_path, role_vars)


def host_addresses() -> list[str]:
    out = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, check=True).stdout
    return [info["local"] for link in json.loads(out) for info in link["addr_info"] if info["scope"] == "global"]


@pytest.mark.skipif(not host_addresses(), reason="the host has no global IPv4 address to try")
def test_listens_only_on_the_given_addresses(tmp_path, served_dir):
    root = served_dir / "work"
    (root / "repos").mkdir(parents=True)
    port = free_port()
    role_vars = {
        "repo_serve_root": str(root),
        "repo_serve_state_dir": str(tmp_path / "state"),
        "repo_serve_port": port,
    }
    try:
        play(tmp_path, **role_vars)  # the default: loopback only
        assert get(port, "/repos/")[0] == 200
        for address in host_addresses():
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((address, port), timeout=5).close()
    finally:
        stop(tmp_path, role_vars)


@pytest.mark.parametrize(
    "bad",
    [
        {"repo_serve_locations": [".."]},
        {"repo_serve_locations": ["repos/../.."]},
        {"repo_serve_locations": [".git"]},
        {"repo_serve_locations": ["state"]},
        {"repo_serve_locations": []},
        {"repo_serve_listen": ["localhost; include /etc/passwd"]},
        {"repo_serve_listen": []},
    ],
)
def test_refuses_settings_that_would_widen_what_is_served(tmp_path, served_dir, bad):
    role_vars = {
        "repo_serve_root": str(served_dir),
        "repo_serve_state_dir": str(served_dir / "state"),
        "repo_serve_port": free_port(),
        **bad,
    }
    failure = play(tmp_path, expect_failure=True, **role_vars)
    assert "repo_serve:" in failure and "\n" not in failure.strip()
    assert not (served_dir / "state" / "nginx.conf").exists()
