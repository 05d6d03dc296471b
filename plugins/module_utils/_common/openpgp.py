"""Fingerprints of the primary keys in an OpenPGP public key file (RFC 9580).

A test node checks the repository key it downloads against the fingerprint
the repo server gave it over Ansible's own channel, before apt or dnf trust
the key. Nodes have no GnuPG (apt verifies with gpgv, which cannot print a
fingerprint) and no Python OpenPGP library in Debian's base system, so this
reads only what a fingerprint needs: the armor, the packet framing and the
public-key packets. tests/unit/test_openpgp.py proves it equal to
``gpg --show-keys --with-colons`` on keys GnuPG made.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import List, Tuple

from .errors import InputError

PUBLIC_KEY = 6
PUBLIC_SUBKEY = 14
_ARMOR = re.compile(
    rb"-----BEGIN PGP PUBLIC KEY BLOCK-----\r?\n(?P<body>.*?)-----END PGP PUBLIC KEY BLOCK-----", re.DOTALL
)
_CRC24_INIT = 0xB704CE
_CRC24_POLY = 0x1864CFB


def _crc24(data: bytes) -> int:
    crc = _CRC24_INIT
    for byte in data:
        crc ^= byte << 16
        for _bit in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= _CRC24_POLY
    return crc & 0xFFFFFF


def dearmor(data: bytes, where: str) -> bytes:
    """The binary packets of ``data``: every armored key block decoded, or ``data`` itself when binary."""
    blocks = list(_ARMOR.finditer(data))
    if not blocks:
        if data.lstrip()[:5] == b"-----":
            raise InputError(f"{where}: not an OpenPGP public key block (armor header missing): give the public key")
        return data
    out = b""
    for block in blocks:
        lines = block.group("body").replace(b"\r", b"").split(b"\n")
        # Armor headers ("Comment: ...", none at all is common) end at the first empty line.
        if b"" in lines and all(b": " in line for line in lines[: lines.index(b"")]):
            lines = lines[lines.index(b"") + 1 :]
        checksum = None
        payload = []
        for line in (line.strip() for line in lines):
            if line.startswith(b"=") and len(line) == 5:
                checksum = line[1:]
            elif line:
                payload.append(line)
        try:
            decoded = base64.b64decode(b"".join(payload), validate=True)
            expected = base64.b64decode(checksum, validate=True) if checksum else None
        except (binascii.Error, ValueError):
            raise InputError(f"{where}: the armored key is not valid base64: download it again") from None
        if expected is not None and int.from_bytes(expected, "big") != _crc24(decoded):
            raise InputError(f"{where}: the armored key's checksum does not match: it was damaged in transit")
        out += decoded
    return out


def _header(data: bytes, pos: int, where: str) -> Tuple[int, int, int]:
    """``(tag, body start, body length)`` of the packet whose header is at ``pos``."""
    header = data[pos]
    if not header & 0x80:
        raise InputError(f"{where}: byte {pos} does not start an OpenPGP packet: this is not a public key file")
    if not header & 0x40:  # old format: the length's size is in the header
        size = (1, 2, 4, 0)[header & 0x03]
        if size == 0:
            return (header >> 2) & 0x0F, pos + 1, len(data) - pos - 1
        return (header >> 2) & 0x0F, pos + 1 + size, int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
    first = data[pos + 1] if pos + 1 < len(data) else None
    if first is None:
        raise InputError(f"{where}: truncated at byte {pos}: download the key again")
    if first < 192:
        return header & 0x3F, pos + 2, first
    if first < 224:
        second = data[pos + 2] if pos + 2 < len(data) else 0
        return header & 0x3F, pos + 3, ((first - 192) << 8) + second + 192
    if first == 255:
        return header & 0x3F, pos + 6, int.from_bytes(data[pos + 2 : pos + 6], "big")
    raise InputError(f"{where}: partial-length packet at byte {pos}: a key file never has one")


def packets(data: bytes, where: str) -> List[Tuple[int, bytes]]:
    """``(tag, body)`` of each packet in binary OpenPGP ``data``."""
    found = []
    pos = 0
    while pos < len(data):
        tag, start, length = _header(data, pos, where)
        if start + length > len(data):
            raise InputError(f"{where}: truncated packet at byte {pos}: download the key again")
        found.append((tag, data[start : start + length]))
        pos = start + length
    return found


def fingerprint(body: bytes, where: str) -> str:
    """The upper-case hex fingerprint of a public-key packet body (v4: SHA-1, v5/v6: SHA-256)."""
    version = body[0] if body else 0
    if version == 4:
        return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest().upper()
    if version in (5, 6):
        prefix = b"\x9a" if version == 5 else b"\x9b"
        return hashlib.sha256(prefix + len(body).to_bytes(4, "big") + body).hexdigest().upper()
    raise InputError(f"{where}: OpenPGP key version {version} is not supported: use a v4 or newer key")


def primary_fingerprints(data: bytes, where: str) -> List[str]:
    """Fingerprints of the primary keys in a public key file (armored or binary), in file order."""
    found = [fingerprint(body, where) for tag, body in packets(dearmor(data, where), where) if tag == PUBLIC_KEY]
    if not found:
        raise InputError(f"{where}: holds no OpenPGP public key: give the repository's public key file")
    return found


def normalise(value: str) -> str:
    """A fingerprint as GnuPG prints it without spaces, upper case."""
    return re.sub(r"[\s:]", "", value).upper()


def check(data: bytes, expected: List[str], where: str) -> List[str]:
    """The file's primary fingerprints, when they are exactly ``expected``; otherwise a one-line error."""
    wanted = [normalise(value) for value in expected]
    bad = [value for value in wanted if not re.fullmatch(r"[0-9A-F]{40}|[0-9A-F]{64}", value)]
    if bad:
        raise InputError(
            f"fingerprint {bad[0]!r} is not a full key fingerprint (40 or 64 hex digits): "
            "give the whole fingerprint, as `gpg --show-keys --with-colons` prints it on its fpr line"
        )
    found = primary_fingerprints(data, where)
    if set(found) != set(wanted):
        raise InputError(
            f"{where}: key fingerprint {', '.join(found)} does not match the expected {', '.join(wanted)}: "
            "the key is not the repository's (do not trust it) or the expected fingerprint is out of date"
        )
    return found
