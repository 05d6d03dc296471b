"""Expected errors end a task with one line through ansible-playbook: file system, SQLite, undecodable text."""

from __future__ import annotations

import json
import sqlite3

import yaml

from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import NewCommit, StateDB

from .ansible_run import run_playbook
from .test_check_mode import _fake_puppet

KEYS_FILE_LATIN1 = (
    "packstack_version: 21.0.1\nkeys:\n  - name: CONFIG_DEFAULT_PASSWORD\n    usage: Mot de passe par défaut\n"
)


def test_expected_errors_fail_in_one_line_never_a_traceback(tmp_path):
    cases = tmp_path / "cases"
    cases.mkdir()
    # A log directory below a regular file: mkdir fails with ENOTDIR.
    (cases / "puppet").mkdir()
    (cases / "puppet" / "site.pp").write_text("notify { 'hello': }\n")
    (cases / "puppet" / "not-a-dir").write_text("")
    # A state DB whose write lock another program (the sqlite3 shell, say) holds.
    db = cases / "state.db"
    with StateDB(db) as state:
        (queued,) = state.queue([NewCommit("nova", "zed", "a" * 40, "b" * 40, 100)])
    # A key data file saved in Latin-1.
    (cases / "keys.yml").write_bytes(KEYS_FILE_LATIN1.encode("latin-1"))
    (cases / "out").mkdir()
    args = {
        "puppet": {
            "manifest": str(cases / "puppet" / "site.pp"),
            "log_dir": str(cases / "puppet" / "not-a-dir" / "logs"),
        },
        "record": {
            "db": str(db),
            "busy_timeout": 0.2,
            "results": [{"commit_id": queued.id, "project": "nova", "status": "SUCCESS", "builder": "b1"}],
        },
        "answers": {"keys_file": str(cases / "keys.yml"), "dest": str(cases / "out" / "answers.txt")},
    }
    modules = {"puppet": "puppet_apply", "record": "build_record", "answers": "packstack_answers"}
    tasks = [
        {
            "name": f"Run {key}",
            f"distroforge.openstack.{module}": f"{{{{ args.{key} }}}}",
            "register": key,
            "ignore_errors": True,
            **({"environment": _fake_puppet(cases / "puppet")} if key == "puppet" else {}),
        }
        for key, module in modules.items()
    ]
    results = tmp_path / "results.json"
    collect = "{{ {" + ", ".join(f"'{key}': {key}" for key in modules) + "} | to_json }}"
    tasks.append({"name": "Save", "ansible.builtin.copy": {"content": collect, "dest": str(results)}})
    playbook = tmp_path / "errors.yml"
    playbook.write_text(
        yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}], sort_keys=False)
    )
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        proc = run_playbook(playbook, {"args": args})
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    out = json.loads(results.read_text())
    assert "Traceback" not in proc.stdout + proc.stderr and "MODULE FAILURE" not in proc.stdout
    assert out["puppet"]["msg"] == (
        f"{cases}/puppet/not-a-dir/logs: Not a directory; "
        "a part of the path is a file, not a directory: correct the path"
    )
    assert out["puppet"]["errno"] == "ENOTDIR"
    assert out["record"]["msg"] == (
        f"state DB {db}: database is locked; another process kept it busy longer than busy_timeout (0.2 s): "
        "let it finish or raise busy_timeout"
    )
    assert out["answers"]["msg"] == (
        f"keys_file: {cases}/keys.yml is not UTF-8 text (byte 0xe9 on line 4); save it as UTF-8"
    )
    for result in out.values():
        assert result["failed"] is True and "\n" not in result["msg"]
    with StateDB(db, readonly=True) as state:
        assert state.get(queued.id).status == "QUEUED"  # nothing half-recorded
