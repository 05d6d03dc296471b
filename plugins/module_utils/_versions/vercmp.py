"""Version comparison exactly as rpm and dpkg order versions.

``rpm_vercmp`` and ``deb_vercmp`` answer "which of these two package
versions is newer" the way the package managers on the target nodes will,
so that the pipeline never publishes a build that ``dnf``/``apt`` would
consider older than what is already installed.
"""

from __future__ import annotations

from typing import Optional, Tuple

from .._common.errors import InputError

try:  # pragma: no cover - which branch runs depends on the machine
    import rpm as _rpm

    _rpm_label_compare = getattr(_rpm, "labelCompare", None)
except ImportError:  # pragma: no cover
    _rpm_label_compare = None

try:
    from debian.debian_support import version_compare as _deb_version_compare
except ImportError:  # pragma: no cover - python-debian is a hard dependency of the venv
    _deb_version_compare = None

Evr = Tuple[Optional[str], str, Optional[str]]


def _ascii_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def _ascii_alpha(ch: str) -> bool:
    # rpm uses its own locale-independent ASCII classes (risalpha/risdigit):
    # str.isalpha() would also accept "é" and change the segmentation.
    return "a" <= ch <= "z" or "A" <= ch <= "Z"


def _ascii_alnum(ch: str) -> bool:
    return _ascii_digit(ch) or _ascii_alpha(ch)


def _segment_end(text: str, start: int, digits: bool) -> int:
    test = _ascii_digit if digits else _ascii_alpha
    end = start
    while end < len(text) and test(text[end]):
        end += 1
    return end


# One function with rpm's structure, so it can be read side by side with rpmvercmp.c.
def rpmvercmp_python(a: str, b: str) -> int:  # noqa: PLR0911, PLR0912
    """Compare two version (or release) strings with rpm's ``rpmvercmp`` rules.

    A pure-Python statement of the algorithm in rpm's ``rpmio/rpmvercmp.c``:
    strings split into runs of ASCII digits and ASCII letters, anything else
    separates runs; ``~`` sorts before everything (even the end of the
    string), ``^`` sorts after the end but before any other run; a numeric
    run beats a letter run; numbers compare by value (leading zeros ignored),
    letters byte-wise; if all runs tie the string with more runs wins.
    """
    if a == b:
        return 0
    # rpm compares bytes; comparing UTF-8 bytes keeps strcmp's order for
    # letters and makes every non-ASCII byte a separator, as in rpm.
    one = a.encode("utf-8", "surrogateescape").decode("latin-1")
    two = b.encode("utf-8", "surrogateescape").decode("latin-1")
    i = j = 0
    while i < len(one) or j < len(two):
        while i < len(one) and not _ascii_alnum(one[i]) and one[i] not in "~^":
            i += 1
        while j < len(two) and not _ascii_alnum(two[j]) and two[j] not in "~^":
            j += 1
        c1 = one[i] if i < len(one) else ""
        c2 = two[j] if j < len(two) else ""

        # Tilde: a pre-release marker, older than anything else at this point.
        if c1 == "~" or c2 == "~":
            if c1 != "~":
                return 1
            if c2 != "~":
                return -1
            i += 1
            j += 1
            continue

        # Caret: a post-release marker, newer than the end of the string but
        # older than any further segment.
        if c1 == "^" or c2 == "^":
            if not c1:
                return -1
            if not c2:
                return 1
            if c1 != "^":
                return 1
            if c2 != "^":
                return -1
            i += 1
            j += 1
            continue

        if not (c1 and c2):
            break

        digits = _ascii_digit(c1)
        end1 = _segment_end(one, i, digits)
        end2 = _segment_end(two, j, digits)
        seg1, seg2 = one[i:end1], two[j:end2]
        if not seg2:
            # Segments of different kinds: numbers are newer than letters.
            return 1 if digits else -1
        if digits:
            seg1 = seg1.lstrip("0")
            seg2 = seg2.lstrip("0")
            if len(seg1) != len(seg2):
                return 1 if len(seg1) > len(seg2) else -1
        if seg1 != seg2:
            return 1 if seg1 > seg2 else -1
        i, j = end1, end2

    rest1 = i < len(one)
    rest2 = j < len(two)
    if not rest1 and not rest2:
        return 0
    return 1 if rest1 else -1


def parse_evr(evr: str) -> Evr:
    """Split ``[epoch:]version[-release]`` the way rpm's ``parseEVR`` does.

    The epoch is the leading run of digits when a ``:`` follows it (an empty
    epoch means 0); the release is whatever follows the last ``-``.  Missing
    parts are ``None``; an empty version raises InputError.
    """
    if not isinstance(evr, str) or not evr:
        raise InputError(f"rpm version {evr!r} is empty or not a string: give [epoch:]version[-release]")
    if "\0" in evr:
        raise InputError(f"rpm version {evr!r} contains a NUL byte: give [epoch:]version[-release]")
    digits = 0
    while digits < len(evr) and _ascii_digit(evr[digits]):
        digits += 1
    epoch: Optional[str] = None
    rest = evr
    if digits < len(evr) and evr[digits] == ":":
        epoch = evr[:digits] or "0"
        rest = evr[digits + 1 :]
    version, sep, release = rest.rpartition("-")
    if not sep:
        version, release = rest, None
    if not version:
        # rpm's bindings refuse an empty version too ("invalid version").
        raise InputError(f"rpm version {evr!r} has an empty version part: give [epoch:]version[-release]")
    return epoch, version, release


def _part_cmp(a: Optional[str], b: Optional[str]) -> int:
    # A missing part is older than any present one, even an empty one.
    if a is None or b is None:
        return (a is not None) - (b is not None)
    return rpmvercmp_python(a, b)


def _evr_cmp_python(a: Evr, b: Evr) -> int:
    return _part_cmp(a[0] or "0", b[0] or "0") or _part_cmp(a[1], b[1]) or _part_cmp(a[2], b[2])


def rpm_vercmp_python(a: str, b: str) -> int:
    """``rpm_vercmp`` without the rpm bindings (see :func:`rpm_vercmp`)."""
    return _evr_cmp_python(parse_evr(a), parse_evr(b))


def rpm_vercmp_library(a: str, b: str) -> int:
    """``rpm_vercmp`` through the rpm Python bindings; raises ImportError without them."""
    if _rpm_label_compare is None:
        raise ImportError("the rpm Python bindings are not installed")
    return int(_rpm_label_compare(parse_evr(a), parse_evr(b)))


def rpm_vercmp(a: str, b: str) -> int:
    """Compare two rpm ``[epoch:]version[-release]`` strings: -1, 0 or 1.

    Same answer as ``rpm.vercmp`` in rpm's Lua and ``rpm.labelCompare``: a
    missing epoch is 0, a missing release is older than any release
    (``1.0`` < ``1.0-0``).  Dependency matching, where ``Requires: foo = 1.0``
    accepts any release, is a different question.

    The rpm Python bindings are used when importable.  They are not
    installable from PyPI and controllers such as macOS laptops or minimal
    containers lack them, so a pure-Python port of the algorithm takes over
    there; the unit tests hold it equal to the bindings and the rpm CLI.
    """
    if _rpm_label_compare is not None:
        return rpm_vercmp_library(a, b)
    return rpm_vercmp_python(a, b)


# Characters dpkg accepts without a warning (lib/dpkg/parsehelp.c).
_DEB_UPSTREAM_EXTRA = set(".-+~:")
_DEB_REVISION_EXTRA = set(".+~")


def _deb_bad(value: object, why: str) -> InputError:
    return InputError(f"Debian version {value!r} is invalid: {why} (see deb-version(7))")


def _deb_strip_epoch(version: str) -> str:
    if ":" not in version:
        return version
    epoch, rest = version.split(":", 1)
    if not epoch:
        raise _deb_bad(version, "the epoch before ':' is empty")
    if not all(_ascii_digit(ch) for ch in epoch):
        raise _deb_bad(version, "the epoch is not a number")
    if int(epoch) > 2**31 - 1:
        raise _deb_bad(version, "the epoch is too big")
    if not rest:
        raise _deb_bad(version, "nothing follows the epoch")
    return rest


def deb_version_check(version: str) -> None:
    """Raise InputError unless ``dpkg`` parses ``version`` without error or warning."""
    if not isinstance(version, str):
        raise _deb_bad(version, "not a string")
    if not version:
        raise _deb_bad(version, "it is empty")
    if any(ch.isspace() for ch in version):
        raise _deb_bad(version, "it contains spaces")
    rest = _deb_strip_epoch(version)
    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        upstream, revision = rest, ""
    elif not revision:
        raise _deb_bad(version, "the revision after the last '-' is empty")
    if not upstream:
        raise _deb_bad(version, "the upstream version is empty")
    if not _ascii_digit(upstream[0]):
        raise _deb_bad(version, "the upstream version must start with a digit")
    if any(not (_ascii_alnum(ch) or ch in _DEB_UPSTREAM_EXTRA) for ch in upstream):
        raise _deb_bad(version, "the upstream version may hold only letters, digits and . + ~ - :")
    if any(not (_ascii_alnum(ch) or ch in _DEB_REVISION_EXTRA) for ch in revision):
        raise _deb_bad(version, "the revision may hold only letters, digits and . + ~")


def deb_vercmp(a: str, b: str) -> int:
    """Compare two Debian versions exactly as ``dpkg --compare-versions``: -1, 0 or 1.

    Both must be valid Debian versions (what dpkg parses without an error or
    a warning); anything else raises InputError naming the value.
    """
    deb_version_check(a)
    deb_version_check(b)
    if _deb_version_compare is None:  # pragma: no cover
        raise InputError("deb_vercmp needs python-debian: run `make` to bootstrap the venv")
    rc = _deb_version_compare(a, b)
    return (rc > 0) - (rc < 0)
