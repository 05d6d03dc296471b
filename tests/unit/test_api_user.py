"""API users: password hashes proven against passlib's, the credential cache, and the api_user module."""

from __future__ import annotations

import json
import sqlite3

import pytest
from werkzeug.test import Client

from ansible_collections.distroforge.openstack.plugins.module_utils._api import passwords, users
from ansible_collections.distroforge.openstack.plugins.module_utils._api.config import ApiConfig
from ansible_collections.distroforge.openstack.plugins.module_utils._api.wsgi import create_app
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB

from .ansible_run import run_playbook
from .apisite import basic

SALT = bytes(range(16))
# Made by passlib 1.7.4 (DLRN's hashing library): passlib.hash.scrypt.using(salt=SALT, rounds=N).hash(password).
PASSLIB = {
    (
        "correct horse battery staple",
        14,
    ): "$scrypt$ln=14,r=8,p=1$AAECAwQFBgcICQoLDA0ODw$11kKyiyYAc8G7rp3KmncMc44YlkdllIqxOa7pq0fMaU",
    ("pässwörd ünicode", 4): "$scrypt$ln=4,r=8,p=1$AAECAwQFBgcICQoLDA0ODw$rlcHYZqwC/L+5iQ0OQmu1XWhjhtVaxMOdsV7t5Vz3L0",
}


@pytest.mark.parametrize(("password", "log_n"), list(PASSLIB))
def test_hashes_are_passlibs_scrypt_byte_for_byte(password, log_n):
    reference = PASSLIB[(password, log_n)]
    assert passwords.hash_password(password, salt=SALT, log_n=log_n) == reference
    assert passwords.verify(password, reference)
    assert not passwords.verify(password + " ", reference)


def test_new_hashes_are_salted_and_strong():
    first, second = passwords.hash_password("pw"), passwords.hash_password("pw")
    assert first != second and first.startswith("$scrypt$ln=14,r=8,p=1$")
    assert passwords.verify("pw", first) and not passwords.needs_update(first)
    assert passwords.needs_update(passwords.hash_password("pw", log_n=4))


@pytest.mark.parametrize(
    "stored",
    ["", "pw", "$6$rounds=656000$salt$hash", "$scrypt$ln=99,r=8,p=1$AAAA$AAAA", "$scrypt$ln=4,r=8,p=1$!!$AAAA", None],
)
def test_malformed_stored_hashes_never_verify(stored):
    assert passwords.verify("pw", stored) is False
    with pytest.raises(InputError, match="set the user's password again"):
        passwords.parse(stored)


def test_usernames_are_checked():
    for bad in ("", "a:b", "a b", "-x", "x" * 256, None, 5, "ünï"):
        with pytest.raises(InputError, match="not usable"):
            users.check_username(bad)


def test_authenticator_caches_a_login_until_the_hash_changes(tmp_path, monkeypatch):
    db = StateDB(tmp_path / "state.db")
    users.set_user(db, "ci", "first")
    calls = []
    real = passwords.verify
    monkeypatch.setattr(passwords, "verify", lambda *args: calls.append(1) or real(*args))
    auth = users.Authenticator()
    assert auth.check(db, "ci", "first") and auth.check(db, "ci", "first")
    assert len(calls) == 1  # the second login did not pay the KDF
    assert not auth.check(db, "ci", "wrong")
    users.set_user(db, "ci", "second")
    assert not auth.check(db, "ci", "first") and auth.check(db, "ci", "second")
    users.delete_user(db, "ci")
    assert not auth.check(db, "ci", "second")
    assert not auth.check(db, "nobody", "x")


def test_set_user_is_idempotent_and_on_create_keeps_passwords(tmp_path):
    db = StateDB(tmp_path / "state.db")
    assert users.set_user(db, "ci", "pw").action == "created"
    stored = users.stored_hash(db, "ci")
    assert users.set_user(db, "ci", "pw") == users.UserChange("ci", False, "unchanged")
    assert users.set_user(db, "ci", "new", update_password=False).action == "unchanged"
    assert users.set_user(db, "ci", "new", check_mode=True).action == "updated"
    assert users.stored_hash(db, "ci") == stored
    assert users.set_user(db, "ci", "new").action == "updated" and users.stored_hash(db, "ci") != stored
    assert users.delete_user(db, "ci").action == "deleted" and users.list_users(db) == []
    assert users.delete_user(db, "ci").changed is False


def task(db, **args) -> dict:
    return {"distroforge.openstack.api_user": {"db": str(db), **args}}


def test_api_user_module_manages_users_the_api_accepts(tmp_path):
    db = tmp_path / "data" / "state.db"
    secret = "Tr0ub4dor&3-secret"
    tasks = [
        task(db, username="ci", password=secret),
        task(db, username="ci", password=secret),  # unchanged
        task(db, username="promoter", password="other-secret-value"),
        # Check mode says what would change and writes nothing.
        {**task(db, username="ci", password="new-password-1"), "check_mode": True, "diff": True},
        {**task(db, name="promoter", state="absent"), "check_mode": True},
        task(db, username="ci", password="new-password-2", update_password="on_create"),  # unchanged
        task(db, username="promoter", state="absent"),
        task(db, username="promoter", state="absent"),  # unchanged
        {**task(db, username="bad:name", password="x"), "ignore_errors": True},
        {**task(db, username="ci"), "ignore_errors": True},
    ]
    playbook = tmp_path / "users.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    proc = run_playbook(playbook, {}, "-v")
    for password in (secret, "other-secret-value", "new-password-1", "new-password-2"):
        assert password not in proc.stdout
    assert "changed=5" in proc.stdout and "ignored=2" in proc.stdout
    assert "username 'bad:name' is not usable" in proc.stdout
    assert "user ci: password is required with state=present" in proc.stdout
    assert "Traceback" not in proc.stdout
    config = ApiConfig(db=db, repos_dir=tmp_path / "repos", baseurl="http://x/repos")
    client = Client(create_app(config))
    assert client.post("/api/health", headers=basic("ci", secret)).status_code == 200
    assert client.post("/api/health", headers=basic("ci", "new-password-1")).status_code == 401
    assert client.post("/api/health", headers=basic("promoter", "other-secret-value")).status_code == 401
    assert [row[0] for row in sqlite3.connect(db).execute("SELECT username FROM users")] == ["ci"]
