"""logs_sanitize engine: planted secrets never survive, everything else is untouched; caps, renaming, gzip, index."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest
import yaml

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._logs import sanitize as san
from ansible_collections.distroforge.openstack.plugins.module_utils._logs import stage

TOP = Path(__file__).resolve().parents[2]
PATTERNS_FILE = TOP / "roles" / "logs_collect" / "vars" / "secret_patterns.yml"
PATTERNS = san.compile_patterns(
    yaml.safe_load(PATTERNS_FILE.read_text())["__logs_collect_secret_patterns"], str(PATTERNS_FILE)
)

# Each secret is unique and long enough that finding it anywhere means it leaked.
SECRETS = {
    "admin_token": "AdminTok3nQx9Zr",
    "db": "DbPassW0rdKq2Lm",
    "rabbit1": "RabbitPw1Tz8Vb",
    "rabbit2": "RabbitPw2Yh5Nc",
    "memcache": "MemcacheK3yPp0",
    "authtoken": "ServicePw4Jd7Ws",
    "openrc": "OpenrcPw9Xe3Rt",
    "hiera_admin": "HieraAdm1nGg6Ff",
    "hiera_db": "HieraDbUu2Ii8",
    "tempest_admin": "TempestAdm7Oo1",
    "tempest_user": "TempestUsr5Aa2",
    "cli": "CliPassw0rdMm4",
    "fernet": "gAAAAABmZ3xK9fakeFernetTokenValue0123456789abcdefghijklmnopqrstuv",
    "sql": "SqlIdentified9Hh",
    "json": "JsonBodyPw3Ee4",
    "bearer": "BearerTok8Rr5Ss",
    "key_body": "MIIEowIBAAKCAQEAplantedPrivateKeyMaterialDoNotLeak",
}

KEYSTONE_CONF = f"""[DEFAULT]
admin_token = {SECRETS["admin_token"]}
#admin_token = <None>
debug = True
log_file = /var/log/keystone/keystone.log
public_endpoint = http://10.89.42.172:5000
transport_url = rabbit://openstack:{SECRETS["rabbit1"]}@10.0.0.1:5672,openstack:{SECRETS["rabbit2"]}@10.0.0.2:5672/
# Example: rabbit://rabbitmq:<password>@127.0.0.1:5672//

[database]
connection=mysql+pymysql://keystone:{SECRETS["db"]}@127.0.0.1/keystone?charset=utf8

[fernet_tokens]
key_repository = /etc/keystone/fernet-keys/
max_active_keys = 3

[token]
provider = fernet
expiration = 3600
allow_rescope_scoped_token = false
revoke_by_id = False

[keystone_authtoken]
auth_type = password
auth_url = http://10.89.42.172:5000/v3
username = keystone
password = {SECRETS["authtoken"]}
memcache_secret_key = {SECRETS["memcache"]}
memcache_security_strategy = ENCRYPT

[identity]
password_hash_algorithm = bcrypt
minimum_password_age = 0
"""

OPENRC = f"""# Managed by Puppet
export OS_USERNAME=admin
export OS_PASSWORD={SECRETS["openrc"]}
export OS_PROJECT_NAME=admin
export OS_AUTH_URL=http://10.89.42.172:5000
export OS_IDENTITY_API_VERSION=3
"""

HIERA = f"""---
distroforge_integration::config::host: 10.89.42.172
distroforge_integration::config::admin_password: "{SECRETS["hiera_admin"]}"
distroforge_integration::config::keystone_db_password: {SECRETS["hiera_db"]}
distroforge_integration::config::region: RegionOne
"""

TEMPEST_CONF = f"""[auth]
admin_username = admin
admin_password = {SECRETS["tempest_admin"]}
admin_project_name = admin
use_dynamic_credentials = true
tempest_roles = member

[identity]
uri_v3 = http://10.89.42.172:5000/v3
username = demo
password = {SECRETS["tempest_user"]}
"""

BODY = (
    '{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "password": "'
    + SECRETS["json"]
    + '"}}}}}'
)

LOG = f"""2026-11-26 08:00:01.123 1234 DEBUG keystone.middleware [req-1] X-Auth-Token: {SECRETS["fernet"]}
2026-11-26 08:00:02.456 1234 INFO keystone.common.wsgi [req-2] POST http://10.89.42.172:5000/v3/auth/tokens
2026-11-26 08:00:03.789 1234 DEBUG tempest.lib.common.rest_client Body: {BODY}
2026-11-26 08:00:04.000 1234 DEBUG urllib3 Authorization: Bearer {SECRETS["bearer"]}
Debug: Executing: 'mysql -NBe CREATE USER 'keystone'@'127.0.0.1' IDENTIFIED BY '{SECRETS["sql"]}''
root   4242  0.0  0.1 python3 /usr/bin/openstack --os-username admin --os-password {SECRETS["cli"]} token issue
"""

PEM = f"""-----BEGIN CERTIFICATE-----
MIIBpublicCertificateStaysVisible
-----END CERTIFICATE-----
-----BEGIN RSA PRIVATE KEY-----
{SECRETS["key_body"]}
{SECRETS["key_body"][::-1]}
-----END RSA PRIVATE KEY-----
"""

FILES = {
    "keystone.conf": KEYSTONE_CONF,
    "openrc": OPENRC,
    "distroforge.yaml": HIERA,
    "tempest.conf": TEMPEST_CONF,
    "keystone.log": LOG,
    "server.pem": PEM,
}


def _secret_free(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text or secret[::-1] in text]


@pytest.mark.parametrize("name", sorted(FILES))
def test_planted_secrets_never_survive(name):
    text, count = san.sanitize(FILES[name], PATTERNS)
    assert _secret_free(text) == [], f"{name} leaks {_secret_free(text)}:\n{text}"
    assert count >= 1
    assert "***" in text


@pytest.mark.parametrize("name", sorted(FILES))
def test_lines_without_secrets_are_untouched(name):
    original = FILES[name].splitlines()
    cleaned = san.sanitize(FILES[name], PATTERNS)[0].splitlines()
    if name != "server.pem":  # the key block collapses to one line
        assert len(cleaned) == len(original)
        for before, after in zip(original, cleaned, strict=True):
            if not any(secret in before for secret in SECRETS.values()) and "<password>" not in before:
                assert after == before, f"{name}: a line without a secret changed:\n{before}\n{after}"


def test_what_stays_readable():
    text = san.sanitize(KEYSTONE_CONF + OPENRC + TEMPEST_CONF + PEM, PATTERNS)[0]
    for kept in (
        "auth_type = password",
        "max_active_keys = 3",
        "key_repository = /etc/keystone/fernet-keys/",
        "allow_rescope_scoped_token = false",
        "password_hash_algorithm = bcrypt",
        "minimum_password_age = 0",
        "connection=mysql+pymysql://keystone:***@127.0.0.1/keystone?charset=utf8",
        "export OS_PASSWORD=***",
        "export OS_AUTH_URL=http://10.89.42.172:5000",
        "admin_password = ***",
        "use_dynamic_credentials = true",
        "MIIBpublicCertificateStaysVisible",
        "-----BEGIN RSA PRIVATE KEY-----\n***\n-----END RSA PRIVATE KEY-----",
    ):
        assert kept in text, kept
    # The rabbit URL keeps its scheme and its last host; both passwords are gone.
    assert "transport_url = rabbit://openstack:***@10.0.0.2:5672/" in text


def test_a_private_key_cut_by_a_cap_is_still_masked():
    head_only = "log line\n-----BEGIN PRIVATE KEY-----\n" + SECRETS["key_body"] + "\n"
    tail_only = SECRETS["key_body"] + "\n-----END PRIVATE KEY-----\nlater line\n"
    for text in (head_only, tail_only, head_only + "[... cut ...]\n" + tail_only):
        cleaned = san.sanitize(text, PATTERNS)[0]
        assert SECRETS["key_body"] not in cleaned, cleaned
    assert san.sanitize(tail_only, PATTERNS)[0].endswith("-----END PRIVATE KEY-----\nlater line\n")


def test_sanitising_twice_changes_nothing_more():
    once = san.sanitize("\n".join(FILES.values()), PATTERNS)[0]
    assert san.sanitize(once, PATTERNS)[0] == once


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "x"}, "give regex"),
        ({"name": "x", "regex": "(", "replace": ""}, "invalid regular expression"),
        ({"name": "x", "regex": "a", "begin": "b", "end": "c"}, "not both"),
        ({"name": "x", "regex": "a", "flags": ["VERBOSE"]}, "VERBOSE"),
        ("password", "expected a mapping"),
    ],
)
def test_bad_patterns_are_named(entry, message):
    with pytest.raises(InputError, match=message):
        san.compile_patterns([entry], "patterns.yml")


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("etc/keystone/keystone.conf", "etc/keystone/keystone.conf.txt"),
        ("var/log/keystone/keystone.log", "var/log/keystone/keystone.log.txt"),
        ("var/log/keystone/keystone.log.2.gz", "var/log/keystone/keystone.log.2.txt"),
        ("root/openrc", "root/openrc.txt"),
        ("notes.txt", "notes.txt"),
        ("report.html", "report.html"),
    ],
)
def test_browsable_names(path, name):
    assert stage.browsable_name(path, (".txt", ".html")) == name


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "node"
    (root / "etc" / "keystone" / "fernet-keys").mkdir(parents=True)
    (root / "var" / "log" / "keystone").mkdir(parents=True)
    for name, text in FILES.items():
        target = root / ("etc/keystone" if name.endswith((".conf", ".pem")) else "var/log/keystone") / name
        target.write_text(text)
    (root / "etc" / "keystone" / "fernet-keys" / "0").write_text("FernetKeyMaterialNeverCollected=\n")
    (root / "var" / "log" / "keystone" / "big.log").write_text(
        "".join(f"line {i:06d} {'x' * 60}\n" for i in range(20000))
    )
    with gzip.open(root / "var" / "log" / "keystone" / "keystone.log.1.gz", "wt") as stream:
        stream.write(f"old line\npassword = {SECRETS['db']}\n")
    (root / "var" / "log" / "keystone" / "core.bin").write_bytes(b"\x7fELF\x00\x00binary")
    return root


def _archive(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def _text(members: dict[str, bytes], name: str) -> str:
    data = members[name]
    return (gzip.decompress(data) if name.endswith(".gz") else data).decode()


def test_collect_writes_a_sanitised_archive(tmp_path):
    root = _tree(tmp_path)
    archive = tmp_path / "logs.tar"

    def runner(argv):
        return 0, f"USER PID COMMAND\nroot 1 /usr/bin/tool --os-password {SECRETS['cli']}\n", ""

    result = stage.collect(
        str(archive),
        paths=[str(root / "etc"), str(root / "var/log/keystone/*"), str(root / "missing")],
        exclude=[str(root / "etc/keystone/fernet-keys/*")],
        commands=[{"name": "ps-auxf", "argv": ["sh", "-c", "true"]}, {"name": "rpm-qa", "argv": ["no-such-tool"]}],
        patterns=PATTERNS,
        limits=stage.Limits(max_file_size=64 * 1024, max_total_size=0, gzip_above=32 * 1024),
        title="Logs of test",
        runner=runner,
    ).result()
    members = _archive(archive)
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    everything = "".join(_text(members, name) for name in members)
    assert _secret_free(everything) == []
    assert "FernetKeyMaterialNeverCollected" not in everything

    prefix = str(root).lstrip("/")
    assert f"{prefix}/etc/keystone/keystone.conf.txt" in members
    assert f"{prefix}/var/log/keystone/openrc.txt" in members
    assert f"{prefix}/var/log/keystone/keystone.log.1.txt" in members  # .gz read decompressed
    assert "commands/ps-auxf.txt" in members
    assert "index.html" in members

    reasons = {item["src"]: item["reason"] for item in result["not_collected"]}
    assert reasons[str(root / "etc/keystone/fernet-keys/0")] == "excluded"
    assert reasons[str(root / "var/log/keystone/core.bin")] == "binary"
    assert reasons[str(root / "missing")] == "not found"
    assert reasons["$ no-such-tool"] == "no-such-tool: command not found"

    # big.log: 1.4 MB, cut to 64 KiB with a marker, then gzipped (above 32 KiB).
    big = next(item for item in result["files"] if item["src"].endswith("big.log"))
    assert big["dest"].endswith("big.log.txt.gz") and big["gzipped"]
    assert big["cut_bytes"] > 1_300_000 and big["cut_reason"] == "per-file cap"
    assert big["size"] <= 64 * 1024 + 200
    text = _text(members, big["dest"])
    assert text.startswith("line 000000 ") and text.endswith(f"line 019999 {'x' * 60}\n")
    assert f"[... logs_collect: {big['cut_bytes']} bytes cut here (per-file cap)" in text
    assert all(len(line) == 72 for line in text.splitlines() if line.startswith("line "))  # whole lines only
    assert result["cut"] == [
        {"src": big["src"], "dest": big["dest"], "cut_bytes": big["cut_bytes"], "reason": "per-file cap"}
    ]
    assert result["redactions"] >= len(SECRETS) - 2

    index = members["index.html"].decode()
    assert big["dest"] in index and "bytes cut" in index and "excluded" in index
    assert _secret_free(index) == []


def _capped(tmp_path: Path, total: int) -> dict:
    for i in range(4):
        (tmp_path / f"f{i}.log").write_text(f"file {i}\n" + "y" * 3000 + "\n")
    return stage.collect(
        None,
        paths=[str(tmp_path)],
        exclude=[],
        commands=[],
        patterns=PATTERNS,
        limits=stage.Limits(max_file_size=0, max_total_size=total, gzip_above=0),
    ).result()


def test_total_cap_cuts_the_file_that_crosses_it(tmp_path):
    result = _capped(tmp_path, 7500)
    kept = {Path(item["src"]).name: item for item in result["files"]}
    assert kept["f0.log"]["cut_bytes"] == kept["f1.log"]["cut_bytes"] == 0
    assert kept["f2.log"]["cut_reason"] == "total cap" and kept["f2.log"]["cut_bytes"] > 2900
    assert result["total_size"] <= 7500


def test_total_cap_drops_what_no_longer_fits(tmp_path):
    result = _capped(tmp_path, 6500)
    assert [Path(item["src"]).name for item in result["files"]] == ["f0.log", "f1.log"]
    assert {Path(item["src"]).name: item["reason"] for item in result["not_collected"]} == {
        "f2.log": "total cap reached",
        "f3.log": "total cap reached",
    }


def test_relative_paths_and_bad_commands_are_refused(tmp_path):
    limits = stage.Limits()
    with pytest.raises(InputError, match="not absolute"):
        stage.collect(None, paths=["etc/keystone"], exclude=[], commands=[], patterns=[], limits=limits)
    with pytest.raises(InputError, match=r"commands\[0\]"):
        stage.collect(None, paths=[], exclude=[], commands=[{"name": "x"}], patterns=[], limits=limits)


def test_command_output_is_capped_and_sanitised(tmp_path):
    def runner(argv):
        body = "".join(f"Nov 26 keystone[1]: request {i} token: ok\n" for i in range(5000))
        return 3, body + f"export OS_PASSWORD={SECRETS['openrc']}\n", "warning\n"

    result = stage.collect(
        str(tmp_path / "a.tar"),
        paths=[],
        exclude=[],
        commands=[{"name": "journal", "argv": ["sh", "-c", "true"]}],
        patterns=PATTERNS,
        limits=stage.Limits(max_file_size=8192, max_total_size=0, gzip_above=0),
        runner=runner,
    ).result()
    (item,) = result["files"]
    assert item["rc"] == 3 and item["cut_bytes"] > 0
    text = _archive(tmp_path / "a.tar")["commands/journal.txt"].decode()
    assert text.startswith("$ sh -c true\n")
    assert "--- exit status 3 ---" in text and "--- stderr ---" in text
    assert SECRETS["openrc"] not in text


def test_human_sizes():
    from ansible_collections.distroforge.openstack.plugins.module_utils._logs.index import human  # noqa: PLC0415

    assert [human(n) for n in (0, 1023, 1536, 5 * 1024 * 1024)] == ["0 B", "1023 B", "1.5 KiB", "5.0 MiB"]


def test_module_result_never_carries_content(tmp_path):
    (tmp_path / "x.conf").write_text(f"password = {SECRETS['db']}\n")
    result = stage.collect(
        None, paths=[str(tmp_path)], exclude=[], commands=[], patterns=PATTERNS, limits=stage.Limits()
    ).result()
    assert SECRETS["db"] not in repr(result)
    assert io.StringIO(repr(result)).read().count("***") == 0
