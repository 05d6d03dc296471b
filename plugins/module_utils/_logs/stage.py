"""Gather files and command outputs into one archive of sanitised, browsable text.

Every file is read under a per-file cap (head and tail kept around a marker
line), decoded, stripped of secrets, renamed to end in ``.txt`` so browsers
show it, gzipped above a size and added to a tar archive with an
``index.html``; a total cap bounds the whole.  Binary files are skipped and
reported.  The caller fetches the archive: nothing unsanitised leaves the
node.
"""

from __future__ import annotations

import fnmatch
import glob
import gzip
import io
import os
import shutil
import tarfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .._common.errors import InputError
from .._common.files import open_atomic
from . import index as index_html
from .sanitize import SecretPattern, sanitize

# The smallest piece of a file worth keeping when the total cap is nearly used up.
MIN_PIECE = 1024
BINARY_PROBE = 8192
GLOB_CHARS = set("*?[")

Runner = Callable[[Sequence[str]], Tuple[int, str, str]]


@dataclass(frozen=True)
class Limits:
    """Caps in bytes of text kept (after sanitising, before gzip); 0 means no cap or no gzip."""

    max_file_size: int = 10 * 1024 * 1024
    max_total_size: int = 200 * 1024 * 1024
    gzip_above: int = 1024 * 1024
    keep_suffixes: Tuple[str, ...] = (".txt", ".html")


@dataclass
class Staged:
    """One file in the archive."""

    src: str
    dest: str
    size: int
    stored_size: int
    original_size: int
    gzipped: bool = False
    redactions: int = 0
    cut_bytes: int = 0
    cut_reason: str = ""
    rc: Optional[int] = None


@dataclass
class Skipped:
    """A source that was not archived, and why."""

    src: str
    reason: str


@dataclass
class Stage:
    """What one collection kept, cut and skipped."""

    files: List[Staged] = field(default_factory=list)
    skipped: List[Skipped] = field(default_factory=list)

    @property
    def total_size(self) -> int:
        """Bytes of text kept, before gzip."""
        return sum(item.size for item in self.files)

    def result(self) -> Dict[str, Any]:
        """The module's return values: no file content, so no secret, ever."""
        return {
            "files": [asdict(item) for item in self.files],
            "not_collected": [asdict(item) for item in self.skipped],
            "cut": [
                {"src": item.src, "dest": item.dest, "cut_bytes": item.cut_bytes, "reason": item.cut_reason}
                for item in self.files
                if item.cut_bytes
            ],
            "redactions": sum(item.redactions for item in self.files),
            "total_size": self.total_size,
            "stored_size": sum(item.stored_size for item in self.files),
        }


def browsable_name(path: str, keep_suffixes: Iterable[str]) -> str:
    """``keystone.conf`` -> ``keystone.conf.txt``; names ending in a kept suffix stay as they are.

    A ``.gz`` source is decompressed when read, so its suffix goes first:
    ``keystone.log.2.gz`` -> ``keystone.log.2.txt``.
    """
    name = path[: -len(".gz")] if path.endswith(".gz") else path
    if any(name.endswith(suffix) for suffix in keep_suffixes):
        return name
    return name + ".txt"


def gather(paths: Iterable[str], exclude: Iterable[str]) -> Tuple[List[str], List[Skipped]]:
    """Expand files, directories (recursively) and globs into a sorted, de-duplicated file list.

    ``exclude`` holds fnmatch patterns on absolute paths (``*`` crosses ``/``),
    for material that must never leave the node even sanitised (key repositories).
    Paths that do not exist are reported only when given literally.
    """
    excluded = list(exclude)
    seen = set()
    found: List[str] = []
    skipped: List[Skipped] = []

    def add(candidate: str) -> None:
        candidate = os.path.normpath(candidate)
        if candidate in seen or not os.path.isfile(candidate):
            return
        seen.add(candidate)
        if any(fnmatch.fnmatch(candidate, pattern) for pattern in excluded):
            skipped.append(Skipped(candidate, "excluded"))
            return
        found.append(candidate)

    for path in paths:
        if not os.path.isabs(path):
            raise InputError(f"paths: {path!r} is not absolute; give the full path on the node")
        if GLOB_CHARS & set(path):
            matches = sorted(glob.glob(path, recursive=True))
        elif os.path.isdir(path):
            matches = []
            for root, dirs, files in os.walk(path):
                dirs.sort()
                matches += [os.path.join(root, name) for name in sorted(files)]
        elif os.path.lexists(path):
            matches = [path]
        else:
            skipped.append(Skipped(path, "not found"))
            continue
        for match in matches:
            if os.path.isdir(match):
                for root, dirs, files in os.walk(match):
                    dirs.sort()
                    for name in sorted(files):
                        add(os.path.join(root, name))
            else:
                add(match)
    return found, skipped


def _cut_marker(cut: int, original: int, cap: int, why: str) -> bytes:
    return (
        f"\n[... logs_collect: {cut} bytes cut here ({why}); the source had {original} bytes,"
        f" the cap is {cap} ...]\n".encode()
    )


def _head_tail(head: bytes, tail: bytes) -> Tuple[bytes, bytes]:
    """Trim to whole lines so no line (and no secret on it) is split by the cut."""
    if b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]
    if b"\n" in tail:
        tail = tail[tail.index(b"\n") + 1 :]
    return head, tail


def read_capped(path: str, cap: int) -> Tuple[bytes, int, int]:
    """Read a file (``.gz`` decompressed) keeping a quarter of ``cap`` from its head and the rest from its tail.

    Returns the kept bytes (with a marker line where bytes were cut), the
    source's size and the number of bytes cut.  A big plain file is not read
    whole: only its head and tail are.
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as stream:
        if cap <= 0:
            data = stream.read()
            return data, len(data), 0
        head_size = cap // 4
        tail_size = cap - head_size
        head = stream.read(head_size)
        if opener is open:
            size = os.fstat(stream.fileno()).st_size
            if size <= cap:
                data = head + stream.read()
                return data, len(data), 0
            stream.seek(size - tail_size)
            tail = stream.read(tail_size)
        else:
            buffer = bytearray()
            size = len(head)
            for chunk in iter(lambda: stream.read(1 << 16), b""):
                size += len(chunk)
                buffer += chunk
                if len(buffer) > 2 * tail_size:
                    del buffer[: len(buffer) - tail_size]
            if size <= cap:
                return head + bytes(buffer), size, 0
            tail = bytes(buffer[-tail_size:])
    head, tail = _head_tail(head, tail)
    cut = size - len(head) - len(tail)
    return head + _cut_marker(cut, size, cap, "per-file cap") + tail, size, cut


def _is_binary(data: bytes) -> bool:
    return b"\0" in data[:BINARY_PROBE]


def _default_runner(argv: Sequence[str]) -> Tuple[int, str, str]:
    import subprocess  # noqa: PLC0415 - only the default runner needs it

    proc = subprocess.run(list(argv), capture_output=True, check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


class Collector:
    """Sanitise, cap, rename and gzip sources into archive members, keeping count."""

    def __init__(self, patterns: Sequence[SecretPattern], limits: Limits) -> None:
        self.patterns = patterns
        self.limits = limits
        self.stage = Stage()
        self.members: List[Tuple[str, bytes]] = []

    def _budget(self) -> int:
        if self.limits.max_total_size <= 0:
            return -1
        return self.limits.max_total_size - self.stage.total_size

    def add(self, src: str, dest: str, raw: bytes, *, original: int, cut: int, rc: Optional[int] = None) -> None:
        """Sanitise ``raw`` (already per-file capped) and add it as ``dest``."""
        text, redactions = sanitize(raw.decode("utf-8", "replace"), self.patterns)
        data = text.encode("utf-8")
        reason = "per-file cap" if cut else ""
        budget = self._budget()
        if 0 <= budget < len(data):
            if budget < MIN_PIECE:
                self.stage.skipped.append(Skipped(src, "total cap reached"))
                return
            # Already sanitised: cutting it further cannot expose anything.
            marker_room = 200
            keep = max(budget - marker_room, 0)
            head, tail = _head_tail(data[: keep // 4], data[len(data) - (keep - keep // 4) :])
            extra = len(data) - len(head) - len(tail)
            data = head + _cut_marker(extra, original, self.limits.max_total_size, "total cap") + tail
            cut += extra
            reason = "total cap" if not reason else "per-file cap, total cap"
        size = len(data)
        gzipped = 0 < self.limits.gzip_above < size
        if gzipped:
            data = gzip.compress(data, mtime=0)
            dest += ".gz"
        self.members.append((dest, data))
        self.stage.files.append(
            Staged(src, dest, size, len(data), original, gzipped, redactions, cut, reason if cut else "", rc)
        )

    def add_file(self, path: str) -> None:
        """Read a file under the caps and add it at its own path (``/etc/x.conf`` -> ``etc/x.conf.txt``)."""
        try:
            raw, original, cut = read_capped(path, self.limits.max_file_size)
        except (OSError, EOFError) as exc:
            self.stage.skipped.append(Skipped(path, f"unreadable: {exc}"))
            return
        if _is_binary(raw):
            self.stage.skipped.append(Skipped(path, "binary"))
            return
        dest = browsable_name(path.lstrip("/"), self.limits.keep_suffixes)
        self.add(path, dest, raw, original=original, cut=cut)

    def add_command(self, name: str, argv: Sequence[str], runner: Runner) -> None:
        """Run a command and add its output as ``commands/<name>.txt``."""
        label = " ".join(argv)
        if shutil.which(argv[0]) is None:
            self.stage.skipped.append(Skipped(f"$ {label}", f"{argv[0]}: command not found"))
            return
        rc, out, err = runner(argv)
        raw = f"$ {label}\n{out}".encode()
        if err:
            raw += f"\n--- stderr ---\n{err}".encode()
        if rc:
            raw += f"\n--- exit status {rc} ---\n".encode()
        original = len(raw)
        cut = 0
        cap = self.limits.max_file_size
        if 0 < cap < len(raw):
            head, tail = _head_tail(raw[: cap // 4], raw[len(raw) - (cap - cap // 4) :])
            cut = len(raw) - len(head) - len(tail)
            raw = head + _cut_marker(cut, original, cap, "per-file cap") + tail
        self.add(f"$ {label}", f"commands/{name}.txt", raw, original=original, cut=cut, rc=rc)


def _tar_member(name: str, data: bytes, mtime: int) -> Tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = mtime
    return info, io.BytesIO(data)


def collect(
    archive: Optional[str],
    *,
    paths: Sequence[str],
    exclude: Sequence[str],
    commands: Sequence[Dict[str, Any]],
    patterns: Sequence[SecretPattern],
    limits: Limits,
    title: str = "Logs",
    runner: Optional[Runner] = None,
) -> Stage:
    """Collect commands first, then files, into ``archive`` (a tar, mode 0600); ``None`` writes nothing."""
    collector = Collector(patterns, limits)
    for index, command in enumerate(commands):
        name, argv = command.get("name"), command.get("argv")
        if not name or not argv or not isinstance(argv, list):
            raise InputError(f"commands[{index}]: needs name and argv (a list), got {command!r}")
        collector.add_command(str(name), [str(arg) for arg in argv], runner or _default_runner)
    files, skipped = gather(paths, exclude)
    collector.stage.skipped += skipped
    if archive:
        # The archive itself must never be collected.
        files = [path for path in files if os.path.abspath(path) != os.path.abspath(archive)]
    for path in files:
        collector.add_file(path)
    page = index_html.render(title, collector.stage, limits)
    if archive is None:
        return collector.stage
    directory = os.path.dirname(os.path.abspath(archive))
    if not os.path.isdir(directory):
        raise InputError(f"archive: directory {directory} does not exist")
    now = int(time.time())
    # Not fsynced: the archive is collected again by rerunning the task, and
    # readers see the previous archive or the complete new one either way.
    with open_atomic(archive, 0o600, durable=False) as raw_stream, tarfile.open(fileobj=raw_stream, mode="w") as tar:
        for name, data in [*collector.members, ("index.html", page.encode("utf-8"))]:
            tar.addfile(*_tar_member(name, data, now))
    return collector.stage
