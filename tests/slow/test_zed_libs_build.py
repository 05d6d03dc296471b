"""The whole zed-libs example (61 generated packages) built, published and checked installable (make zed-libs-build).

Slow lane: playbooks/build.yml builds every project at its Zed version with
the DEB backend (dpkg) and then with the RPM backend (rpmbuild), each into a
fresh work dir under build/zed-libs-run/; repo_closure checks the published
``current`` repository: DEB against bookworm's Packages (apt's lists on this
host), RPM among our packages, the names none of them provides taken as the
EL base's (there is no EL mirror here, so RPM checks that our packages'
requirements on each other resolve, names and versions, and nothing about
EL's own packages).  The figures (packages built, failures, wall times) are
printed and written to build/zed-libs-run/report.json.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import yaml
from unit.ansible_run import TOP, play  # tests/ is on the path: the slow lane reuses the unit helpers
from unit.test_zed_libs import PINS, _rpm_requires_from_outside, bookworm_lists, maker

from ansible_collections.distroforge.openstack.plugins.module_utils._packaging import debian_base

TARGET = Path(os.environ.get("ZED_LIBS", TOP / "build" / "zed-libs"))
RUN = TOP / "build" / "zed-libs-run"


def _closure(repo: Path, args: dict, tmp_path: Path, name: str) -> dict:
    check = {"path": str(repo), **args}
    save = {"content": "{{ out | to_json }}", "dest": str(tmp_path / f"{name}.json")}
    tasks = [
        {
            "name": f"Check {name}",
            "distroforge.openstack.repo_closure": check,
            "register": "out",
            "ignore_errors": True,
        },
        {"name": "Save", "ansible.builtin.copy": save},
    ]
    playbook = tmp_path / f"{name}.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    proc = play(playbook, {}, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return json.loads((tmp_path / f"{name}.json").read_text())


def test_the_whole_example_builds_publishes_and_installs(tmp_path):
    lists = bookworm_lists()
    assert lists, "no apt list of bookworm on this host: run apt-get update"
    maker.make(TARGET, maker.base.DEFAULT_CACHE, echo=False)
    if RUN.exists():
        shutil.rmtree(RUN)
    RUN.mkdir(parents=True)
    report: dict = {"packages": len(PINS), "backends": {}}
    base = []
    for index, path in enumerate(lists):
        plain = RUN / f"bookworm-Packages-{index}"
        plain.write_text(debian_base._index_text(path))
        base.append(str(plain))
    for backend in ("dpkg", "rpmbuild"):
        work = RUN / backend
        extra = {
            "distroforge_pkgdb": str(TARGET / "rdoinfo" / "rdo-full.yml"),
            "distroforge_release": "zed",
            "distroforge_workdir": str(work),
            "distroforge_backend": backend,
        }
        started = time.monotonic()
        proc = play(TOP / "playbooks" / "build.yml", extra, timeout=4 * 3600)
        built = time.monotonic() - started
        (RUN / f"{backend}-build.log").write_text(proc.stdout + proc.stderr)
        with sqlite3.connect(work / "state.db") as db:
            rows = dict(db.execute("SELECT project, status FROM commits").fetchall())
        repo = work / "repos" / "current"
        started = time.monotonic()
        if backend == "dpkg":
            closure = _closure(repo, {"base_indexes": base}, tmp_path, "deb")
        else:
            closure = _closure(repo, {"provides": _rpm_requires_from_outside(repo)}, tmp_path, "rpm")
        checked = time.monotonic() - started
        report["backends"][backend] = {
            "playbook_rc": proc.returncode,
            "succeeded": sorted(p for p, s in rows.items() if s == "SUCCESS"),
            "failed": sorted(p for p, s in rows.items() if s != "SUCCESS"),
            "build_seconds": round(built),
            "closure_seconds": round(checked),
            "closure_checked": closure.get("checked"),
            "closure_broken": closure.get("broken", []),
            "closure_msg": closure.get("msg", ""),
        }
        line = report["backends"][backend]
        print(
            f"\nzed-libs {backend}: {len(line['succeeded'])}/{len(PINS)} built in {line['build_seconds']} s"
            f" (failed: {', '.join(line['failed']) or 'none'}); closure of {line['closure_checked']} packages"
            f" in {line['closure_seconds']} s: {'installable' if not closure.get('failed') else closure.get('msg')}"
        )
    (RUN / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    for backend, line in report["backends"].items():
        assert line["playbook_rc"] == 0 and not line["failed"], f"{backend}: {line['failed']} (build logs in {RUN})"
        assert len(line["succeeded"]) == len(PINS), backend
        assert not line["closure_broken"] and not line["closure_msg"], f"{backend}: {line['closure_msg']}"
