"""repo_key through Ansible, alone and in the repo_configure role: a key is installed only when it is the expected
one; check mode writes nothing."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from .ansible_run import TOP, failures, run_roles_json


def gpg(home, *args) -> bytes:
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--passphrase", "", *args], capture_output=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    for name in ("good", "evil"):
        gpg(home, "--quick-generate-key", f"{name} <{name}@example.org>", "ed25519", "sign", "never")
    out = tmp_path_factory.mktemp("keys")
    found = {}
    for name in ("good", "evil"):
        (out / name).write_bytes(gpg(home, "--export", "--armor", f"{name}@example.org"))
        listing = gpg(home, "--with-colons", "--list-keys", f"{name}@example.org").decode()
        found[name] = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    return out, found


def play(tmp_path: Path, args: dict, *options: str) -> dict:
    """Run repo_key once on localhost; the task's result."""
    playbook = tmp_path / "key.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - distroforge.openstack.repo_key: '{{ key_args }}'\n      register: out\n      ignore_errors: true\n"
        "    - ansible.builtin.copy: {content: '{{ out | to_json }}', dest: '" + str(tmp_path / "out.json") + "'}\n"
        "      check_mode: false\n"
    )
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(TOP / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(TOP / ".venv" / "collections"),
    )
    proc = subprocess.run(
        [
            str(TOP / ".venv" / "bin" / "ansible-playbook"),
            *options,
            str(playbook),
            "-e",
            json.dumps({"key_args": args}),
        ],
        cwd=TOP,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    return json.loads((tmp_path / "out.json").read_text())


def test_installs_the_expected_key_once_and_check_mode_writes_nothing(tmp_path, keys):
    folder, fingerprints = keys
    dest = tmp_path / "keyrings" / "distroforge.asc"
    dest.parent.mkdir()
    args = {"src": str(folder / "good"), "fingerprints": [fingerprints["good"].lower()], "dest": str(dest)}
    checked = play(tmp_path, args, "--check")
    assert checked["changed"] is True and not dest.exists()
    first = play(tmp_path, args)
    assert first["changed"] is True and first["fingerprints"] == [fingerprints["good"]]
    assert dest.read_bytes() == (folder / "good").read_bytes()
    assert dest.stat().st_mode & 0o777 == 0o644
    assert play(tmp_path, args)["changed"] is False


def test_another_key_is_refused_in_one_line_and_the_installed_one_stays(tmp_path, keys):
    folder, fingerprints = keys
    dest = tmp_path / "distroforge.asc"
    dest.write_bytes((folder / "good").read_bytes())
    result = play(tmp_path, {"src": str(folder / "evil"), "fingerprints": [fingerprints["good"]], "dest": str(dest)})
    assert result["failed"] is True
    assert "does not match the expected" in result["msg"] and "\n" not in result["msg"]
    assert fingerprints["evil"] in result["msg"]
    assert dest.read_bytes() == (folder / "good").read_bytes()


def test_a_key_is_never_installed_unchecked(tmp_path, keys):
    folder = keys[0]
    dest = tmp_path / "distroforge.asc"
    result = play(tmp_path, {"src": str(folder / "good"), "dest": str(dest)})
    assert result["failed"] is True and result["msg"].startswith("fingerprints:")
    assert not dest.exists()


def test_without_dest_it_reports_the_fingerprints(tmp_path, keys):
    folder, fingerprints = keys
    result = play(tmp_path, {"src": str(folder / "evil")})
    assert result["changed"] is False and result["fingerprints"] == [fingerprints["evil"]]


# -- through the repo_configure role ------------------------------------------------------------------------


def configure(tmp_path: Path, **role_vars) -> tuple[list[str], list[Path]]:
    """Run repo_configure on localhost, its apt files under ``tmp_path``; the failure messages and the files written.

    The role's own paths are role variables, which extra vars override: /etc/apt stays as it is.
    """
    apt = tmp_path / "apt"
    for directory in ("sources.list.d", "preferences.d"):  # there on every Debian; keyrings/ the role makes
        (apt / directory).mkdir(parents=True)
    paths = {
        "__repo_configure_keyring_dir": str(apt / "keyrings"),
        "__repo_configure_keyring": str(apt / "keyrings" / "distroforge.asc"),
        "__repo_configure_source_file": str(apt / "sources.list.d" / "distroforge.list"),
        "__repo_configure_pref_file": str(apt / "preferences.d" / "distroforge.pref"),
    }
    given = {
        "repo_configure_base_url": (tmp_path / "repos").as_uri(),
        "repo_configure_hash": "0123456789abcdef0123456789abcdef01234567_89abcdef",
        "repo_configure_verify_pin": False,
        **role_vars,
    }
    result, _proc = run_roles_json(tmp_path, ["repo_configure"], {**paths, **given}, expect_failure=True)
    return failures(result), sorted(path for path in apt.rglob("*") if path.is_file())


def test_the_role_refuses_to_run_without_a_fingerprint(tmp_path, keys):
    folder = keys[0]
    messages, written = configure(tmp_path, repo_configure_key=(folder / "good").read_text())
    assert len(messages) == 1 and "\n" not in messages[0], messages
    assert messages[0].startswith("repo_configure: set repo_configure_key_fingerprints to the repository key's")
    assert written == []


def test_the_role_refuses_another_key_and_installs_nothing(tmp_path, keys):
    folder, fingerprints = keys
    messages, written = configure(
        tmp_path,
        repo_configure_key=(folder / "evil").read_text(),
        repo_configure_key_fingerprints=[fingerprints["good"]],
    )
    assert len(messages) == 1 and "\n" not in messages[0], messages
    assert "does not match the expected" in messages[0] and fingerprints["evil"] in messages[0]
    assert written == [], "no key, apt source or pin is written when the key is not the expected one"
