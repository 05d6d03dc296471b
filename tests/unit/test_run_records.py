"""Run records end to end: a real playbook run recorded by ARA's callback, ARA's server behind the
repo_serve nginx, and the run page read in a real browser, its ARA link leading to the playbook's page."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from .ansible_run import changed_tasks, run_roles_json
from .ara_records import ara_env
from .browser import CHROMIUM, SKIP_REASON, dump_dom
from .test_repo_serve import FORBIDDEN, SECRET, free_port, get, workdir_with_secrets
from .test_run_page import Parsed

TOP = Path(__file__).resolve().parents[2]
RUN_ID = "20261204T020304Z"
REPO_HASH = "3db1d55076c17a4aad91dfb11b915ed08e52c79b_1ef8b25f"
EVIL = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'


pytestmark = [
    pytest.mark.skipif(not Path("/usr/sbin/nginx").exists(), reason="needs Debian's nginx (run `make`)"),
    pytest.mark.skipif(not ara_env(Path("/")), reason="ara is not installed in the venv (run `make`)"),
]


def csv_line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def manifest(run_dir: Path) -> dict:
    """A small run manifest with a hostile test-node message and package name (all of it must stay text)."""
    report = run_dir / "artifacts" / "node" / "tempest" / "results.html"
    return {
        "format": 2,
        "run_id": RUN_ID,
        "release": "zed",
        "backend": "dpkg",
        "repo_hash": REPO_HASH,
        "repo_path": f"3d/b1/{REPO_HASH}",
        "repo_url": f"http://127.0.0.1:8088/repos/3d/b1/{REPO_HASH}",
        "packages": [
            "Project,Source Repo,Source Sha,Dist Repo,Dist Sha,Status,Last Success Timestamp,Component,Extended Sha,"
            "Pkg NVR",
            csv_line(
                [
                    "openstack-keystone",
                    "x",
                    "3db1d55",
                    "y",
                    "1ef8b25",
                    "SUCCESS",
                    "1",
                    "keystone",
                    "None",
                    f"keystone_2:22.0.2-1{EVIL}",
                ]
            ),
        ],
        "built_this_run": ["keystone"],
        "deploy": {
            "status": "passed",
            "scenario": "scenario001",
            "phases": [{"name": "deploy", "status": "passed", "duration": 160.4, "message": EVIL}],
        },
        "tempest": {
            "total": 31,
            "passed": 27,
            "failed": 1,
            "skipped": 3,
            "success": False,
            "reason": EVIL,
            "reports": {"html": str(report)},
        },
        "verdict": "failed",
        "reasons": ["1 test failed"],
    }


def play(playbook: Path, role_vars: dict, ara_db: Path | None) -> dict:
    """ansible-playbook with ARA recording to ``ara_db`` (None: not recorded); its JSON result."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    if ara_db is not None:
        env.update(ara_env(ara_db.parent.parent))  # <work dir>/ara/ansible.sqlite
    proc = subprocess.run(
        [str(TOP / ".venv" / "bin" / "ansible-playbook"), str(playbook), "-e", json.dumps(role_vars)],
        cwd=TOP,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    start = proc.stdout.index("{") if proc.stdout.startswith("{") else proc.stdout.index("\n{") + 1
    return json.JSONDecoder().raw_decode(proc.stdout[start:])[0]


@pytest.fixture
def served_dir():
    """World-readable, outside pytest's private temp tree: nginx's workers run unprivileged."""
    path = Path(tempfile.mkdtemp(prefix="df-run-records-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
def test_run_page_behind_nginx_links_to_the_playbook_recorded_in_ara(tmp_path, served_dir):
    work = served_dir / "work"
    workdir_with_secrets(work)  # what must stay private, with ARA served too
    run_dir = work / "runs" / RUN_ID
    (run_dir / "artifacts" / "node" / "tempest").mkdir(parents=True)
    (run_dir / "artifacts" / "index.html").write_text("<!DOCTYPE html><html><body>artifacts</body></html>")
    (run_dir / "artifacts" / "node" / "tempest" / "results.html").write_text("<html><body>report</body></html>")
    (run_dir / "manifest.json").write_text(json.dumps(manifest(run_dir)))
    for path in [work, *work.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    ara_db = work / "ara" / "ansible.sqlite"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    role_vars = {
        "ara_serve_db": str(ara_db),
        "ara_serve_state_dir": str(work / "ara_serve"),
        "ara_serve_bind": f"unix:{work}/ara_serve/ara.sock",
        "ara_serve_venv": str(TOP / ".venv"),
        "repo_serve_root": str(work),
        "repo_serve_state_dir": str(work / "repo_serve"),
        "repo_serve_port": port,
        "repo_serve_listen": ["127.0.0.1"],
        "repo_serve_ara_upstream": f"unix:{work}/ara_serve/ara.sock",
        "distroforge_run_manifest": str(run_dir / "manifest.json"),
        "distroforge_ara_url": "/ara/",
        "distroforge_ara_api": f"{base}/ara/api/v1",
    }
    services = ["ara_serve", "repo_serve"]
    # A small playbook run, recorded by ARA, that writes the run page as pipeline.yml's last play does.
    playbook = tmp_path / "records.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Say hello",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [{"name": "Say hello", "ansible.builtin.debug": {"msg": "hello"}}],
                },
                {
                    "name": "Write the run page",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Write the run page",
                            "ansible.builtin.include_tasks": str(TOP / "playbooks" / "tasks" / "run_page.yml"),
                        }
                    ],
                },
            ]
        )
    )
    try:
        run_roles_json(tmp_path, services, role_vars)
        play(playbook, role_vars, ara_db)
        page_text = (run_dir / "index.html").read_text()

        # The page as a browser renders it, served by nginx where the run's votes point.
        dom = dump_dom(f"{base}/runs/{RUN_ID}/", tmp_path / "profile-page")
        assert re.search(r'<p id="verdict" class="failed" data-verdict="failed">FAILED</p>', dom), dom[:2000]
        assert f'<code id="repo-hash">{REPO_HASH}</code>' in dom
        counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', dom))
        assert counts == {"ran": "28", "passed": "27", "failed": "1", "skipped": "3", "flaky": "0", "xfail": "0",
                          "uxsuccess": "0"}  # fmt: skip
        assert "<title>run 20261204T020304Z: FAILED</title>" in dom  # the hostile values ran no script
        parsed = Parsed(dom)
        assert [tag for tag, _attrs in parsed.tags if tag in ("script", "img")] == []
        assert not [attrs for _tag, attrs in parsed.tags if any(name.startswith("on") for name in attrs)]
        shown = "".join(parsed.text)
        # Shown as text: in the package's NVR, the deploy phase's message and Tempest's reason.
        assert f"keystone_2:22.0.2-1{EVIL}" in shown and shown.count(EVIL) == 3
        # Stage times come from ARA's plays: the first play ended, the one writing the page still runs.
        assert re.search(r'<td>Say hello</td><td>completed</td>\s*<td class="n">[\d.]+s</td>', dom), dom
        assert re.search(r'<td>Write the run page</td><td>running</td>\s*<td class="n">running</td>', dom), dom
        (ara_href,) = re.findall(r'<a href="(/ara/playbooks/\d+\.html)">', dom)

        # The ARA link resolves to ARA's page of this playbook run, through the same nginx.
        ara_dom = dump_dom(base + ara_href, tmp_path / "profile-ara")
        assert "records.yml" in ara_dom and "Write the run page" in ara_dom and "Say hello" in ara_dom
        with urllib.request.urlopen(f"{base}/ara/api/v1/playbooks", timeout=30) as response:
            recorded = json.load(response)
        assert [p["path"] for p in recorded["results"]] == [str(playbook)]

        # nginx passes reads only, never Django's admin, and still nothing outside the served locations.
        for path in ("/ara/admin/", "/ara/admin/login/", "/ara/%61dmin/", "/ara//admin/", "/ara/./admin/"):
            assert get(port, path)[0] == 404, path
        request = urllib.request.Request(f"{base}/ara/api/v1/playbooks", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 403
        for path in ("/ara/../state.db", "/ara/%2e%2e/state.db", "/ara/../ara/ansible.sqlite", "/ara_serve/"):
            assert get(port, path)[0] in (400, 403, 404), path
        served = {path: get(port, path) for path in FORBIDDEN}
        assert not {path: status for path, (status, _body) in served.items() if status not in (400, 403, 404)}
        assert not [path for path, (_status, body) in served.items() if SECRET.encode() in body]
        assert get(port, "/")[1].count(b'href="/ara/"') == 1

        # Again: nothing of the services changes; the second run's record joins the same database.
        assert changed_tasks(run_roles_json(tmp_path, services, role_vars)[0]) == []
        assert changed_tasks(play(playbook, role_vars, ara_db)) == ["Write the run page"]
        assert (run_dir / "index.html").read_text() != page_text
        with sqlite3.connect(f"file:{ara_db}?mode=ro", uri=True) as conn:
            assert conn.execute("SELECT COUNT(*) FROM playbooks").fetchone()[0] == 2
    except (AssertionError, OSError):
        for log in (work / "ara_serve" / "error.log", work / "repo_serve" / "error.log"):
            if log.exists():
                print(f"== {log}\n{log.read_text()[-3000:]}")
        raise
    finally:
        stopped = {**role_vars, "ara_serve_state": "stopped", "repo_serve_state": "stopped"}
        run_roles_json(tmp_path, ["repo_serve", "ara_serve"], stopped)
    assert not (work / "ara_serve" / "gunicorn.pid").exists()


def test_without_ara_the_run_page_is_written_and_says_so(tmp_path):
    run_dir = tmp_path / "runs" / RUN_ID
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps(manifest(run_dir)))
    playbook = tmp_path / "page.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        f"    - ansible.builtin.include_tasks: {TOP / 'playbooks' / 'tasks' / 'run_page.yml'}\n"
    )
    role_vars = {
        "distroforge_run_manifest": str(run_dir / "manifest.json"),
        "distroforge_ara_url": "/ara/",
        "distroforge_ara_api": "http://127.0.0.1:9/ara/api/v1",
    }
    play(playbook, role_vars, None)
    text = (run_dir / "index.html").read_text()
    assert 'data-verdict="failed"' in text and "ARA: not recorded" in text and "/ara/playbooks/" not in text


def test_role_pins_the_requirements_of_the_lock():
    pins = {
        line.split("==")[0].lower().replace("_", "-"): line.strip()
        for line in (TOP / "requirements" / "python.lock").read_text().splitlines()
        if "==" in line
    }
    wanted = yaml.safe_load((TOP / "roles" / "ara_serve" / "vars" / "main.yml").read_text())["__ara_serve_requirements"]
    for requirement in wanted:
        name = requirement.split("==")[0].lower().replace("_", "-")
        assert pins[name].lower().replace("_", "-") == requirement.lower().replace("_", "-"), requirement
    assert "ara[server]==" + pins["ara"].split("==")[1] in (TOP / "requirements" / "python.in").read_text()


def make(*args: str) -> subprocess.CompletedProcess[str]:
    """``make <args>`` as a user types it, without redoing the machine's bootstrap (``-o bootstrap``)."""
    inherited = ("MAKE", "MFLAGS", "ARA_", "ANSIBLE_CALLBACK_PLUGINS", "ANSIBLE_ACTION_PLUGINS")
    env = {key: value for key, value in os.environ.items() if not key.startswith(inherited)}
    return subprocess.run(
        ["make", "--no-print-directory", "-o", "bootstrap", *args],
        cwd=TOP,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_make_reproduce_is_recorded_in_the_work_dir_of_the_run_it_reproduces(tmp_path):
    work = tmp_path / "work"
    run_dir = work / "runs" / RUN_ID
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps(manifest(run_dir)))
    # A cheap real run: reproduce.yml refuses REPRODUCE=nothing in its first task, and ARA records the failure.
    proc = make("reproduce", f"MANIFEST={run_dir / 'manifest.json'}", "REPRODUCE=nothing")
    assert proc.returncode != 0 and "distroforge_reproduce=build, test or build,test (got nothing)" in proc.stdout
    ara_db = work / "ara" / "ansible.sqlite"
    assert ara_db.is_file(), proc.stdout[-3000:] + proc.stderr[-2000:]
    with sqlite3.connect(f"file:{ara_db}?mode=ro", uri=True) as conn:
        recorded = conn.execute("SELECT path, status FROM playbooks").fetchall()
        tasks = [name for (name,) in conn.execute("SELECT name FROM tasks")]
    assert recorded == [(str(TOP / "playbooks" / "reproduce.yml"), "failed")]
    assert tasks == ["Check what to reproduce"]
    assert sorted(path.name for path in tmp_path.rglob("ansible.sqlite")) == ["ansible.sqlite"]  # nowhere else

    # ARA=0: the same run, unrecorded.
    shutil.rmtree(work / "ara")
    proc = make("reproduce", f"MANIFEST={run_dir / 'manifest.json'}", "REPRODUCE=nothing", "ARA=0")
    assert proc.returncode != 0 and "(got nothing)" in proc.stdout
    assert not (work / "ara").exists()


def test_make_release_day_records_in_its_work_dir(tmp_path):
    proc = make("-n", "release-day", f"RELEASE_DAY_TARGET={tmp_path}/day")
    assert proc.returncode == 0, proc.stderr
    (command,) = [line for line in proc.stdout.splitlines() if "tools/release_day.py" in line]
    assert f"ARA_DATABASE_NAME={tmp_path}/day/work/ara/ansible.sqlite " in command
    assert "ANSIBLE_CALLBACK_PLUGINS=" in command and "ARA_API_CLIENT=offline " in command
    assert f"--target {tmp_path}/day" in proc.stdout
    proc = make("-n", "release-day", "ARA=0")
    assert proc.returncode == 0 and "ARA_" not in proc.stdout and "ANSIBLE_CALLBACK_PLUGINS" not in proc.stdout
