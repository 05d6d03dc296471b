"""Hostile and harmless tar members, and what Python's 'data' extraction filter says of them.

No pytest here: the comparison with the filter also runs as a plain script
under any Python that has the filter (3.11.4+, 3.12+), e.g.
``python3.12 -c 'import hostile_archives as h; h.main()'`` from tests/unit.
"""

from __future__ import annotations

import io
import sys
import tarfile
import tempfile
from pathlib import Path

UP = "../" * 40  # enough to reach / from any build directory
TOP = "x"
Member = tuple[tarfile.TarInfo, bytes | None]


def reg(name: str, data: bytes = b"x\n") -> Member:
    return tarfile.TarInfo(name), data


def dirm(name: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info, None


def sym(name: str, target: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, None


def hard(name: str, target: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.LNKTYPE, target
    return info, None


def special(name: str, kind: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = kind, 1, 3
    return info, None


def tar_gz(members: list[Member]) -> bytes:
    """The members as a .tar.gz, exactly as given (names, links and types untouched)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


BASE = [dirm(TOP), reg(f"{TOP}/setup.py", b"import setuptools\n"), reg(f"{TOP}/hellodf/__init__.py")]


def hostile_cases(outside: str) -> dict[str, tuple[list[Member], str]]:
    """Members that would land outside the unpacked tree, and the phrase the refusal must hold.

    ``outside`` is an absolute directory holding ``keep`` and ``box/``: where
    an escape would write.
    """
    out = outside.lstrip("/")
    return {
        "'..' member": ([*BASE, reg(f"{TOP}/{UP}{out}/dotdot")], "has '..' in its path"),
        "absolute member": ([*BASE, reg(f"/{out}/absolute")], "has an absolute path"),
        "symlink to an absolute dir, a file through it": (
            [*BASE, sym(f"{TOP}/evil", f"/{out}/box"), reg(f"{TOP}/evil/through-absolute")],
            f"is a symlink to '/{out}/box'",
        ),
        "symlink up the tree, a file through it": (
            [*BASE, sym(f"{TOP}/evil", f"../{UP}{out}/box"), reg(f"{TOP}/evil/through-relative")],
            "is a symlink to '../",
        ),
        "symlink through a symlink (lexically inside)": (
            # d/e/up -> ../.. is the top dir, so evil -> d/e/up/../../.. leaves the archive,
            # though the spelling d/e/up/../../.. alone stays inside
            [*BASE, sym(f"{TOP}/d/e/up", "../.."), sym(f"{TOP}/evil", "d/e/up/../../.."), reg(f"{TOP}/evil/through")],
            "is a symlink to 'd/e/up/../../..'",
        ),
        "a file listed before the symlink out it goes through": (
            [*BASE, reg(f"{TOP}/up/box/through-up"), sym(f"{TOP}/up", f"{UP}{out}")],
            "is reached through a symlink that leads out",
        ),
        "hard link to an absolute file": (
            [*BASE, hard(f"{TOP}/hl", f"/{out}/keep"), reg(f"{TOP}/hl", b"overwritten\n")],
            f"is a hard link to '/{out}/keep'",
        ),
        "hard link up the tree": ([*BASE, hard(f"{TOP}/hl", f"{UP}{out}/keep")], "is a hard link to '../"),
        "device file": ([*BASE, special(f"{TOP}/null", tarfile.CHRTYPE)], "is a device file or FIFO"),
        "FIFO": ([*BASE, special(f"{TOP}/pipe", tarfile.FIFOTYPE)], "is a device file or FIFO"),
    }


def harmless_cases() -> dict[str, list[Member]]:
    """Members every check must let through: links that stay inside the tree."""
    return {
        "plain tree": list(BASE),
        "symlink to a file inside": [*BASE, sym(f"{TOP}/link", "hellodf/__init__.py")],
        "symlink up and back in": [*BASE, sym(f"{TOP}/hellodf/up", "../setup.py")],
        "a file through an in-tree symlink": [*BASE, dirm(f"{TOP}/d"), sym(f"{TOP}/l", "d"), reg(f"{TOP}/l/f")],
        "hard link inside": [*BASE, hard(f"{TOP}/again.py", f"{TOP}/setup.py")],
    }


# Refused by our checks though the 'data' filter would unpack them: the filter
# strips the leading '/' of an absolute name (it lands inside); we refuse what no
# source tarball or distgit has.
STRICTER_THAN_DATA_FILTER = {"absolute member"}


def data_filter_refuses(members: list[Member]) -> bool:
    """True when Python's 'data' filter refuses to unpack ``members`` (into a fresh directory)."""
    with tempfile.TemporaryDirectory() as dest, tarfile.open(fileobj=io.BytesIO(tar_gz(members))) as tar:
        try:
            tar.extractall(dest, filter="data")
        except tarfile.FilterError:
            return True
    return False


def compare_with_data_filter(outside: str) -> list[str]:
    """Where our checks and the 'data' filter disagree beyond STRICTER_THAN_DATA_FILTER (empty: they agree)."""
    from ansible_collections.distroforge.openstack.plugins.module_utils._build import archive  # noqa: PLC0415

    def ours(members: list[Member]) -> bool:
        with tarfile.open(fileobj=io.BytesIO(tar_gz(members))) as tar:
            scope = archive.Scope(where="t", what="member", inside="the tree", advice="refused")
            try:
                archive.check_members(tar.getmembers(), scope)
            except archive.Refused:
                return True
        return False

    cases = {name: members for name, (members, _phrase) in hostile_cases(outside).items()}
    cases.update(harmless_cases())
    disagree = []
    for name, members in cases.items():
        we, filt = ours(members), data_filter_refuses(members)
        if we != filt and not (we and name in STRICTER_THAN_DATA_FILTER):
            disagree.append(
                f"{name}: ours {'refuses' if we else 'accepts'}, data filter {'refuses' if filt else 'accepts'}"
            )
    return disagree


def main() -> None:
    """Run the comparison with this Python's filter (collection found through ../../.venv/collections)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".venv" / "collections"))
    with tempfile.TemporaryDirectory() as outside:
        (Path(outside) / "box").mkdir()
        (Path(outside) / "keep").write_text("keep\n")
        disagree = compare_with_data_filter(outside)
        count = len(hostile_cases(outside)) + len(harmless_cases())
    print(f"{sys.version.split()[0]}: {count} cases, disagreements: {disagree or 'none'}")
    raise SystemExit(1 if disagree else 0)
