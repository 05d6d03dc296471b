"""One home per primitive: write-aside-and-rename, fsync, sha256 of a file and flock live in ``_common``.

A scan of ``plugins/`` fails when one of them is written again anywhere
else (each exception that remains is listed with its reason, and an entry
nothing needs any more fails too, so the list only shrinks); the state DB is
written and read through ``StateDB`` alone.  Then the primitives themselves:
what each promises a caller.
"""

from __future__ import annotations

import ast
import hashlib
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common import files, locks
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.atomic import PublishBusy, exclusive_lock
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.schema import FLAG_PUBLISHED, FLAG_PURGED

TOP = Path(__file__).resolve().parents[2]
PLUGINS = TOP / "plugins"
ENGINE = PLUGINS / "module_utils"
# The homes: the only files where the primitives are written out.
HOMES = {"plugins/module_utils/_common/files.py", "plugins/module_utils/_common/locks.py"}

RENAME, FSYNC, FLOCK, FILE_HASH = "write-aside-and-rename", "fsync", "flock", "sha256 of a file"

# (file, primitive): why a copy is still there.  Each entry must still be needed.
ALLOWED = {
    ("plugins/module_utils/_sources/git.py", RENAME): (
        "a bare repository made by `git init` moves into place under the mirror lock; git writes (and does not"
        " fsync) its files itself, so there is no content of ours to write aside"
    ),
    ("plugins/module_utils/_build/deb.py", RENAME): (
        "renames the unpacked upstream directory inside the build's scratch tree; nothing is replaced"
    ),
    ("plugins/module_utils/_build/backends/sbuild.py", RENAME): (
        "mmdebstrap writes the chroot tarball aside itself; it is renamed into the cache under the cache lock"
    ),
}
# Files that run SQL outside _statedb, and why.
SQL_ALLOWED = {
    "plugins/module_utils/_api/queries.py": (
        "read-only DLRN-compatible queries of the API (pages, metrics, filters); every write is a StateDB method"
    ),
}

_SQL = ("execute", "executemany", "executescript")
_READS = {"read", "read_bytes", "read_text", "readinto", "file_digest"}
_PRIMITIVE_CALLS = {
    "os.replace": RENAME,
    "os.rename": RENAME,
    "os.renames": RENAME,
    "shutil.move": RENAME,
    "os.fsync": FSYNC,
    "os.fdatasync": FSYNC,
    "os.sync": FSYNC,
    "fcntl.flock": FLOCK,
    "fcntl.lockf": FLOCK,
    "fcntl.fcntl": FLOCK,
}


class _Scan(ast.NodeVisitor):
    """Primitives written out in one module: ``{(function, primitive)}``, and its SQL calls."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}  # local name -> dotted name (import os as o; from os import replace)
        self.found: set[tuple[str, str]] = set()
        self.sql: set[str] = set()
        self._stack: list[str] = ["<module>"]
        self._functions: dict[str, list[ast.Call]] = {}
        self._assigned: dict[str, list[ast.Assign]] = {}

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.aliases[alias.asname or alias.name] = alias.name

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def _function(self, node: ast.AST) -> None:
        self._stack.append(f"{self._stack[-1]}.{node.name}" if len(self._stack) > 1 else node.name)
        self.generic_visit(node)
        self._stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _function

    def visit_Assign(self, node: ast.Assign) -> None:
        self._assigned.setdefault(self._stack[-1], []).append(node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        self._functions.setdefault(self._stack[-1], []).append(node)
        self.generic_visit(node)

    def dotted(self, func: ast.expr) -> str:
        parts = []
        while isinstance(func, ast.Attribute):
            parts.append(func.attr)
            func = func.value
        if not isinstance(func, ast.Name):
            return ""
        parts.append(self.aliases.get(func.id, func.id))
        return ".".join(reversed(parts))

    def finish(self) -> None:
        for function, calls in self._functions.items():
            hashes = [call for call in calls if self.dotted(call.func).startswith("hashlib.")]
            reads = [call for call in calls if _is_read(call)]
            updates = any(isinstance(c.func, ast.Attribute) and c.func.attr == "update" for c in calls)
            read_names = {
                target.id
                for assign in self._assigned.get(function, [])
                if any(_is_read(sub) for sub in ast.walk(assign.value) if isinstance(sub, ast.Call))
                for target in assign.targets
                if isinstance(target, ast.Name)
            }
            for call in calls:
                name = self.dotted(call.func)
                kind = _PRIMITIVE_CALLS.get(name)
                if kind is None and _is_path_rename(call, name):
                    kind = RENAME
                if kind:
                    self.found.add((function, kind))
                if isinstance(call.func, ast.Attribute) and call.func.attr in (
                    "execute",
                    "executemany",
                    "executescript",
                ):
                    self.sql.add(function)
            for call in hashes:
                inside = [sub for arg in call.args for sub in ast.walk(arg)]
                if (
                    self.dotted(call.func) == "hashlib.file_digest"
                    or any(isinstance(sub, ast.Call) and _is_read(sub) for sub in inside)
                    or any(isinstance(sub, ast.Name) and sub.id in read_names for sub in inside)
                    or (updates and reads)
                ):
                    self.found.add((function, FILE_HASH))


def _is_read(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Attribute) and call.func.attr in _READS


def _is_path_rename(call: ast.Call, name: str) -> bool:
    """``path.replace(target)`` / ``path.rename(target)``: pathlib's rename (str.replace takes two arguments)."""
    return (
        isinstance(call.func, ast.Attribute)
        and call.func.attr in ("replace", "rename")
        and len(call.args) == 1
        and not call.keywords
        and not name.startswith(("dataclasses.", "str.", "bytes."))
    )


def scan(source: str) -> _Scan:
    """Scan one module's source."""
    visitor = _Scan()
    visitor.visit(ast.parse(source))
    visitor.finish()
    return visitor


def tree_findings() -> tuple[dict[tuple[str, str], list[str]], dict[str, list[str]]]:
    """``{(file, primitive): [functions]}`` outside the homes, and ``{file: [functions running SQL]}``."""
    found: dict[tuple[str, str], list[str]] = {}
    sql: dict[str, list[str]] = {}
    for path in sorted(PLUGINS.rglob("*.py")):
        rel = path.relative_to(TOP).as_posix()
        if rel in HOMES:
            continue
        result = scan(path.read_text(encoding="utf-8"))
        for function, kind in sorted(result.found):
            found.setdefault((rel, kind), []).append(function)
        if result.sql and not rel.startswith("plugins/module_utils/_statedb/"):
            sql[rel] = sorted(result.sql)
    return found, sql


def test_no_primitive_is_written_again_outside_common():
    found, _sql = tree_findings()
    new = sorted(
        f"{path}: {kind} in {', '.join(functions)}"
        for (path, kind), functions in found.items()
        if (path, kind) not in ALLOWED
    )
    assert not new, (
        "a primitive written again: use plugins/module_utils/_common/files.py (write_atomic, open_atomic,"
        " write_atomic_if_changed, swap_symlink, rename_into_place, remove_dir_atomic, fsync_path, fsync_tree,"
        " sha256_file) or _common/locks.py (exclusive_lock), or list it in ALLOWED with the reason:\n" + "\n".join(new)
    )
    stale = sorted(f"{path}: {kind}" for path, kind in ALLOWED if (path, kind) not in found)
    assert not stale, "ALLOWED names copies that are gone: remove these entries:\n" + "\n".join(stale)


def test_the_state_db_is_used_through_statedb_methods_only():
    _found, sql = tree_findings()
    raw = sorted(f"{path}: {', '.join(functions)}" for path, functions in sql.items() if path not in SQL_ALLOWED)
    assert not raw, "SQL outside _statedb: add a named StateDB method instead:\n" + "\n".join(raw)
    stale = sorted(path for path in SQL_ALLOWED if path not in sql)
    assert not stale, "SQL_ALLOWED names files that run no SQL any more: remove them:\n" + "\n".join(stale)


# Re-implementations the scan must see, written as someone would write them.
HOSTILE = {
    "os.replace of a temp file": (
        RENAME,
        """
        import os
        def save(path, data):
            with open(path + ".tmp", "wb") as handle:
                handle.write(data)
            os.replace(path + ".tmp", path)
        """,
    ),
    "os.rename imported under another name": (
        RENAME,
        """
        from os import rename as mv
        def save(path, tmp):
            mv(tmp, path)
        """,
    ),
    "pathlib rename": (
        RENAME,
        """
        from pathlib import Path
        def save(path: Path, text):
            tmp = path.with_suffix(".new")
            tmp.write_text(text)
            tmp.replace(path)
        """,
    ),
    "tempfile and shutil.move": (
        RENAME,
        """
        import shutil, tempfile
        def save(path, data):
            with tempfile.NamedTemporaryFile(delete=False) as handle:
                handle.write(data)
            shutil.move(handle.name, path)
        """,
    ),
    "directory fsync": (
        FSYNC,
        """
        import os
        def flush(directory):
            fd = os.open(directory, os.O_RDONLY)
            os.fsync(fd)
        """,
    ),
    "fdatasync in a method": (
        FSYNC,
        """
        import os as o
        class Writer:
            def flush(self):
                o.fdatasync(self.fd)
        """,
    ),
    "flock with a timeout loop": (
        FLOCK,
        """
        import fcntl, time
        def lock(fd, timeout):
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    time.sleep(0.01)
        """,
    ),
    "lockf imported by name": (
        FLOCK,
        """
        from fcntl import lockf, LOCK_EX
        def lock(handle):
            lockf(handle, LOCK_EX)
        """,
    ),
    "sha256 of a whole file": (
        FILE_HASH,
        """
        import hashlib
        def digest(path):
            with open(path, "rb") as handle:
                return hashlib.sha256(handle.read()).hexdigest()
        """,
    ),
    "sha256 of read_bytes": (
        FILE_HASH,
        """
        import hashlib
        def digest(path):
            return hashlib.sha256(path.read_bytes()).hexdigest()
        """,
    ),
    "sha256 in chunks": (
        FILE_HASH,
        """
        import hashlib
        def digest(path):
            h = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(65536), b""):
                    h.update(block)
            return h.hexdigest()
        """,
    ),
    "sha256 of data read first": (
        FILE_HASH,
        """
        from hashlib import sha256
        def digest(path):
            with open(path, "rb") as handle:
                data = handle.read()
            return sha256(data).hexdigest()
        """,
    ),
    "hashlib.file_digest": (
        FILE_HASH,
        """
        import hashlib
        def digest(handle):
            return hashlib.file_digest(handle, "sha256").hexdigest()
        """,
    ),
}
# What the scan must leave alone: not file primitives.
BENIGN = {
    "str.replace": 'def f(text):\n    return text.replace("a", "b")\n',
    "dataclasses.replace": "import dataclasses\ndef f(r):\n    return dataclasses.replace(r, a=1)\n",
    "hash of a name": "import hashlib\ndef f(url):\n    return hashlib.sha256(url.encode()).hexdigest()\n",
    "hash of a name, file read elsewhere": (
        "import hashlib, pickle\ndef f(path):\n    key = hashlib.sha256(path.encode()).hexdigest()\n"
        "    with open(key, 'rb') as handle:\n        return pickle.load(handle)\n"
    ),
    "the primitives, imported": (
        "from .._common.files import write_atomic\ndef f(p):\n    write_atomic(p, b'x', 0o644)\n"
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_scan_sees_a_reimplementation(name):
    kind, source = HOSTILE[name]
    assert kind in {found_kind for _function, found_kind in scan(textwrap.dedent(source)).found}


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_the_scan_leaves_other_code_alone(name):
    assert scan(BENIGN[name]).found == set()


def test_the_scan_sees_raw_sql():
    assert scan(
        "def mark(db):\n    with db.writer() as conn:\n        conn.execute('UPDATE commits SET flags = 4')\n"
    ).sql


# -- the primitives ----------------------------------------------------------------------------


def test_write_atomic_if_changed_leaves_an_unchanged_file_alone(tmp_path):
    path = tmp_path / "repomd.xml"
    assert files.write_atomic_if_changed(path, "one\n")
    before = path.stat()
    assert not files.write_atomic_if_changed(path, "one\n")
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert files.write_atomic_if_changed(path, b"two\n", mode=0o600)
    assert path.read_bytes() == b"two\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repomd.xml"]


def test_the_mode_is_exact_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        files.write_atomic(tmp_path / "a", b"x", 0o644)
        with files.open_atomic(tmp_path / "b", 0o640) as stream:
            stream.write(b"y")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o640


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_aside(tmp_path):
    path = tmp_path / "logs.tar"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), files.open_atomic(path, 0o600) as stream:
        stream.write(b"half of the new")
        raise RuntimeError("killed half-way")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["logs.tar"]


def test_a_reader_never_sees_half_a_file(tmp_path):
    """A writer killed by SIGKILL while writing leaves the previous content under the name."""
    path = tmp_path / "report.json"
    path.write_bytes(b"previous")
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, os\n"
            "from ansible_collections.distroforge.openstack.plugins.module_utils._common.files import open_atomic\n"
            "with open_atomic(sys.argv[1], 0o644) as s:\n"
            "    s.write(b'new' * 1000); s.flush(); print('writing', flush=True); sys.stdin.read()\n",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=TOP,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert child.stdout.readline() == b"writing\n"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert path.read_bytes() == b"previous"


def test_swap_symlink_moves_a_link_and_refuses_a_real_directory(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    link = tmp_path / "current"
    assert files.swap_symlink(link, "a")
    assert not files.swap_symlink(link, "a")
    assert files.swap_symlink(link, "b")
    assert os.readlink(link) == "b"
    with pytest.raises(InputError, match=r"a\b.* is a real file or directory, not a symlink: move it aside"):
        files.swap_symlink(tmp_path / "a", "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "current"]


def test_rename_into_place_and_remove_leave_the_trash_empty(tmp_path):
    trash = tmp_path / ".trash"
    for content in ("first", "second"):
        staged = tmp_path / ".repo.staging"
        staged.mkdir()
        (staged / "file").write_text(content)
        files.fsync_tree(staged)
        files.rename_into_place(staged, tmp_path / "deep" / "repo", trash)
        assert (tmp_path / "deep" / "repo" / "file").read_text() == content
        assert not staged.exists()
    files.remove_dir_atomic(tmp_path / "deep" / "repo", trash)
    files.remove_dir_atomic(tmp_path / "deep" / "repo", trash)  # gone already: nothing to do
    assert not (tmp_path / "deep" / "repo").exists()
    assert list(trash.iterdir()) == []


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 7])
def test_sha256_file_is_hashlib_over_the_whole_file(tmp_path, size):
    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    assert files.sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()


def _hold(lock_path: Path) -> subprocess.Popen:
    """A child process holding ``lock_path`` until its stdin closes (or it is killed)."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from ansible_collections.distroforge.openstack.plugins.module_utils._common.locks import exclusive_lock\n"
            "with exclusive_lock(sys.argv[1], 10):\n"
            "    print('held', flush=True); sys.stdin.read()\n",
            str(lock_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert child.stdout.readline() == b"held\n"
    return child


def test_a_held_lock_fails_in_the_callers_words(tmp_path):
    lock = tmp_path / ".publish.lock"
    child = _hold(lock)
    try:
        busy = r"^publish into x: another publisher held .*\.publish\.lock for more than 0 s: wait for it"
        with pytest.raises(PublishBusy, match=busy), exclusive_lock(lock, 0, "publish into x"):
            pass
        busy = r"another process held the lock .*\.publish\.lock for more than 0 s"
        with pytest.raises(locks.LockBusy, match=busy), locks.exclusive_lock(lock, 0):
            pass
    finally:
        child.stdin.close()
        child.wait()
    with exclusive_lock(lock, 0, "publish into x"):  # released when the holder left
        pass


def test_the_kernel_drops_the_lock_of_a_killed_holder(tmp_path):
    lock = tmp_path / "mirror.git.lock"
    child = _hold(lock)
    child.send_signal(signal.SIGKILL)
    child.wait()
    with locks.exclusive_lock(lock, 0):
        pass


def test_no_timeout_waits_for_the_holder(tmp_path):
    lock = tmp_path / "mirror.git.lock"
    child = _hold(lock)
    child.stdin.close()  # the holder leaves once it reads end of file; we wait for it, however long
    with locks.exclusive_lock(lock, None):
        assert child.wait() == 0


def test_a_lock_that_cannot_be_opened_is_one_line(tmp_path):
    missing = tmp_path / "missing" / ".publish.lock"
    cannot = r"^publish into x lock .*: cannot open: No such file or directory: check the directory permissions$"
    with pytest.raises(InputError, match=cannot), exclusive_lock(missing, 1, "publish into x"):
        pass


# -- state DB flags through StateDB -------------------------------------------------------------


def _commit(db: StateDB) -> int:
    [record] = db.queue(
        [{"project": "nova", "release": "master", "commit_hash": "a" * 40, "distro_hash": "b" * 40, "dt_commit": 1}]
    )
    db.claim(record.id, "builder")
    db.finish(record.id, "SUCCESS")
    return record.id


def test_flags_are_set_by_named_methods_once(tmp_path):
    with StateDB(tmp_path / "state.db") as db:
        commit_id = _commit(db)
        assert db.mark_published(commit_id)
        assert not db.mark_published(commit_id)
        assert db.get(commit_id).flags == FLAG_PUBLISHED
        assert db.mark_purged(commit_id)
        assert not db.mark_purged(commit_id)
        assert db.get(commit_id).flags == FLAG_PUBLISHED | FLAG_PURGED
        with pytest.raises(InputError, match=r"no commit with id 999"):
            db.mark_published(999)


def test_a_flag_set_inside_a_failed_transaction_is_not_kept(tmp_path):
    with StateDB(tmp_path / "state.db") as db:
        commit_id = _commit(db)
        with pytest.raises(RuntimeError), db.writer():
            assert db.mark_published(commit_id)
            raise RuntimeError("the vote recorded with it failed")
        assert db.get(commit_id).flags == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_the_new_file_keeps_the_owner_of_the_file_it_replaces_never_of_a_link_target(tmp_path):
    other = tmp_path / "someone-elses"
    other.write_bytes(b"theirs")
    os.chown(other, 12345, 12345)
    replaced = tmp_path / "answers.txt"
    replaced.write_bytes(b"old")
    os.chown(replaced, 12345, 12345)
    files.write_atomic(replaced, b"new", 0o600)
    assert (replaced.stat().st_uid, replaced.stat().st_gid) == (12345, 12345)
    planted = tmp_path / "hellodf-1.0.tar.gz"
    planted.symlink_to(other)
    with files.open_atomic(planted, 0o644) as stream:
        stream.write(b"tarball")
    assert not planted.is_symlink() and planted.read_bytes() == b"tarball"
    assert (planted.stat().st_uid, planted.stat().st_gid) == (os.geteuid(), os.getegid())
    assert other.read_bytes() == b"theirs"
