"""Real builds of a tiny pbr project with rpmbuild and dpkg in the sandbox."""

import collections
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._build import rpm
from ansible_collections.distroforge.openstack.plugins.module_utils._build.backends import mock
from ansible_collections.distroforge.openstack.plugins.module_utils._build.runner import (
    BuildJob,
    BuildSettings,
    build_many,
    build_one,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._versions.pbr import PackageVersion

from .buildfixtures import SPEC, T0, head, make_distgit, make_upstream
from .gitrepos import commit

pytestmark = pytest.mark.skipif(
    not shutil.which("bwrap") or not shutil.which("rpmbuild"), reason="needs bubblewrap and rpmbuild (run `make`)"
)


@pytest.fixture
def repos(tmp_path):
    up = make_upstream(tmp_path)
    dg = make_distgit(tmp_path)
    return tmp_path, up, dg


def job_for(up: Path, dg: Path, project: str = "hellodf") -> BuildJob:
    return BuildJob(
        project=project,
        name="python-hellodf",
        upstream=str(up),
        distgit=str(dg),
        commit_hash=head(up),
        distro_hash=head(dg),
    )


def settings(tmp: Path, backend: str, name: str = "work", **kw) -> BuildSettings:
    return BuildSettings(backend=backend, workdir=str(tmp / name), mirror_dir=str(tmp / name / "mirrors"), **kw)


def sha256s(paths, suffixes):
    return {Path(p).name: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths if p.endswith(suffixes)}


def test_rpmbuild_makes_srpm_and_rpm_named_from_the_commit(repos):
    tmp, up, dg = repos
    result = build_one(job_for(up, dg), settings(tmp, "rpmbuild"))
    assert result.status == "SUCCESS", result.log_tail
    # 0.1.0 tag + one commit: pbr says 0.1.1.dev1; the release carries the commit time, not the build time
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(T0 + 3600))
    assert result.nvr == f"python-hellodf-0.1.1~~dev-0.{stamp}.{head(up)[:7]}"
    names = sorted(Path(a).name for a in result.artifacts)
    assert names == [
        f"python-hellodf-0.1.1~~dev-0.{stamp}.{head(up)[:7]}.src.rpm",
        f"python3-hellodf-0.1.1~~dev-0.{stamp}.{head(up)[:7]}.noarch.rpm",
    ]
    info = json.loads(Path(result.buildinfo).read_text())
    assert info["inputs"]["commit_hash"] == head(up) and info["inputs"]["distro_hash"] == head(dg)
    assert info["inputs"]["source_tarball"]["name"] == "hellodf-0.1.1.dev1.tar.gz"
    assert info["environment"]["SOURCE_DATE_EPOCH"] == str(T0 + 3600)
    assert "rpmbuild" in info["toolchain"] and info["outputs"][0]["sha256"]
    assert any("rpmbuild" in c for cmd in info["commands"] for c in cmd)
    rpm_file = next(a for a in result.artifacts if a.endswith(".noarch.rpm"))
    listing = subprocess.run(["rpm", "-qlp", rpm_file], capture_output=True, text=True, check=True).stdout
    assert "/usr/lib/python3/site-packages/hellodf/feature.py" in listing
    assert "BUILD SUCCEEDED" in Path(result.log).read_text()


def test_rebuilds_are_bit_identical_in_other_dirs_at_other_times(repos):
    tmp, up, dg = repos
    for backend, suffixes in (("rpmbuild", (".rpm",)), ("dpkg", (".deb",))):
        first = build_one(job_for(up, dg), settings(tmp, backend, "a"))
        time.sleep(1.1)  # a different wall clock second must not matter
        second = build_one(job_for(up, dg), settings(tmp, backend, "elsewhere/b"))
        assert first.status == second.status == "SUCCESS", (first.log_tail, second.log_tail)
        one, two = sha256s(first.artifacts, suffixes), sha256s(second.artifacts, suffixes)
        assert one and one == two, backend


def test_dpkg_builds_with_the_packaging_epoch_and_our_changelog(repos):
    tmp, up, dg = repos
    result = build_one(job_for(up, dg), settings(tmp, "dpkg"))
    assert result.status == "SUCCESS", result.log_tail
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(T0 + 3600))
    version = f"1:0.1.1~~git{stamp}.{head(up)[:7]}-1"
    assert result.nvr == f"python-hellodf_{version}"
    deb = next(a for a in result.artifacts if a.endswith(".deb"))
    fields = subprocess.run(
        ["dpkg-deb", "-f", deb, "Package", "Version"], capture_output=True, text=True, check=True
    ).stdout
    assert fields.split() == ["Package:", "python3-hellodf", "Version:", version]
    assert any(a.endswith(".dsc") for a in result.artifacts)


def test_tagged_commit_gets_the_tag_version(tmp_path):
    up = make_upstream(tmp_path)
    subprocess.run(
        ["git", "-C", str(up), "tag", "-a", "-m", "0.2.0", "0.2.0"],
        check=True,
        env={
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@e",
            "GIT_COMMITTER_DATE": f"@{T0}",
            "PATH": "/usr/bin:/bin",
        },
    )
    dg = make_distgit(tmp_path)
    result = build_one(job_for(up, dg), settings(tmp_path, "rpmbuild"))
    assert result.status == "SUCCESS", result.log_tail
    assert result.nvr.startswith("python-hellodf-0.2.0-0.")


NET_PROBE = "import socket\nsocket.create_connection(('deb.debian.org', 80), timeout=10).close()\n"


def test_builds_have_no_network(tmp_path):
    # Control: the probe reaches Debian's mirror (allowed) from the host itself.
    host = subprocess.run(["/usr/bin/python3", "-c", NET_PROBE], capture_output=True, check=False)
    if host.returncode != 0:
        pytest.skip("this host cannot reach deb.debian.org, so isolation cannot be told apart")
    up = make_upstream(tmp_path)
    # a setup.py that needs the network during the sdist must fail in the sandbox
    commit(
        up,
        "Fetch at build time",
        T0 + 5000,
        {"setup.py": NET_PROBE + "import setuptools\nsetuptools.setup(setup_requires=['pbr'], pbr=True)\n"},
    )
    dg = make_distgit(tmp_path)
    result = build_one(job_for(up, dg), settings(tmp_path, "rpmbuild"))
    assert result.status == "FAILED"
    log = Path(result.log).read_text()
    assert "Temporary failure in name resolution" in log or "Network is unreachable" in log


def test_a_broken_package_does_not_stop_the_others(tmp_path):
    up = make_upstream(tmp_path)
    good = make_distgit(tmp_path)
    bad = make_distgit(tmp_path / "bad", spec="")
    jobs = [job_for(up, bad, project="broken"), job_for(up, good)]
    results = build_many(jobs, settings(tmp_path, "rpmbuild"), parallel=2)
    assert [r.status for r in results] == ["FAILED", "SUCCESS"]
    assert results[0].error == "broken: the distgit must hold exactly one .spec at its top (found none)"
    assert Path(results[0].log).exists()


def test_broken_spec_fails_with_rpmbuilds_error_line(tmp_path):
    up = make_upstream(tmp_path)
    dg = make_distgit(tmp_path, spec=SPEC.replace("%build", "%if 0%{?rhel}\n%build"))
    result = build_one(job_for(up, dg), settings(tmp_path, "rpmbuild"))
    assert result.status == "FAILED"
    assert result.error.startswith("error:"), result.error
    assert "rpmbuild" in result.log_tail


def test_missing_build_dependency_fails_clearly(tmp_path):
    up = make_upstream(tmp_path)
    dg = make_distgit(tmp_path, build_depends=", python3-no-such-package-df")
    result = build_one(job_for(up, dg), settings(tmp_path, "dpkg"))
    assert result.status == "FAILED"
    assert "Unmet build dependencies: python3-no-such-package-df" in result.error


def test_retry_patterns_turn_a_failure_into_retry_after_the_retries(tmp_path):
    up = make_upstream(tmp_path)
    dg = make_distgit(tmp_path, spec=SPEC.replace("python3 setup.py build", "echo 'Curl error (28): Timeout'; exit 1"))
    result = build_one(
        job_for(up, dg), settings(tmp_path, "rpmbuild", retry_patterns=[r"Curl error \(\d+\)"], max_retries=2)
    )
    assert result.status == "RETRY" and result.attempts == 3
    assert result.retry_pattern == r"Curl error \(\d+\)"
    plain = build_one(job_for(up, dg), settings(tmp_path, "rpmbuild", "w2"))
    assert plain.status == "FAILED" and plain.attempts == 1


def test_timeout_fails_the_build(tmp_path):
    up = make_upstream(tmp_path)
    dg = make_distgit(tmp_path, spec=SPEC.replace("python3 setup.py build", "sleep 60"))
    result = build_one(job_for(up, dg), settings(tmp_path, "rpmbuild", timeout=8))
    assert result.status == "FAILED"
    assert "timed out after 8 s" in result.error


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(InputError, match="backend: 'koji' is not one of"):
        build_many([], settings(tmp_path, "koji"))
    with pytest.raises(InputError, match=r"retry_patterns\[0\]: '\(' is not a valid regular expression"):
        build_many([], settings(tmp_path, "rpmbuild", retry_patterns=["("]))


def test_prepare_spec_fills_in_what_dlrn_fills_in():
    version = PackageVersion(
        commit_hash="a" * 40,
        commit_time=T0,
        upstream_version="1.2.3.dev4",
        tag="1.2.2",
        distance=4,
        rpm_version="1.2.3~~dev",
        rpm_release="0.20231114221320.aaaaaaa",
        deb_version="1.2.3~~git20231114221320.aaaaaaa-1",
    )
    out = rpm.prepare_spec(
        SPEC + "* Tue Jan 02 2024 X <x@y> 0.0.9-1\n- old\n", version, "/x/hellodf-1.2.3.dev4.tar.gz", "hellodf"
    )
    lines = out.splitlines()
    assert lines[0] == "%define upstream_version 1.2.3.dev4"
    assert "%global dlrn 1" in lines and "%global dlrn_nvr hellodf-1.2.3.dev4-0.20231114221320.aaaaaaa" in lines
    assert "Version:        1.2.3~~dev" in lines
    assert "Release:        0.20231114221320.aaaaaaa%{?dist}" in lines
    assert "Source0: hellodf-1.2.3.dev4.tar.gz" in lines
    assert lines[-1] == "%changelog"
    with pytest.raises(InputError, match="the spec has no Release: line"):
        rpm.prepare_spec("Version: XXX\nSource0: x\n", version, "/x/y.tar.gz", "hellodf")


# --- mock: cannot run here (no EL repos); its config and command line are checked,
# and the backend runs end to end against a stand-in that rebuilds with rpmbuild.


def test_mock_config_is_valid_mock_python_with_our_settings():
    cfg = mock.config(mock.MockSettings(distro_repo_url="http://repo.example/current"), T0)
    opts: dict = collections.defaultdict(dict)
    exec(cfg, {"config_opts": opts})
    assert opts["root"] == "distroforge-centos-stream-9-x86_64"
    assert opts["rpmbuild_networking"] is False
    assert opts["environment"]["SOURCE_DATE_EPOCH"] == str(T0)
    assert opts["macros"]["%use_source_date_epoch_as_buildtime"] == "1"
    assert opts["macros"]["%dist"] == ".el9"
    assert opts["chroot_setup_cmd"].startswith("install basesystem rpm-build")
    dnf = opts["dnf.conf"]
    assert dnf.index("[distroforge]") < dnf.index("[baseos]")  # the distro's own packages first
    assert "baseurl=http://repo.example/current" in dnf and "priority=1" in dnf
    assert mock.argv("/b/mock.cfg", "/b/out", "/b/x.src.rpm") == [
        "mock",
        "-r",
        "/b/mock.cfg",
        "--resultdir",
        "/b/out",
        "--no-cleanup-after",
        "--rebuild",
        "/b/x.src.rpm",
    ]
    with pytest.raises(InputError, match=r"mock repos\[0\]: each repo needs name"):
        mock.config(mock.MockSettings(repos=[{"name": "x"}]), T0)


def test_mock_backend_fails_clearly_without_mock(repos, monkeypatch):
    tmp, up, dg = repos
    real_which = mock.shutil.which
    monkeypatch.setattr(mock.shutil, "which", lambda name: None if name == "mock" else real_which(name))
    result = build_one(job_for(up, dg), settings(tmp, "mock"))
    assert result.status == "FAILED"
    assert result.error.startswith("backend mock: mock is not installed on this builder")


def test_mock_backend_end_to_end_with_a_stand_in(repos, monkeypatch):
    tmp, up, dg = repos
    bindir = tmp / "bin"
    bindir.mkdir()
    # Stand-in: `mock -r CFG --resultdir OUT ... --rebuild SRPM` rebuilt by rpmbuild, as DLRN's benchmark does.
    (bindir / "mock").write_text(
        "#!/bin/sh\nwhile [ $# -gt 1 ]; do case $1 in --resultdir) out=$2;; esac; shift; done\n"
        'rpmbuild --rebuild --nodeps --define "_topdir $out/top" --define "_rpmdir $out" "$1" || exit 1\n'
        'mv "$out"/*/*.rpm "$out"/\n'  # mock leaves the RPMs flat in --resultdir
    )
    (bindir / "mock").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    result = build_one(job_for(up, dg), settings(tmp, "mock"))
    assert result.status == "SUCCESS", result.log_tail
    assert any(a.endswith(".noarch.rpm") for a in result.artifacts)
    assert result.nvr.endswith(".el9")
    log = Path(result.log).read_text()
    assert "mock -r" in log and "mock.cfg --resultdir" in log


@pytest.mark.skipif(not shutil.which("sbuild") or not shutil.which("mmdebstrap"), reason="needs sbuild and mmdebstrap")
def test_sbuild_builds_in_a_clean_chroot_bit_identically(repos):
    tmp, up, dg = repos
    cache = "/var/cache/distroforge/sbuild"  # the chroot is made once per machine, like a builder's cache
    results = [
        build_one(job_for(up, dg), settings(tmp, "sbuild", name, options={"sbuild_cache": cache}))
        for name in ("a", "b/c")
    ]
    for result in results:
        assert result.status == "SUCCESS", result.log_tail
        assert "sbuild (clean chroot, unshare mode)" in Path(result.log).read_text()
        assert {Path(a).suffix for a in result.artifacts} >= {".deb", ".dsc", ".changes", ".buildinfo"}
    assert sha256s(results[0].artifacts, (".deb",)) == sha256s(results[1].artifacts, (".deb",))
    info = json.loads(Path(results[0].buildinfo).read_text())
    assert info["settings"]["sbuild_chroot"].startswith("bookworm-")
