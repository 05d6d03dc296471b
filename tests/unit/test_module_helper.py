"""DistroforgeModule: shared state DB options, "write unless check mode" with diffs, one-line errors."""

from __future__ import annotations

import errno
import json
import os
import sqlite3

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import (
    STATE_DB_OPTIONS,
    DistroforgeModule,
    one_line,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import NewCommit, StateDB


def run_module(capsys, args: dict, work, spec=None, **kwargs) -> dict:
    """Run ``work`` as a module's work in this process; the module's JSON result."""
    with patch_module_args(args), pytest.raises(SystemExit):
        module = DistroforgeModule(argument_spec=spec or {"path": {"type": "path"}}, supports_check_mode=True, **kwargs)
        module.run(work)
    return json.loads(capsys.readouterr().out)


# -- one line for every expected error ------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "/srv/repos/x.rpm"),
            "/srv/repos/x.rpm: No space left on device; its filesystem is full: free some space there (df -h)",
        ),
        (
            OSError(errno.EROFS, "Read-only file system", "/srv/runs/m.json"),
            "/srv/runs/m.json: Read-only file system; its filesystem is mounted read-only: remount it read-write",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "/etc/x"),
            "/etc/x: Permission denied; check its owner and mode, or run the task as a user allowed there",
        ),
        (
            OSError(errno.EDQUOT, "Disk quota exceeded", "/home/u/f"),
            "/home/u/f: Disk quota exceeded; the disk quota is used up",
        ),
        (
            OSError(errno.ENOSPC, "No space left on device"),  # os.write on a descriptor names no file
            "No space left on device (ENOSPC); its filesystem is full",
        ),
        (
            OSError(errno.EXDEV, "Invalid cross-device link", "/a/.x.tmp", None, "/b/x"),
            "/a/.x.tmp -> /b/x: Invalid cross-device link; check the path and its filesystem",
        ),
        (
            NotADirectoryError(errno.ENOTDIR, "Not a directory", "/srv/file/logs"),
            "/srv/file/logs: Not a directory; a part of the path is a file, not a directory: correct the path",
        ),
    ],
)
def test_os_errors_are_one_line_naming_the_path_and_what_to_do(exc, line):
    message = one_line(exc)
    assert message.startswith(line) and "\n" not in message


@pytest.mark.parametrize(
    ("text", "advice"),
    [
        ("database is locked", "another process kept it busy longer than busy_timeout (0.5 s): let it finish"),
        ("attempt to write a readonly database", "this user may not write the file or its directory"),
        ("unable to open database file", "check that its directory exists"),
        ("database or disk is full", "its filesystem is full"),
        ("database disk image is malformed", "the file is damaged: restore it from a backup"),
    ],
)
def test_sqlite_errors_name_the_state_db_and_what_to_do(text, advice):
    message = one_line(sqlite3.OperationalError(text), db="/var/lib/distroforge/state.db", busy_timeout=0.5)
    assert message == f"state DB /var/lib/distroforge/state.db: {text}; {message.split('; ', 1)[1]}"
    assert advice in message and "\n" not in message


def test_undecodable_text_is_one_line():
    with pytest.raises(UnicodeDecodeError) as caught:
        b"caf\xe9\n".decode("utf-8")
    exc = caught.value
    assert one_line(exc) == "a file this task reads is not UTF-8 text (byte 0xe9 at offset 3); save it as UTF-8"


def test_an_unexpected_error_is_not_dressed_up():
    assert one_line(KeyError("x")) is None


@pytest.mark.parametrize(
    "exc",
    [
        InputError("keys_file: x is not valid YAML", rc=3),
        OSError(errno.ENOSPC, "No space left on device", "/full/out.json"),
        sqlite3.OperationalError("database is locked"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    ],
)
def test_run_fails_the_task_in_one_line(capsys, exc):
    def work(module):
        raise exc

    result = run_module(capsys, {"path": "/x"}, work)
    assert result["failed"] is True
    assert result["msg"] == one_line(exc) and "\n" not in result["msg"]
    assert "exception" not in result  # no traceback, at any verbosity


def test_run_lets_a_bug_keep_its_traceback(capsys):
    def work(module):
        raise KeyError("bug")

    with patch_module_args({}), pytest.raises(KeyError):
        DistroforgeModule(argument_spec={}).run(work)


# -- the state DB options -----------------------------------------------------------------------


def test_a_module_says_only_what_differs(capsys):
    def work(module):
        return {"changed": False, "seen": {k: module.params[k] for k in STATE_DB_OPTIONS}}

    result = run_module(capsys, {"db": "/s.db"}, work, spec={"lock_timeout": {"default": 600.0}}, state_db=True)
    assert result["seen"] == {"db": "/s.db", "busy_timeout": 30.0, "lock_timeout": 600.0}
    refused = run_module(capsys, {"db": "/s.db", "busy_timeout": -1}, work, spec={}, state_db=True)
    assert refused["failed"] and refused["msg"] == "busy_timeout must be 0 or more seconds, got -1.0"


def _listing(folder):
    return sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir())


def test_check_mode_neither_creates_nor_writes_the_state_db(capsys, tmp_path):
    db_path = tmp_path / "state.db"

    def work(module):
        with module.state_db() as db:
            return {"changed": False, "db": None if db is None else db.readonly}

    first = run_module(capsys, {"db": str(db_path), "_ansible_check_mode": True}, work, spec={}, state_db=True)
    assert first["db"] is None  # nothing there yet: what a first run starts from
    assert list(tmp_path.iterdir()) == []
    with StateDB(db_path) as db:
        db.queue([NewCommit("nova", "zed", "a" * 40, "b" * 40, 100)])
    before = _listing(tmp_path)
    result = run_module(capsys, {"db": str(db_path), "_ansible_check_mode": True}, work, spec={}, state_db=True)
    assert result["db"] is True  # opened read-only
    assert _listing(tmp_path) == before


# -- write unless check mode ---------------------------------------------------------------------


def _write(content, mode=None, **kw):
    def work(module):
        changed = module.write_unless_check(module.params["path"], content, mode=mode, **kw)
        return {"changed": changed}

    return work


def test_write_unless_check_diffs_first_and_writes_only_outside_check_mode(capsys, tmp_path):
    target = tmp_path / "answers.txt"
    args = {"path": str(target), "_ansible_diff": True}
    dry = run_module(capsys, {**args, "_ansible_check_mode": True}, _write("a=1\n", 0o600))
    assert dry["changed"] is True and not target.exists() and list(tmp_path.iterdir()) == []
    assert dry["diff"] == {
        "before_header": f"{target} (absent)",
        "after_header": str(target),
        "before": "",
        "after": "a=1\n",
    }
    assert run_module(capsys, args, _write("a=1\n", 0o600))["changed"] is True
    assert target.read_text() == "a=1\n" and target.stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path)) == ["answers.txt"]  # nothing left aside
    again = run_module(capsys, args, _write("a=1\n", 0o600))
    assert again["changed"] is False and again["diff"]["before"] == again["diff"]["after"] == "a=1\n"
    changed = run_module(capsys, {**args, "_ansible_check_mode": True}, _write("a=2\n", 0o600))
    assert changed["diff"]["before"] == "a=1\n" and changed["diff"]["after"] == "a=2\n"
    assert target.read_text() == "a=1\n"


def test_write_unless_check_fixes_a_wrong_mode_and_keeps_a_mode_it_is_not_told(capsys, tmp_path):
    target = tmp_path / "key.asc"
    target.write_text("key\n")
    target.chmod(0o640)
    dry = run_module(
        capsys, {"path": str(target), "_ansible_check_mode": True, "_ansible_diff": True}, _write("key\n", 0o644)
    )
    assert dry["changed"] is True and dry["diff"]["before"]["mode"] == "0640" and dry["diff"]["after"]["mode"] == "0644"
    assert target.stat().st_mode & 0o777 == 0o640
    assert run_module(capsys, {"path": str(target)}, _write("key\n", 0o644))["changed"] is True
    assert target.stat().st_mode & 0o777 == 0o644
    assert run_module(capsys, {"path": str(target)}, _write("new key\n"))["changed"] is True
    assert target.read_text() == "new key\n" and target.stat().st_mode & 0o777 == 0o644


def test_write_unless_check_refuses_a_missing_directory_in_one_line_also_in_check_mode(capsys, tmp_path):
    target = tmp_path / "missing" / "out.json"
    for check in (True, False):
        result = run_module(capsys, {"path": str(target), "_ansible_check_mode": check}, _write("{}", option="json"))
        assert result["msg"] == f"json: the directory {target.parent} does not exist; create it first"
    assert run_module(capsys, {"path": str(target)}, _write("{}", parents=True))["changed"] is True
    assert target.read_text() == "{}"


def test_write_unless_check_shows_what_the_caller_wants_in_the_diff(capsys, tmp_path):
    target = tmp_path / "answers.txt"
    target.write_text("PW=old-secret\n")

    def masked(data):
        return "" if data is None else data.decode().split("=")[0] + "=********\n"

    result = run_module(
        capsys,
        {"path": str(target), "_ansible_check_mode": True, "_ansible_diff": True},
        _write("PW=new-secret\n", shown=masked),
    )
    assert result["diff"]["before"] == result["diff"]["after"] == "PW=********\n"
    assert "secret" not in json.dumps(result)


def test_several_files_give_a_list_of_diffs(capsys, tmp_path):
    def work(module):
        for name in ("a", "b"):
            module.write_unless_check(str(tmp_path / name), name)
        return {"changed": True}

    result = run_module(capsys, {"_ansible_check_mode": True, "_ansible_diff": True}, work)
    assert [d["after"] for d in result["diff"]] == ["a", "b"]
