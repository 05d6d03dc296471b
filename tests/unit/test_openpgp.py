"""Key fingerprints read without GnuPG equal GnuPG's own, and a key that is not the expected one is refused."""

import subprocess

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common import openpgp
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError


def gpg(home, *args, data=None) -> bytes:
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", "", *args],
        input=data,
        capture_output=True,
        check=True,
    ).stdout


def gnupg_primary_fingerprints(home, data: bytes) -> list[str]:
    """What `gpg --show-keys --with-colons` says: the fpr line right after each pub line."""
    lines = gpg(home, "--show-keys", "--with-colons", data=data).decode().splitlines()
    return [lines[i + 1].split(":")[9] for i, line in enumerate(lines) if line.startswith("pub:")]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Two keys GnuPG made: ed25519 with an encryption subkey, and RSA; exported both ways."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    gpg(home, "--quick-generate-key", "Repo One <one@example.org>", "ed25519", "sign", "never")
    gpg(home, "--quick-generate-key", "Repo Two <two@example.org>", "rsa2048", "sign", "never")
    first, second = [
        line.split(":")[9]
        for line in gpg(home, "--list-keys", "--with-colons").decode().splitlines()
        if line.startswith("fpr:")
    ][:2]
    gpg(home, "--quick-add-key", first, "cv25519", "encr", "never")
    return {
        "home": home,
        "one": first,
        "armored": gpg(home, "--export", "--armor", first),
        "binary": gpg(home, "--export", first),
        "both": gpg(home, "--export", "--armor", first, second),
        "two": gpg(home, "--export", second),
        "second_fpr": second,
    }


@pytest.mark.parametrize("form", ["armored", "binary", "both", "two"])
def test_fingerprints_equal_gnupgs(keys, form):
    data = keys[form]
    assert openpgp.primary_fingerprints(data, "key") == gnupg_primary_fingerprints(keys["home"], data)


def test_the_expected_key_passes_in_any_spelling(keys):
    spaced = " ".join(keys["one"][i : i + 4] for i in range(0, 40, 4)).lower()
    assert openpgp.check(keys["armored"], [spaced], "key") == [keys["one"]]


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda k: k["two"], "does not match the expected"),
        (lambda k: k["both"], "does not match the expected"),  # an extra key must not ride along
        (lambda k: k["binary"][:-7], "truncated"),
        (lambda k: b"", "holds no OpenPGP public key"),
        (lambda k: b"<html>404 Not Found</html>", "not start an OpenPGP packet"),
        (lambda k: k["armored"].replace(b"\n=", b"\nA=", 1), ""),  # damaged armor: refused one way or another
        (lambda k: k["binary"][:20] + bytes([k["binary"][20] ^ 1]) + k["binary"][21:], "does not match"),
    ],
)
def test_anything_but_the_expected_key_is_refused_in_one_line(keys, mangle, message):
    with pytest.raises(InputError) as refused:
        openpgp.check(mangle(keys), [keys["one"]], "http://repo/RPM-GPG-KEY-delorean")
    text = str(refused.value)
    assert message in text and "\n" not in text
    assert text.startswith("http://repo/RPM-GPG-KEY-delorean: ")


@pytest.mark.parametrize("bad", ["", "1234ABCD", "0x" + "A" * 40, "G" * 40])
def test_a_short_or_malformed_expected_fingerprint_is_refused(keys, bad):
    with pytest.raises(InputError, match="not a full key fingerprint"):
        openpgp.check(keys["armored"], [bad], "key")
