"""Real SSH hosts on loopback for the static driver's tests.

Each host is an ``sshd`` on 127.0.0.1 in a mount namespace of its own
(``unshare --mount``, root only), so one can have an extra unprivileged
user (a private ``/etc/passwd``) and another can lack Python (a private
``/usr/bin`` without ``python3*``) without touching the machine. Not
bubblewrap: it sets no_new_privs, and setuid ``sudo`` must work inside.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
UNPRIVILEGED = "np-user"


def usable() -> str:
    """Why these hosts cannot run here, or '' when they can."""
    if os.geteuid() != 0:
        return "needs root (sshd switches users, unshare --mount)"
    for tool in (SSHD, shutil.which("sudo"), shutil.which("ssh"), shutil.which("unshare")):
        if not tool or not Path(tool).exists():
            return "needs openssh-server, openssh-client, sudo and util-linux (requirements/debian.txt)"
    return ""


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LoopbackSshd:
    """One sshd on 127.0.0.1:``port``; ``hide_python`` removes python3 from its /usr/bin."""

    workdir: Path
    port: int
    hide_python: bool = False
    process: subprocess.Popen[bytes] | None = None

    def start(self, public_key: Path) -> None:
        # sshd reads authorized_keys as the user logging in: the unprivileged
        # one must reach it, so the directory is world-traversable (0755).
        self.workdir.mkdir(parents=True)
        self.workdir.chmod(0o755)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.workdir / "host_key")], check=True
        )
        (self.workdir / "authorized_keys").write_text(public_key.read_text())
        home = self.workdir / "home"
        home.mkdir()
        os.chown(home, 4242, 4242)
        passwd = self.workdir / "passwd"
        # root gets a home of its own too: the machine's root dotfiles (a pyenv shim) stay out.
        (self.workdir / "root").mkdir()
        lines = [
            f"root:x:0:0:root:{self.workdir / 'root'}:/bin/sh" if line.startswith("root:") else line
            for line in Path("/etc/passwd").read_text().splitlines()
        ]
        passwd.write_text("\n".join([*lines, f"{UNPRIVILEGED}:x:4242:4242::{home}:/bin/sh", ""]))
        config = self.workdir / "sshd_config"
        config.write_text(
            f"ListenAddress 127.0.0.1:{self.port}\nHostKey {self.workdir / 'host_key'}\n"
            f"AuthorizedKeysFile {self.workdir / 'authorized_keys'}\nPidFile none\nUsePAM no\n"
            "StrictModes no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\nLogLevel ERROR\n"
        )
        hide = ""
        if self.hide_python:
            # A tmpfs /usr/bin of symlinks to every real entry but python3*, an empty /usr/local/bin.
            hide = (
                f"mkdir {self.workdir}/bin && mount --bind /usr/bin {self.workdir}/bin && "
                "mount -t tmpfs tmpfs /usr/local/bin && mount -t tmpfs tmpfs /usr/bin && "
                f"{self.workdir}/bin/cp -s -P {self.workdir}/bin/* /usr/bin/ && "
                f"{self.workdir}/bin/rm /usr/bin/python3* && "
            )
        script = (
            f"mount --bind {passwd} /etc/passwd && {hide}"
            f"mount -t tmpfs tmpfs /run && mkdir -m 0755 /run/sshd && exec {SSHD} -D -e -f {config}"
        )
        self.process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            stdout=subprocess.DEVNULL,
            stderr=open(self.workdir / "sshd.log", "wb"),  # noqa: SIM115 - sshd keeps it open until stop()
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.workdir / "sshd.log").read_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not listen on {self.port}: {(self.workdir / 'sshd.log').read_text()}")

    def stop(self) -> None:
        """End this sshd (its own process only); safe to call twice or before start."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
