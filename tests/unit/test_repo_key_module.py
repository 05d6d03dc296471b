"""repo_key through Ansible: a key is installed only when it is the expected one; check mode writes nothing."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from .ansible_run import TOP


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
