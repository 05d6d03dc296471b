"""API users in the state DB (DLRN's ``users`` table) and the check of HTTP basic credentials."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
from typing import Dict, Optional, Tuple

from .._common.errors import InputError
from .._statedb.db import StateDB
from . import passwords

# DLRN's username column is String(255); the characters keep it one token in
# logs and in HTTP basic credentials (no ':').
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,254}$")


def check_username(username: object) -> str:
    """``username`` if usable, else InputError saying what is allowed."""
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise InputError(
            f"username {username!r} is not usable: 1-255 letters, digits, '.', '_', '@' or '-', starting with a"
            " letter or digit"
        )
    return username


@dataclasses.dataclass(frozen=True)
class UserChange:
    """What :func:`set_user` or :func:`delete_user` did (or, in check mode, would do)."""

    username: str
    changed: bool
    action: str  # created, updated, unchanged, deleted, absent


def stored_hash(db: StateDB, username: str) -> Optional[str]:
    """The stored password hash of ``username``, None if there is no such user."""
    return db.user_hash(username)


def set_user(
    db: StateDB, username: str, password: str, *, update_password: bool = True, check_mode: bool = False
) -> UserChange:
    """Create ``username`` or give it ``password``; nothing changes when the password already matches.

    ``update_password=False`` only creates: an existing user keeps its
    password.  One transaction, under the state DB's writer lock.
    """
    check_username(username)
    if not isinstance(password, str) or not password:
        raise InputError(f"user {username}: password must be a non-empty string")
    current = stored_hash(db, username)
    if current is not None and (
        not update_password or (passwords.verify(password, current) and not passwords.needs_update(current))
    ):
        return UserChange(username, False, "unchanged")
    action = "created" if current is None else "updated"
    if check_mode:
        return UserChange(username, True, action)
    db.store_user(username, passwords.hash_password(password))
    return UserChange(username, True, action)


def delete_user(db: StateDB, username: str, *, check_mode: bool = False) -> UserChange:
    """Remove ``username``; unchanged when there is no such user."""
    check_username(username)
    if stored_hash(db, username) is None:
        return UserChange(username, False, "absent")
    if not check_mode:
        db.remove_user(username)
    return UserChange(username, True, "deleted")


class Authenticator:
    """Checks HTTP basic credentials against the users table, one per process.

    A KDF check costs ~50 ms by design; a client sending the same
    credentials again is recognised by an HMAC of them under a key that
    lives only in this process's memory, as long as the stored hash has not
    changed - a deleted user or a new password takes effect on the next
    request.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self._key = secrets.token_bytes(32)
        self._known: Dict[str, Tuple[str, bytes]] = {}
        self._max_entries = max_entries

    def _mac(self, username: str, password: str) -> bytes:
        return hmac.new(self._key, f"{username}\0{password}".encode("utf-8"), hashlib.sha256).digest()

    def check(self, db: StateDB, username: str, password: str) -> bool:
        """Whether ``username``/``password`` name an API user."""
        stored = stored_hash(db, username)
        if stored is None:
            # Spend the KDF anyway, so a wrong user name takes as long as a wrong password.
            passwords.verify(password, _DUMMY)
            return False
        mac = self._mac(username, password)
        known = self._known.get(username)
        if known is not None and known[0] == stored and hmac.compare_digest(known[1], mac):
            return True
        if not passwords.verify(password, stored):
            return False
        if len(self._known) >= self._max_entries:
            self._known.clear()
        self._known[username] = (stored, mac)
        return True


_DUMMY = passwords.hash_password("not a password", salt=b"\0" * passwords.SALT_BYTES)
