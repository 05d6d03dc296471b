"""Package names: rpm NEVRA strings and DLRN's repository layout."""

from __future__ import annotations

import re
from typing import Any, Dict, Optional

from .._common.errors import InputError

# Architectures rpm builds for.  Without a ``.rpm`` suffix the last dotted
# part of a release is only an arch when it is one of these: in
# ``keystone-22.0.1-0.20221010120000.abcdef1`` "abcdef1" is a commit hash.
RPM_ARCHES = frozenset(
    {
        "noarch", "src", "nosrc",
        "x86_64", "x86_64_v2", "x86_64_v3", "x86_64_v4", "i386", "i486", "i586", "i686", "athlon",
        "aarch64", "armv6hl", "armv7hl", "armv7hnl", "armv7l",
        "ppc", "ppc64", "ppc64le", "ppc64p7", "s390", "s390x", "riscv64", "loongarch64",
        "mips", "mipsel", "mips64", "mips64el", "ia64", "alpha", "sparc", "sparc64",
    }
)  # fmt: skip

_NAME_CHARS = re.compile(r"^[A-Za-z0-9._+^~-]+$")
_HEX_HASH = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _nvr_error(value: object, why: str) -> InputError:
    return InputError(f"package name {value!r} is not name-[epoch:]version-release[.arch][.rpm]: {why}")


def nvr_parse(nevra: str) -> Dict[str, Any]:
    """Split an rpm package string into name, epoch, version, release and arch.

    Accepts ``name-version-release``, ``name-epoch:version-release`` and
    yum's ``epoch:name-version-release``, each optionally followed by
    ``.arch`` and, for file names, ``.rpm`` (then the arch is required).
    ``epoch`` is an int or None, ``arch`` a string or None.
    """
    if not isinstance(nevra, str) or not nevra:
        raise _nvr_error(nevra, "give a non-empty string")
    if not _NAME_CHARS.match(nevra.replace(":", "")):
        raise _nvr_error(nevra, "only letters, digits and . _ + ^ ~ - : are allowed (give a file name, not a path)")
    text = nevra
    arch: Optional[str] = None
    if text.endswith(".rpm"):
        text = text[: -len(".rpm")]
        head, dot, arch = text.rpartition(".")
        if not dot or not arch or "-" in arch:
            raise _nvr_error(nevra, "an .rpm file name needs an arch before .rpm")
        text = head
    else:
        head, dot, last = text.rpartition(".")
        if dot and last in RPM_ARCHES:
            text, arch = head, last

    epoch: Optional[int] = None
    leading = re.match(r"^(\d+):(.*)$", text)
    if leading:  # yum's epoch:name-version-release
        epoch, text = int(leading.group(1)), leading.group(2)

    name_version, sep, release = text.rpartition("-")
    if not sep or not release:
        raise _nvr_error(nevra, "the release after the last '-' is missing")
    name, sep, version = name_version.rpartition("-")
    if not sep or not name or not version:
        raise _nvr_error(nevra, "the name or the version is missing")
    if ":" in version:
        version_epoch, version = version.split(":", 1)
        if epoch is not None or not version_epoch.isdigit() or not version_epoch.isascii():
            raise _nvr_error(nevra, f"the epoch {version_epoch!r} is not a number")
        epoch = int(version_epoch)
    if ":" in name or ":" in release or not version:
        raise _nvr_error(nevra, "a ':' may only follow the epoch")
    return {"name": name, "epoch": epoch, "version": version, "release": release, "arch": arch}


def _check_hash(value: object, what: str) -> str:
    if not isinstance(value, str) or not _HEX_HASH.match(value):
        raise InputError(f"{what} {value!r} is not a git commit hash: give the full 40 (or 64) lowercase hex digits")
    return value


def repo_path(
    commit_hash: str,
    distro_hash: str,
    *,
    extended_hash: Optional[str] = None,
    component: Optional[str] = None,
) -> str:
    """Directory of a build under ``repos/``, laid out exactly as DLRN does.

    ``<commit_hash[0:2]>/<commit_hash[2:4]>/<commit_hash>_<distro_hash[0:8]>``,
    plus ``_<extended_hash[0:8]>`` (``_<first[0:8]>_<second[0:8]>`` for a
    dual ``first_second`` extended hash) and a ``component/<component>/``
    prefix, as DLRN's ``Commit.getshardedcommitdir`` builds them.
    """
    _check_hash(commit_hash, "commit_hash")
    _check_hash(distro_hash, "distro_hash")
    leaf = f"{commit_hash}_{distro_hash[:8]}"
    if extended_hash is not None:
        first, sep, second = extended_hash.partition("_") if isinstance(extended_hash, str) else ("", "", "")
        _check_hash(first, "extended_hash")
        if sep:
            _check_hash(second, "extended_hash")
            leaf += f"_{first[:8]}_{second[:8]}"
        else:
            leaf += f"_{first[:8]}"
    prefix = ""
    if component is not None:
        if not isinstance(component, str) or not _COMPONENT.match(component):
            raise InputError(f"component {component!r} is not a valid name: use letters, digits, '.', '_' and '-'")
        prefix = f"component/{component}/"
    return f"{prefix}{commit_hash[:2]}/{commit_hash[2:4]}/{leaf}"
