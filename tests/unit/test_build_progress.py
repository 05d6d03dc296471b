"""Builds say how far they are: the runner's progress file, build_progress reading it, the screen's n/N lines."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from types import SimpleNamespace

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._build import runner
from ansible_collections.distroforge.openstack.plugins.module_utils._build.progress import (
    Progress,
    ProgressFile,
    progress_text,
    read_progress,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._build.runner import (
    BuildJob,
    BuildResult,
    BuildSettings,
    build_many,
)
from ansible_collections.distroforge.openstack.plugins.modules import build_progress as module

from .ansible_run import run_playbook
from .buildchain import make_independent
from .buildfixtures import head

NOW = 1_800_000_000.0


def test_the_text_says_done_of_total_failures_and_what_builds_since_when():
    assert progress_text(None) == "builds: starting"
    assert progress_text(Progress(total=3, done=3), NOW) == "builds: 3/3 done"
    busy = Progress(total=3, done=2, building={"keystone": NOW - 41})
    assert progress_text(busy, NOW) == "builds: 2/3 done (keystone building, 41s)"
    # the longest-running first, failures counted among the done
    many = Progress(total=5, done=2, failed=1, building={"nova": NOW - 5, "glance": NOW - 190})
    assert progress_text(many, NOW) == "builds: 2/5 done, 1 failed (glance building, 3m10s; nova building, 5s)"


def test_the_file_follows_each_start_and_end(tmp_path):
    path = tmp_path / "scratch" / "progress.json"  # its directory is made as needed
    tracker = ProgressFile(str(path), 3)
    assert read_progress(str(path)) == Progress(total=3, started=read_progress(str(path)).started)
    tracker.start("keystone")
    tracker.start("nova")
    tracker.finish("nova", succeeded=False)
    seen = read_progress(str(path))
    assert (seen.total, seen.done, seen.failed, list(seen.building)) == (3, 1, 1, ["keystone"])
    assert path.stat().st_mode & 0o777 == 0o644  # the reader may be another user than the build user
    assert [p.name for p in path.parent.iterdir()] == ["progress.json"]  # nothing left aside
    ProgressFile(None, 2).start("x")  # no file asked for: nothing written, nothing fails


@pytest.mark.parametrize(
    "content",
    [
        None,  # not written yet
        "",
        '{"format": 1, "total": 3, "do',  # not something the writer leaves, but never a traceback
        "[1, 2]",
        '{"format": 99, "total": 3, "done": 0, "failed": 0, "building": {}, "started": 0}',
        '{"format": 1, "total": "many", "done": 0, "failed": 0, "building": {}, "started": 0}',
        '{"format": 1, "total": 3, "done": 0, "failed": 0, "building": [1], "started": 0}',
        "\xff\xfe",
    ],
)
def test_a_missing_or_foreign_file_reads_as_starting(tmp_path, content):
    path = tmp_path / "progress.json"
    if content is not None:
        path.write_text(content, encoding="latin-1")
    assert read_progress(str(path)) is None
    assert progress_text(read_progress(str(path))) == "builds: starting"


def test_a_file_older_than_the_job_is_an_earlier_runs(tmp_path):
    path = tmp_path / "progress.json"
    ProgressFile(str(path), 4)
    mtime = path.stat().st_mtime
    assert read_progress(str(path), not_before=mtime - 1).total == 4
    assert read_progress(str(path), not_before=mtime + 1) is None


def test_readers_never_see_half_a_file_while_threads_write(tmp_path):
    path = tmp_path / "progress.json"
    tracker = ProgressFile(str(path), 400)
    stop = threading.Event()
    bad: list[str] = []

    def read() -> None:
        while not stop.is_set():
            if read_progress(str(path)) is None:
                bad.append("unreadable")

    reader = threading.Thread(target=read)
    reader.start()

    def work(number: int) -> None:
        for index in range(50):
            tracker.start(f"p{number}-{index}")
            tracker.finish(f"p{number}-{index}", succeeded=index % 7 != 0)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stop.set()
    reader.join()
    final = read_progress(str(path))
    assert bad == []
    assert (final.done, final.failed, final.building) == (400, 8 * 8, {})


def test_build_many_says_which_build_runs_as_each_starts_and_ends(tmp_path, monkeypatch):
    """Two waves of builds (the build itself replaced): the file seen from inside each build."""
    path = tmp_path / "progress.json"
    seen: dict[str, tuple] = {}

    def fake_build(job: BuildJob, settings: BuildSettings) -> BuildResult:
        state = read_progress(str(path))
        seen[job.project] = (state.done, state.failed, sorted(state.building))
        status = "FAILED" if job.project == "glance" else "SUCCESS"
        return BuildResult(job.project, job.name, "c", "d", None, "dpkg", status, "r", "l")

    monkeypatch.setattr(runner, "build_one", fake_build)
    monkeypatch.setattr(BuildSettings, "validate", lambda self: None)
    jobs = [BuildJob(name, f"python-{name}", "u", "d", "c" * 40, "d" * 40) for name in ("keystone", "glance", "nova")]
    settings = BuildSettings(backend="dpkg", workdir=str(tmp_path), mirror_dir=str(tmp_path))
    results = build_many(jobs, settings, parallel=1, waves=[0, 0, 1], progress=str(path))
    assert [r.status for r in results] == ["SUCCESS", "FAILED", "SUCCESS"]
    assert seen == {
        "keystone": (0, 0, ["keystone"]),
        "glance": (1, 0, ["glance"]),
        "nova": (2, 1, ["nova"]),  # the later wave starts once the earlier one is over
    }
    final = read_progress(str(path))
    assert (final.done, final.failed, final.building) == (3, 1, {})  # the last word stays


def test_the_module_reads_the_file_of_its_job_only(tmp_path):
    job = tmp_path / "job"
    path = tmp_path / "progress.json"
    tracker = ProgressFile(str(path), 2)
    tracker.start("keystone")
    old = time.time() - 60
    os.utime(path, (old, old))  # a killed earlier run's file ...
    job.write_text(json.dumps({"started": True, "finished": False}))

    params = SimpleNamespace(params={"job": str(job), "progress": str(path), "wait": 0})
    out = module._work(params)  # pylint: disable=protected-access
    assert (out["finished"], out["progress"], out["total"]) == (False, "builds: starting", 0)
    tracker.start("nova")  # ... until this run writes
    out = module._work(params)  # pylint: disable=protected-access
    assert re.fullmatch(r"builds: 0/2 done \(keystone building, \ds; nova building, \ds\)", out["progress"])
    assert [b["project"] for b in out["building"]] == ["keystone", "nova"]
    job.write_text(json.dumps({"rc": 0, "results": []}))
    assert module._work(params)["finished"] is True  # pylint: disable=protected-access


needs_dpkg = pytest.mark.skipif(
    not shutil.which("bwrap") or not shutil.which("dpkg-buildpackage"), reason="needs bubblewrap and dpkg (run `make`)"
)

PLAYBOOK = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: Build with the role
      ansible.builtin.include_role:
        name: distroforge.openstack.package_build
      vars:
        package_build_jobs: "{{ jobs }}"
        package_build_backend: dpkg
        package_build_workdir: "{{ work }}"
        package_build_mirror_dir: "{{ work }}/git"
        package_build_parallel: 1
        __package_build_progress_every: 1
"""


def _recap(stdout: str) -> dict[str, int]:
    line = next(line for line in stdout.splitlines() if line.startswith("localhost "))
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)}


@needs_dpkg
def test_the_role_prints_builds_done_of_total_while_they_run(tmp_path):
    """Through ansible-playbook with the project's configuration: a real build, progress every second."""
    up, dg = make_independent(tmp_path)
    job = {
        "project": "hellothree",
        "name": "python-hellothree",
        "upstream": str(up),
        "distgit": str(dg),
        "commit_hash": head(up),
        "distro_hash": head(dg),
    }
    work = tmp_path / "work"
    playbook = tmp_path / "build.yml"
    playbook.write_text(PLAYBOOK)

    checked = run_playbook(playbook, {"jobs": [job], "work": str(work)}, "--check", timeout=300)
    assert not (work / "results").exists(), checked.stdout[-2000:]

    proc = run_playbook(playbook, {"jobs": [job], "work": str(work)}, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if "Build the packages: builds: " in line]
    assert lines, proc.stdout[-3000:]
    building = r"^\[localhost\] .*Build the packages: builds: 0/1 done \(hellothree building, \d+s\) - \d+s$"
    assert any(re.search(building, line) for line in lines), lines
    assert "ASYNC POLL" not in proc.stdout and "FAILED - RETRYING" not in proc.stdout
    assert [p.name for p in (work / "results").iterdir()] == ["hellothree"]
    assert _recap(proc.stdout)["failed"] == 0

    # nothing to build: nothing changes, in check mode and for real
    for options in (("--check",), ()):
        again = run_playbook(playbook, {"jobs": [], "work": str(work)}, *options)
        assert _recap(again.stdout)["changed"] == 0, again.stdout[-2000:]
