"""Tar archives from a build or a distgit, checked before the engine writes anything from them.

The engine unpacks archives outside the sandbox, with the builder's
rights: the distgit commit (``git archive``) and the source tarball, which
is what the project's ``setup.py sdist`` made — code from upstream decides
its members.  A member may name a path outside the directory it is
unpacked into: ``../`` or an absolute path, a symlink or a hard link out,
or a path through such a symlink (CVE-2007-4559).

Python's tarfile refuses those with its ``'data'`` extraction filter, but
only from Python 3.11.4 / 3.12: Debian 12's python3 is 3.11.2 and has no
filter.  So every member is checked here first (:func:`check_members`), by
the data filter's rules and a few stricter ones, and the filter is used on
top where this Python has it.  ``test_build_hostile.py`` compares the two
on every hostile case where the filter exists.

Stricter than the data filter, because no source tarball or distgit needs
them: absolute member names (the filter strips the ``/``), ``..`` in a
member name even when it stays inside, hard links to anything but a file
of the archive, symlink loops, device files and FIFOs (the filter refuses
those too).
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from .contain import MIB, Refused

HAS_DATA_FILTER = hasattr(tarfile, "data_filter")
_MAX_LINK_HOPS = 40  # as the kernel's symlink resolution


@dataclass(frozen=True)
class Scope:
    """Where an archive must stay, and how a refusal says it."""

    where: str  # the project (or file) the error names
    what: str  # "distgit file", "sdist foo-1.0.tar.gz: member"
    inside: str  # "the distgit", "its top directory"
    advice: str  # the end of the error line
    top: str | None = None  # the one top directory members must stay in (None: the archive's root)


class _Escape(Exception):
    """A path resolved inside the archive leaves it (or loops)."""


def _resolve(parts: list[str], links: Mapping[str, str], hops: int = 0) -> list[str]:
    """``parts`` resolved as the kernel would, the archive's symlinks followed; _Escape when it leaves the root."""
    out: list[str] = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                raise _Escape
            out.pop()
            continue
        out.append(part)
        target = links.get("/".join(out))
        if target is None:
            continue
        if target.startswith("/") or hops >= _MAX_LINK_HOPS:
            raise _Escape
        out.pop()
        out = _resolve([*out, *target.split("/")], links, hops + 1)
    return out


def member_problem(member: tarfile.TarInfo, links: Mapping[str, str], files: set[str], top: str | None) -> str | None:
    """Why ``member`` must not be unpacked (a phrase), or None.

    ``links`` maps every symlink member's name to its target, ``files`` holds
    the regular files' names (hard links may only point at those).
    """
    return next(_problems(member, links, files, top), None)


def _problems(member: tarfile.TarInfo, links: Mapping[str, str], files: set[str], top: str | None) -> Iterator[str]:
    name = member.name.rstrip("/")
    parts = name.split("/")
    if name.startswith("/"):
        yield "has an absolute path"
    if ".." in parts:
        yield "has '..' in its path"
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        yield "is a device file or FIFO"

    def stays(path_parts: list[str]) -> bool:
        try:
            resolved = _resolve(path_parts, links)
        except _Escape:
            return False
        return top is None or (bool(resolved) and resolved[0] == top)

    parent = parts[:-1]
    # a symlink member is not followed itself (its target is checked below), what leads to it is
    if (member.issym() and parent and not stays(parent)) or (not member.issym() and not stays(parts)):
        yield "is reached through a symlink that leads out"
    target = member.linkname
    if member.issym() and (target.startswith("/") or not stays([*parent, *target.split("/")])):
        yield f"is a symlink to '{target}'"
    if member.islnk() and (target.startswith("/") or not stays(target.split("/"))):
        yield f"is a hard link to '{target}'"
    if member.islnk() and target.rstrip("/") not in files:
        yield f"is a hard link to '{target}', not a file of the archive"


def check_members(members: Iterable[tarfile.TarInfo], scope: Scope, *, size_limit: int | None = None) -> None:
    """Refused naming the first member that would land outside ``scope`` (or the total size over the limit)."""
    members = list(members)
    links = {m.name.rstrip("/"): m.linkname for m in members if m.issym()}
    files = {m.name.rstrip("/") for m in members if m.isreg()}
    for member in members:
        problem = member_problem(member, links, files, scope.top)
        if problem is not None:
            local = problem.startswith("is a device") or "not a file" in problem
            outside = "" if local else f", outside {scope.inside}"
            raise Refused(f"{scope.where}: {scope.what} '{member.name}' {problem}{outside}; {scope.advice}")
    if size_limit is not None:
        total = sum(m.size for m in members if m.isreg())
        if total > size_limit:
            raise Refused(
                f"{scope.where}: no space left: {scope.what.split(':')[0]} unpacks to {total / MIB:.1f} MiB, over the "
                f"build's disk limit of {size_limit / MIB:.1f} MiB (disk_limit); refused"
            )


def open_tar(path: str, scope: Scope) -> tarfile.TarFile:
    """``path`` opened as a (compressed) tar archive; Refused with one line when it is not one."""
    try:
        return tarfile.open(path)
    except (tarfile.TarError, EOFError, OSError):  # gzip raises OSError / EOFError on damaged data
        what = scope.what.split(":")[0] if ":" in scope.what else posixpath.basename(path)
        raise Refused(f"{scope.where}: {what} is not a tar archive (plain, gzip, bzip2 or xz); refused") from None


def extract(tar: tarfile.TarFile, dest: str, scope: Scope, *, size_limit: int | None = None) -> None:
    """Unpack ``tar`` into ``dest`` once every member passed :func:`check_members` (and the data filter)."""
    check_members(tar.getmembers(), scope, size_limit=size_limit)
    try:
        if HAS_DATA_FILTER:
            tar.extractall(dest, filter="data")
        else:  # checked above, by the same rules and stricter ones
            tar.extractall(dest)
    except tarfile.TarError as exc:  # FilterError included: a member the checks above let through
        raise Refused(f"{scope.where}: {scope.what.split(':')[0]} cannot be unpacked safely: {exc}; refused") from None
