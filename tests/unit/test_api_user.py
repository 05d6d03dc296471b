"""API users: password hashes proven against passlib's, the credential cache, and the api_user module."""

from __future__ import annotations

import json
import sqlite3

import pytest
from ansible.module_utils.testing import patch_module_args
from werkzeug.test import Client

from ansible_collections.distroforge.openstack.plugins.module_utils._api import passwords, users
from ansible_collections.distroforge.openstack.plugins.module_utils._api.config import ApiConfig
from ansible_collections.distroforge.openstack.plugins.module_utils._api.wsgi import create_app
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB
from ansible_collections.distroforge.openstack.plugins.modules import api_user

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


def test_authenticator_caches_a_login_until_the_hash_changes(statedb_target, monkeypatch):
    db = StateDB(statedb_target)
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


def test_set_user_is_idempotent_and_on_create_keeps_passwords(statedb_target):
    db = StateDB(statedb_target)
    assert users.set_user(db, "ci", "pw").action == "created"
    stored = users.stored_hash(db, "ci")
    assert users.set_user(db, "ci", "pw") == users.UserChange("ci", False, "unchanged")
    assert users.set_user(db, "ci", "new", update_password=False).action == "unchanged"
    assert users.set_user(db, "ci", "new", check_mode=True).action == "updated"
    assert users.stored_hash(db, "ci") == stored
    assert users.set_user(db, "ci", "new").action == "updated" and users.stored_hash(db, "ci") != stored
    assert users.delete_user(db, "ci").action == "deleted" and users.stored_hash(db, "ci") is None
    assert users.delete_user(db, "ci").changed is False


def run(capsys, **args) -> dict:
    """api_user in this process (as Ansible runs it); its result."""
    with patch_module_args(args), pytest.raises(SystemExit):
        api_user.main()
    return json.loads(capsys.readouterr().out)


def test_api_user_module_manages_users_the_api_accepts(tmp_path, capsys):
    db = str(tmp_path / "data" / "state.db")
    secret = "Tr0ub4dor&3-secret"
    # Check mode before the DB exists: says it would create, creates nothing.
    assert run(capsys, db=db, username="ci", password=secret, _ansible_check_mode=True)["action"] == "created"
    assert not (tmp_path / "data").exists()
    outcomes = [
        run(capsys, db=db, username="ci", password=secret),
        run(capsys, db=db, name="ci", password=secret),
        run(capsys, db=db, username="promoter", password="other-secret-value"),
        run(capsys, db=db, username="ci", password="new-password-1", _ansible_check_mode=True, _ansible_diff=True),
        run(capsys, db=db, username="promoter", state="absent", _ansible_check_mode=True),
        run(capsys, db=db, username="ci", password="new-password-2", update_password="on_create"),
        run(capsys, db=db, username="promoter", state="absent"),
        run(capsys, db=db, username="promoter", state="absent"),
    ]
    assert [(o["changed"], o["action"]) for o in outcomes] == [
        (True, "created"),
        (False, "unchanged"),
        (True, "created"),
        (True, "updated"),
        (True, "deleted"),
        (False, "unchanged"),
        (True, "deleted"),
        (False, "absent"),
    ]
    assert outcomes[3]["diff"]["after"] == {"username": "ci", "exists": True, "password": "(changed)"}
    for outcome in outcomes:
        assert secret not in json.dumps(outcome) and "new-password" not in json.dumps(outcome)
    config = ApiConfig(db=tmp_path / "data" / "state.db", repos_dir=tmp_path / "repos", baseurl="http://x/repos")
    client = Client(create_app(config))
    assert client.post("/api/health", headers=basic("ci", secret)).status_code == 200
    assert client.post("/api/health", headers=basic("ci", "new-password-1")).status_code == 401
    assert client.post("/api/health", headers=basic("promoter", "other-secret-value")).status_code == 401
    assert [row[0] for row in sqlite3.connect(db).execute("SELECT username FROM users")] == ["ci"]


def test_api_user_module_fails_in_one_line(tmp_path, capsys):
    db = str(tmp_path / "state.db")
    failure = run(capsys, db=db, username="bad:name", password="x")
    assert failure["failed"] and failure["msg"].startswith("username 'bad:name' is not usable")
    failure = run(capsys, db=db, username="ci")
    assert failure["msg"] == "user ci: password is required with state=present"
