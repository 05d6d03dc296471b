"""The repo server's secrets at rest: the signing key is its owner's alone, whatever the umask."""

import os
import stat

from ansible_collections.distroforge.openstack.plugins.module_utils._publish.signing import Signer


def test_signing_key_home_and_private_key_are_owner_only(tmp_path):
    home = tmp_path / "work" / "gnupg"
    old_umask = os.umask(0)  # the loosest a caller could leave
    try:
        signer, created = Signer.ensure(home)
    finally:
        os.umask(old_umask)
    assert created and signer.fingerprint
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    keys = list((home / "private-keys-v1.d").glob("*.key"))
    assert keys, "no private key file written"
    loose = {
        str(path.relative_to(home)): oct(stat.S_IMODE(path.stat().st_mode))
        for path in [*keys, *home.rglob("*")]
        if path.is_file() and stat.S_IMODE(path.stat().st_mode) & 0o077
    }
    assert not [name for name in loose if name.startswith("private-keys-v1.d")], loose


def test_an_existing_home_left_open_is_closed_again(tmp_path):
    home = tmp_path / "gnupg"
    Signer.ensure(home)
    home.chmod(0o755)
    Signer.ensure(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
