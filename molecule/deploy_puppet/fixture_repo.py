"""A small signed flat apt repository in DLRN's layout, for the deploy tests.

Debian's keystone and python3-keystone are re-versioned *below* Debian's
own version (``<debian version>~distroforge1``) and published as one commit
repository ``repos/<h[0:2]>/<h[2:4]>/<commit_hash>_<distgit8>/`` with
``Packages``, ``Release`` (Origin ``delorean``, as repo_publish writes it)
and a clear-signed ``InRelease``; ``current`` points at it and the public
key sits beside the repos as ``RPM-GPG-KEY-delorean``.  When the node ends
up with the ``~distroforge1`` version, the apt pin (not a higher version)
made our repository win.  Usage: ``fixture_repo.py <root>``; prints JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

PACKAGES = ("keystone", "python3-keystone")
REPONAME = "delorean"
SUFFIX = "~distroforge1"


def _run(*argv: str, cwd: Path | None = None, env: dict | None = None) -> str:
    return subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def _candidate(package: str) -> str:
    for line in _run("apt-cache", "policy", package).splitlines():
        if line.strip().startswith("Candidate:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit(f"apt-cache policy {package}: no candidate (run apt-get update on this machine)")


def _reversion(deb: Path, old: str, new: str, out_dir: Path) -> Path:
    tree = out_dir / f".{deb.stem}"
    _run("dpkg-deb", "-R", str(deb), str(tree))
    control = tree / "DEBIAN" / "control"
    control.write_text(control.read_text().replace(old, new), encoding="utf-8")
    # Pool names carry no epoch (and no "%3a" that a web server would decode).
    package, _version, arch = deb.name.removesuffix(".deb").split("_")
    target = out_dir / f"{package}_{new.split(':', 1)[-1]}_{arch}.deb"
    _run("dpkg-deb", "--root-owner-group", "-b", str(tree), str(target))
    _run("rm", "-rf", str(tree))
    return target


def build(root: Path) -> dict:
    """Build the repository under ``root`` (idempotent: an existing one is reused)."""
    root = root.absolute()
    debian_version = _candidate("keystone")
    version = debian_version + SUFFIX
    commit_hash = hashlib.sha1(f"keystone {version}".encode()).hexdigest()
    distgit_hash = hashlib.sha1(f"distgit {version}".encode()).hexdigest()
    repo_hash = f"{commit_hash}_{distgit_hash[:8]}"
    repos = root / "repos"
    repo_dir = repos / commit_hash[:2] / commit_hash[2:4] / repo_hash
    info = {"repos_dir": str(repos), "repo_hash": repo_hash, "version": version, "debian_version": debian_version}
    gnupg = root / "gnupg"
    env = {**os.environ, "GNUPGHOME": str(gnupg)}
    if (repo_dir / "InRelease").is_file():
        return {**info, "key_fingerprint": _fingerprint(env)}
    repo_dir.mkdir(parents=True, exist_ok=True)
    download = root / "download"
    download.mkdir(exist_ok=True)
    _run("apt-get", "download", *(f"{name}={debian_version}" for name in PACKAGES), cwd=download)
    for deb in sorted(download.glob("*.deb")):
        _reversion(deb, debian_version, version, repo_dir)
    gnupg.mkdir(mode=0o700, exist_ok=True)
    if not _run("gpg", "--batch", "--list-secret-keys", env=env).strip():
        _run(
            "gpg", "--batch", "--passphrase", "", "--quick-gen-key",
            "distroforge molecule <molecule@distroforge.invalid>", "rsa3072", "sign", "never", env=env,
        )  # fmt: skip
    (repo_dir / "Packages").write_text(_run("apt-ftparchive", "packages", ".", cwd=repo_dir), encoding="utf-8")
    release = _run(
        "apt-ftparchive",
        "-o", f"APT::FTPArchive::Release::Origin={REPONAME}",
        "-o", f"APT::FTPArchive::Release::Label={REPONAME}",
        "-o", "APT::FTPArchive::Release::Suite=bookworm",
        "release", ".", cwd=repo_dir,
    )  # fmt: skip
    (repo_dir / "Release").write_text(release, encoding="utf-8")
    _run("gpg", "--batch", "--yes", "--clearsign", "-o", "InRelease", "Release", cwd=repo_dir, env=env)
    (repos / f"RPM-GPG-KEY-{REPONAME}").write_text(_run("gpg", "--armor", "--export", env=env), encoding="utf-8")
    current = repos / "current"
    if current.is_symlink():
        current.unlink()
    current.symlink_to(os.path.relpath(repo_dir, repos))
    return {**info, "key_fingerprint": _fingerprint(env)}


def _fingerprint(env: dict) -> str:
    """The signing key's fingerprint, which repo_configure checks the downloaded key against."""
    listing = _run("gpg", "--batch", "--with-colons", "--list-keys", env=env)
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


if __name__ == "__main__":
    print(json.dumps(build(Path(sys.argv[1]))))
