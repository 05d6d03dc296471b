"""Tiny real packages and state DB builds for the publishing tests and benchmark."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import CommitRecord, NewCommit, StateDB

SPEC = """\
Name: {name}
Version: {version}
Release: {release}
Summary: distroforge test package {name}
License: ASL 2.0
BuildArch: noarch
%description
Test package {name}.
%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo {name}-{version} > %{{buildroot}}/usr/share/{name}/VERSION
%files
/usr/share/{name}/VERSION
%changelog
* Thu Jan 01 2015 distroforge <distroforge@localhost> - {version}-{release}
- test build
"""


def hexhash(*seed: object) -> str:
    """A stable 40-hex-digit commit hash from a seed."""
    return hashlib.sha1(repr(seed).encode()).hexdigest()


def build_rpm(workdir: Path, name: str, version: str = "1.0", release: str = "1") -> list[Path]:
    """Build ``name`` (noarch + src) with rpmbuild; return both files (about 0.2 s)."""
    top = workdir / f"rpmbuild-{name}-{version}-{release}"
    spec = top / f"{name}.spec"
    top.mkdir(parents=True, exist_ok=True)
    spec.write_text(SPEC.format(name=name, version=version, release=release))
    subprocess.run(
        [
            "rpmbuild",
            "-ba",
            "--define",
            f"_topdir {top}",
            "--define",
            "_buildhost distroforge",
            "--define",
            "source_date_epoch_from_changelog 1",
            str(spec),
        ],
        check=True,
        capture_output=True,
    )
    return sorted(top.glob("RPMS/noarch/*.rpm")) + sorted(top.glob("SRPMS/*.src.rpm"))


def build_deb(workdir: Path, name: str, version: str = "1.0-1") -> Path:
    """Build an architecture-independent .deb of ``name`` with dpkg-deb."""
    root = workdir / f"debroot-{name}-{version}"
    (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (root / "usr" / "share" / name).mkdir(parents=True, exist_ok=True)
    (root / "usr" / "share" / name / "VERSION").write_text(f"{name} {version}\n")
    (root / "DEBIAN" / "control").write_text(
        textwrap.dedent(
            f"""\
            Package: {name}
            Version: {version}
            Architecture: all
            Maintainer: distroforge <distroforge@localhost>
            Description: distroforge test package {name}
            """
        )
    )
    target = workdir / f"{name}_{version}_all.deb"
    subprocess.run(
        ["dpkg-deb", "--build", "--root-owner-group", str(root), str(target)], check=True, capture_output=True
    )
    return target


def artifacts_dir(workdir: Path, files: list[Path], log: str = "build ok\n") -> Path:
    """A build's output directory as the build step hands it over: packages plus build.log."""
    target = workdir / f"artifacts-{len(list(workdir.glob('artifacts-*')))}"
    target.mkdir(parents=True)
    for path in files:
        shutil.copy2(path, target / path.name)
    (target / "build.log").write_text(log)
    return target


def add_build(
    db: StateDB,
    project: str,
    seq: int = 0,
    *,
    status: str = "SUCCESS",
    release: str = "master",
    component: str | None = None,
    nvr: str | None = None,
    artifacts: list[str] | None = None,
) -> CommitRecord:
    """Queue, claim and finish one build of ``project`` (commit number ``seq``)."""
    (record,) = db.queue(
        [
            NewCommit(
                project,
                release,
                hexhash(project, seq),
                hexhash("distgit", project, seq),
                1_700_000_000 + seq * 100,
                component=component,
                subject=f"change {seq} of {project}",
                dt_queued=1_700_000_000 + seq * 100,
            )
        ]
    )
    db.claim(record.id, "builder-1", now=1_700_000_001 + seq * 100)
    return db.finish(
        record.id,
        status,
        nvr=nvr,
        artifacts=artifacts or [],
        notes=None if status == "SUCCESS" else "build failed: see build.log",
        dt_build=1_700_000_050 + seq * 100,
    )


def make_signing_key(home: Path) -> str:
    """Create a passphrase-less signing key (RSA 2048: quick to make) in GnuPG home ``home``; its fingerprint."""
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-generate-key", "distroforge test <test@localhost>",
         "rsa2048", "sign", "never"],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    out = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-secret-keys"], check=True, capture_output=True, text=True, env=env
    ).stdout
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


def stop_gpg_agent(home: Path) -> None:
    """Stop the agent gpg started for ``home`` (it would outlive the test)."""
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False, capture_output=True)
