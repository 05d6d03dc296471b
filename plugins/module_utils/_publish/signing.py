"""Signing repositories with GnuPG: repomd.xml.asc, InRelease/Release.gpg and RPM signatures.

The key lives in a GnuPG home of its own on the repo server, outside the
served ``repos/`` tree; only its public part is published beside the
repositories.  When no key is named and the home holds none, one is
created (RSA 3072, no expiry, no passphrase: it signs unattended), so a
first run publishes signed repositories without setup.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import List, Optional, Sequence

from .._common.errors import InputError
from .._common.proc import run

DEFAULT_UID = "distroforge repository signing key <distroforge@localhost>"
DEFAULT_ALGO = "rsa3072"


def _gpg(home: Path, *args: str, what: str, timeout: float = 120) -> str:
    return run(
        ["gpg", "--homedir", str(home), "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback", *args],
        env={"GNUPGHOME": str(home), "LC_ALL": "C"},
        timeout=timeout,
        what=what,
    ).stdout


def _secret_fingerprints(home: Path) -> List[str]:
    out = _gpg(home, "--with-colons", "--list-secret-keys", what=f"gpg: list secret keys in {home}")
    fingerprints: List[str] = []
    primary = False
    for line in out.splitlines():
        fields = line.split(":")
        if fields[0] == "sec":
            primary = True
        elif fields[0] == "ssb":
            primary = False
        elif fields[0] == "fpr" and primary:
            fingerprints.append(fields[9])
            primary = False
    return fingerprints


@dataclasses.dataclass(frozen=True)
class Signer:
    """A usable signing key: its GnuPG home and fingerprint."""

    home: Path
    fingerprint: str

    @classmethod
    def ensure(
        cls,
        home: Path,
        key: Optional[str] = None,
        *,
        uid: str = DEFAULT_UID,
        algo: str = DEFAULT_ALGO,
        create: bool = True,
    ) -> "tuple[Signer, bool]":
        """Find ``key`` (fingerprint or key id) in ``home``, or create one; return it and whether it is new."""
        home = Path(home)
        if not home.is_dir():
            if not create:
                raise InputError(f"gpg_home {home} does not exist: create it or let the publisher create a key")
            home.mkdir(parents=True, mode=0o700)
        os.chmod(home, 0o700)
        found = _secret_fingerprints(home)
        if key:
            wanted = key.replace(" ", "").upper()
            matches = [fpr for fpr in found if fpr.upper().endswith(wanted)]
            if len(matches) != 1:
                raise InputError(
                    f"gpg_key {key!r}: no single secret key with that fingerprint in {home}"
                    f" (found {', '.join(found) or 'none'}): import it there or leave gpg_key empty to create one"
                )
            return cls(home, matches[0]), False
        if len(found) == 1:
            return cls(home, found[0]), False
        if len(found) > 1:
            raise InputError(
                f"gpg_home {home} holds {len(found)} secret keys ({', '.join(found)}):"
                " set gpg_key to the one to sign with"
            )
        if not create:
            raise InputError(f"gpg_home {home} holds no secret key: import one or allow creating it")
        _gpg(
            home,
            "--passphrase",
            "",
            "--quick-generate-key",
            uid,
            algo,
            "sign",
            "never",
            what=f"gpg: create the signing key in {home}",
        )
        created = _secret_fingerprints(home)
        if len(created) != 1:
            raise InputError(f"gpg_home {home}: key creation left {len(created)} keys: inspect the directory")
        return cls(home, created[0]), True

    def public_key(self, armor: bool) -> bytes:
        """The public key, ASCII-armored (for dnf ``gpgkey``) or binary (for apt ``signed-by``)."""
        if not armor:
            return _export_binary(self.home, self.fingerprint)
        return _gpg(self.home, "--armor", "--export", self.fingerprint, what="gpg: export the public key").encode(
            "ascii"
        )

    def detach_sign(self, path: Path, armor: bool = True, output: Optional[Path] = None) -> Path:
        """Write a detached signature of ``path`` (``<path>.asc`` by default)."""
        target = output or path.with_name(path.name + (".asc" if armor else ".gpg"))
        _gpg(
            self.home,
            "--local-user",
            self.fingerprint,
            "--digest-algo",
            "SHA256",
            *(["--armor"] if armor else []),
            "--output",
            str(target),
            "--detach-sign",
            str(path),
            what=f"gpg: sign {path}",
        )
        return target

    def clearsign(self, path: Path, output: Path) -> Path:
        """Write ``output`` as the clear-signed ``path`` (apt's InRelease)."""
        _gpg(
            self.home,
            "--local-user",
            self.fingerprint,
            "--digest-algo",
            "SHA256",
            "--output",
            str(output),
            "--clearsign",
            str(path),
            what=f"gpg: clear-sign {path}",
        )
        return output

    def sign_rpms(self, paths: Sequence[Path]) -> None:
        """Add our signature to RPM files in place (so clients can use ``gpgcheck=1``)."""
        if not paths:
            return
        run(
            [
                "rpmsign",
                "--addsign",
                "--define",
                "__gpg /usr/bin/gpg",
                "--define",
                f"_gpg_path {self.home}",
                "--define",
                f"_gpg_name {self.fingerprint}",
                *[str(path) for path in paths],
            ],
            env={"GNUPGHOME": str(self.home), "LC_ALL": "C"},
            timeout=600,
            what="rpmsign --addsign",
        )


def _export_binary(home: Path, fingerprint: str) -> bytes:
    import subprocess  # noqa: PLC0415 - binary output is the one place proc.run's text mode does not fit

    proc = subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--export", fingerprint],
        env={**os.environ, "GNUPGHOME": str(home), "LC_ALL": "C"},
        capture_output=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout:
        raise InputError(f"gpg_home {home}: cannot export key {fingerprint}: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def verify_detached(signature: Path, data: Path, keyring: Path) -> bool:
    """True when ``signature`` is a good signature of ``data`` by a key in ``keyring`` (gpgv)."""
    proc = run(
        ["gpgv", "--keyring", str(keyring), str(signature), str(data)],
        timeout=60,
        check=False,
        what="gpgv",
    )
    return proc.rc == 0


def verify_clearsigned(signed: Path, keyring: Path) -> bool:
    """True when the clearsigned ``signed`` (an InRelease) carries a good signature by a key in ``keyring`` (gpgv)."""
    return run(["gpgv", "--keyring", str(keyring), str(signed)], timeout=60, check=False, what="gpgv").rc == 0
