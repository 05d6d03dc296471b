"""Salted password hashes for API users: scrypt from the standard library, in passlib's ``$scrypt$`` format.

The KDF is :func:`hashlib.scrypt` (OpenSSL's); only the encoding is ours,
and it is passlib's (``$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<checksum>``,
base64 without padding), so a hash can be checked by passlib and the tests
prove it against passlib where it is installed.  DLRN stores sha512_crypt
through passlib; scrypt is memory-hard, so a stolen DB is slower to attack.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Optional, Tuple

from .._common.errors import InputError

PREFIX = "$scrypt$"
# N = 2**14, r = 8, p = 1: 16 MiB and ~50 ms per check on a small machine
# (RFC 7914's interactive-login figures); the API caches a verified login
# per process so a client does not pay it on every request.
LOG_N = 14
BLOCK_SIZE = 8
PARALLELISM = 1
SALT_BYTES = 16
KEY_BYTES = 32
_FORMAT = re.compile(r"^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _kdf(password: str, salt: bytes, *, log_n: int, r: int, p: int, length: int) -> bytes:
    n = 1 << log_n
    # maxmem: OpenSSL's default (32 MiB) is too small for N=2**15 and up.
    maxmem = 256 * n * r + (1 << 20)
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=maxmem)


def hash_password(password: str, *, salt: Optional[bytes] = None, log_n: int = LOG_N) -> str:
    """A new salted hash of ``password``."""
    if not isinstance(password, str) or not password:
        raise InputError("password must be a non-empty string")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    key = _kdf(password, salt, log_n=log_n, r=BLOCK_SIZE, p=PARALLELISM, length=KEY_BYTES)
    return f"{PREFIX}ln={log_n},r={BLOCK_SIZE},p={PARALLELISM}${_b64(salt)}${_b64(key)}"


def parse(stored: str) -> Tuple[int, int, int, bytes, bytes]:
    """The parameters, salt and key of a stored hash (InputError when it is not one of ours)."""
    match = _FORMAT.match(stored or "")
    if not match:
        raise InputError("stored password is not a $scrypt$ hash: set the user's password again (api_user)")
    log_n, r, p = (int(match.group(i)) for i in (1, 2, 3))
    if not 1 <= log_n <= 24 or not r or not p:
        raise InputError("stored password has unusable scrypt parameters: set the user's password again (api_user)")
    return log_n, r, p, _unb64(match.group(4)), _unb64(match.group(5))


def verify(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison); False for a malformed hash."""
    try:
        log_n, r, p, salt, key = parse(stored)
    except InputError:
        return False
    if not isinstance(password, str):
        return False
    return hmac.compare_digest(_kdf(password, salt, log_n=log_n, r=r, p=p, length=len(key)), key)


def needs_update(stored: str) -> bool:
    """Whether ``stored`` uses weaker parameters than new hashes get."""
    try:
        log_n, r, p, salt, key = parse(stored)
    except InputError:
        return True
    return (log_n, r, p) < (LOG_N, BLOCK_SIZE, PARALLELISM) or len(salt) < SALT_BYTES or len(key) < KEY_BYTES
