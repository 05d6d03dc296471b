"""Builds under attack: sdists, distgits and build steps that try to get out of their build directory.

Every hostile input is built as root (the worst case: a root build could
write anywhere) with the fastest backend here (dpkg; rpmbuild or mock where
the attack is theirs), and must end as a FAILED build whose error is one
line naming what was refused, with nothing written outside the build's
own directory and no process left running.  Most are refused before
dpkg-buildpackage runs, so each build takes a few seconds.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import threading
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._build import archive, deps, sandbox, source
from ansible_collections.distroforge.openstack.plugins.module_utils._build.runner import (
    BuildJob,
    BuildResult,
    BuildSettings,
    build_many,
    build_one,
)

from .buildfixtures import SPEC, T0, head, make_distgit, make_upstream
from .gitrepos import ENV, git
from .hostile_archives import (
    BASE,
    STRICTER_THAN_DATA_FILTER,
    UP,
    compare_with_data_filter,
    hard,
    harmless_cases,
    hostile_cases,
    reg,
    tar_gz,
)

pytestmark = pytest.mark.skipif(
    not all(map(__import__("shutil").which, ("bwrap", "dpkg-buildpackage", "rpmbuild"))),
    reason="needs bubblewrap, dpkg-buildpackage and rpmbuild (run `make`)",
)

# setup.py of a pbr project (pbr=True is what the engine looks for) that makes its own sdist: the test's archive.
SDIST_FROM_FILE = """\
# a pbr project (pbr=True) whose setup.py writes the sdist itself
import os, shutil
os.makedirs("/build/sdist", exist_ok=True)
shutil.copyfile("hostile.tar.gz", "/build/sdist/hellodf-" + os.environ["PBR_VERSION"] + ".tar.gz")
"""
REAL_SDIST = "import setuptools\nsetuptools.setup(setup_requires=['pbr'], pbr=True)\n"


# --- helpers ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path):
    """Files of the builder outside any build directory: what an escape would write to or read."""
    path = tmp_path / "outside"
    (path / "box").mkdir(parents=True)
    (path / "keep").write_text("the builder's file\n")
    (path / "secret").write_text(f"SECRET-{uuid.uuid4().hex}\n")
    return path


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under ``root`` (links not followed): mode, size, mtime."""
    found = {}
    for top, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            info = os.lstat(os.path.join(top, name))
            found[os.path.relpath(os.path.join(top, name), root)] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return found


def commit_files(repo: Path, files: dict[str, str | bytes], when: int = T0 + 5000) -> str:
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "hostile", when=when)
    return head(repo)


def sdist_from(tarball: bytes) -> dict[str, str | bytes]:
    """Upstream files whose setup.py gives ``tarball`` as the sdist."""
    return {"setup.py": SDIST_FROM_FILE, "hostile.tar.gz": tarball}


def upstream_with(root: Path, files: dict[str, str | bytes]) -> Path:
    """The fixture project (its own repository under ``root``) with ``files`` committed on top."""
    up = make_upstream(root)
    commit_files(up, files)
    return up


def job_for(up: Path, dg: Path) -> BuildJob:
    return BuildJob("hellodf", "python-hellodf", str(up), str(dg), head(up), head(dg))


def settings(tmp: Path, backend: str = "dpkg", **kw) -> BuildSettings:
    return BuildSettings(backend=backend, workdir=str(tmp / "work"), mirror_dir=str(tmp / "work" / "mirrors"), **kw)


def build_bounded(jobs: list[BuildJob], config: BuildSettings, limit: float = 300) -> list[BuildResult]:
    """build_many, failing the test (instead of hanging it) when the builds are not done after ``limit`` s."""
    results: list[BuildResult] = []
    worker = threading.Thread(target=lambda: results.extend(build_many(jobs, config, parallel=2)), daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        # unblock each read of a FIFO (tarfile opens it once per format), so that the thread ends
        for _attempt in range(100):
            if not worker.is_alive():
                break
            for fifo in Path(config.workdir).rglob("*.tar.gz"):
                if fifo.is_fifo():
                    with contextlib.suppress(OSError):  # no reader at this instant
                        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            worker.join(0.1)
        pytest.fail(f"the builds hung (not done after {limit:.0f} s)")
    return results


def refusals(results: list[BuildResult], expected: dict[str, str]) -> dict[str, str]:
    """For each case whose result is not a one-line FAILED holding the expected phrase: what it was instead."""
    wrong = {}
    for (case, phrase), result in zip(expected.items(), results, strict=True):
        error = result.error or ""
        if result.status != "FAILED" or "\n" in error or phrase not in error:
            wrong[case] = f"{result.status}: {error}"
    return wrong


def results_hold(workdir: Path, text: str) -> list[str]:
    """Result files (artifacts, logs) that hold ``text``."""
    return [str(p) for p in (workdir / "results").rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def processes_with(token: str) -> list[str]:
    """Command lines of the live processes whose arguments hold ``token``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if token.encode() in cmdline and int(pid) != os.getpid():
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


@pytest.fixture
def token():
    """A word in the command line of every process a test's build starts; all are killed after the test."""
    word = f"df-hostile-{uuid.uuid4().hex[:12]}"
    yield word
    subprocess.run(["pkill", "-KILL", "-f", word], check=False)


# A stand-in for mock: answers the toolchain probe (mock --version) at once; what follows is its --rebuild.
MOCK_VERSION = '#!/bin/sh\ncase "$1" in --version) echo "mock 0 (stand-in)"; exit 0;; esac\n'


def sleeper(token: str, tag: str) -> str:
    """A shell command for a process that sleeps and carries ``token``."""
    return f"python3 -c 'import time; time.sleep(1000)' {token}-{tag}"


# --- 1. hostile sdists ------------------------------------------------------------------------------------------------


def test_sdist_members_leaving_the_tree_are_refused_and_nothing_lands_outside(tmp_path, outside):
    # 10 cases: '..', absolute, symlinks out (absolute, relative, through a symlink, listed after a file
    # going through them), hard links out (absolute, relative), a device file, a FIFO
    cases = hostile_cases(str(outside))
    dg = make_distgit(tmp_path)
    jobs = [
        job_for(
            upstream_with(tmp_path / f"case{i}", {"setup.py": SDIST_FROM_FILE, "hostile.tar.gz": tar_gz(members)}), dg
        )
        for i, (members, _phrase) in enumerate(cases.values())
    ]
    before = snapshot(outside)
    results = build_bounded(jobs, settings(tmp_path))
    assert refusals(results, {case: phrase for case, (_m, phrase) in cases.items()}) == {}
    for result in results:
        assert result.error.startswith("hellodf: sdist hellodf-"), result.error
        assert "refused" in result.error
    assert snapshot(outside) == before


def test_sdist_files_that_are_not_plain_tarballs_are_refused_without_hanging(tmp_path, outside):
    # 4 cases: a symlink to a tarball of the builder (its secret would be packaged), a FIFO (reading it
    # blocks forever), a zip named .tar.gz, a directory of that name
    secret = outside / "secret.tar.gz"
    secret.write_bytes(tar_gz([*BASE, reg("x/SECRET", (outside / "secret").read_bytes())]))
    made = "os.path.join('/build/sdist', 'hellodf-' + os.environ['PBR_VERSION'] + '.tar.gz')"
    zipped = tmp_path / "zipped.zip"
    with zipfile.ZipFile(zipped, "w") as handle:
        handle.writestr("x/setup.py", "import setuptools\n")
    plants = {
        "a symlink to a file of the builder": (f"os.symlink({str(secret)!r}, {made})", f"a symlink to '{secret}'"),
        "a FIFO": (f"os.mkfifo({made})", "is a FIFO, not a regular file"),
        "a zip": (f"shutil.copyfile('hostile.zip', {made})", "is not a tar archive"),
        "a directory": (f"os.makedirs({made})", "is a directory, not a regular file"),
    }
    dg = make_distgit(tmp_path)
    jobs = []
    for i, (plant, _phrase) in enumerate(plants.values()):
        setup = f"# pbr=True\nimport os, shutil\nos.makedirs('/build/sdist', exist_ok=True)\n{plant}\n"
        jobs.append(
            job_for(upstream_with(tmp_path / f"case{i}", {"setup.py": setup, "hostile.zip": zipped.read_bytes()}), dg)
        )
    before = snapshot(outside)
    results = build_bounded(jobs, settings(tmp_path), limit=240)
    assert refusals(results, {case: phrase for case, (_p, phrase) in plants.items()}) == {}
    assert snapshot(outside) == before
    assert results_hold(tmp_path / "work", (outside / "secret").read_text().strip()) == []


def test_a_build_step_cannot_plant_symlinks_where_the_engine_writes_next(tmp_path, outside):
    # 4 cases: the sdist step (setup.py, in the sandbox) replaces a directory the engine writes to on
    # the builder afterwards with a symlink out, or fills it with symlinks named like its next files
    plants = {
        "sources -> outside": f"os.symlink({str(outside / 'box')!r}, '/build/sources')",
        "sources/<tarball>.tmp -> a file outside": (
            "os.makedirs('/build/sources'); os.symlink("
            f"{str(outside / 'keep')!r}, '/build/sources/hellodf-' + os.environ['PBR_VERSION'] + '.tar.gz.tmp')"
        ),
        "deb -> outside": f"os.symlink({str(outside / 'box')!r}, '/build/deb')",
        "deps -> outside": f"os.symlink({str(outside / 'box')!r}, '/build/deps')",
    }
    expected = {
        "sources -> outside": f"the build made 'sources' (a symlink to '{outside / 'box'}')",
        "sources/<tarball>.tmp -> a file outside": "the build made 'sources' (a directory)",
        "deb -> outside": f"the build made 'deb' (a symlink to '{outside / 'box'}')",
        "deps -> outside": f"the build made 'deps' (a symlink to '{outside / 'box'}')",
    }
    dg = make_distgit(tmp_path)
    jobs = [
        job_for(upstream_with(tmp_path / f"case{i}", {"setup.py": f"import os\n{plant}\n{REAL_SDIST}"}), dg)
        for i, plant in enumerate(plants.values())
    ]
    before = snapshot(outside)
    # deps is written only for a build against earlier packages: give it one
    against = tmp_path / "python3-earlier_1.0-1_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(_deb_root(tmp_path)), str(against)], check=True)
    results = build_bounded(jobs, settings(tmp_path, extra_packages=(str(against),)))
    assert refusals(results, expected) == {}
    assert all("where the engine writes next; refused" in r.error for r in results)
    assert snapshot(outside) == before


def _deb_root(tmp: Path) -> Path:
    root = tmp / "earlier"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: python3-earlier\nVersion: 1.0-1\nArchitecture: all\nMaintainer: t <t@e>\nDescription: t\n"
    )
    return root


def test_the_repack_keeps_hard_links_inside_as_files_and_agrees_with_the_data_filter(tmp_path, outside):
    # 15 member sets (10 hostile, 5 harmless) through the member checks; where this Python has
    # tarfile's 'data' filter, the checks refuse what it refuses (and, on purpose, absolute names)
    for name, members in harmless_cases().items():
        raw = tmp_path / f"{len(name)}.tar.gz"
        raw.write_bytes(tar_gz(members))
        source._normalise_tarball(str(raw), str(tmp_path / "out.tar.gz"), "hellodf-1.0", T0, where="hellodf")
    raw.write_bytes(tar_gz([*BASE, hard("x/again.py", "x/setup.py")]))
    source._normalise_tarball(str(raw), str(tmp_path / "out.tar.gz"), "hellodf-1.0", T0)
    with archive.open_tar(str(tmp_path / "out.tar.gz"), source.sdist_scope("t", "out")) as tar:
        again = tar.getmember("hellodf-1.0/again.py")
        assert again.isreg() and tar.extractfile(again).read() == b"import setuptools\n"  # was dropped before
    for name, (members, phrase) in hostile_cases(str(outside)).items():
        raw.write_bytes(tar_gz(members))
        with pytest.raises(archive.Refused, match=None) as err:
            source._normalise_tarball(str(raw), str(tmp_path / "out.tar.gz"), "hellodf-1.0", T0, where="hellodf")
        assert phrase in str(err.value), name
    if archive.HAS_DATA_FILTER:
        assert compare_with_data_filter(str(outside)) == []
    assert set(hostile_cases(str(outside))) >= STRICTER_THAN_DATA_FILTER


# --- 2. hostile distgits ----------------------------------------------------------------------------------------------


def _git_input(repo: Path, stdin: bytes, *args: str) -> str:
    env = dict(os.environ, **ENV, GIT_AUTHOR_DATE=f"@{T0 + 9000} +0000", GIT_COMMITTER_DATE=f"@{T0 + 9000} +0000")
    return (
        subprocess.run(["git", "-C", str(repo), *args], input=stdin, env=env, check=True, capture_output=True)
        .stdout.decode()
        .strip()
    )


def crafted_commit(dg: Path, entries: list[str]) -> None:
    """Commit the distgit's tree plus raw tree ``entries`` (git's porcelain refuses them), on its branch."""
    listing = git(dg, "ls-tree", "HEAD")
    tree = _git_input(dg, ("\n".join([listing, *entries]) + "\n").encode(), "mktree", "--missing")
    commit = _git_input(dg, b"crafted\n", "commit-tree", tree, "-p", "HEAD")
    git(dg, "update-ref", "refs/heads/rpm-master", commit)


def test_distgit_paths_out_of_the_tree_are_refused(tmp_path, outside):
    # 6 cases: symlinks out (an absolute patch series, the spec up the tree, a directory, a chain),
    # a symlink and a directory of one name (the file written through it), a '..' tree entry
    up = make_upstream(tmp_path)
    box, keep = str(outside / "box"), str(outside / "keep")
    links = {
        "debian/patches/series -> an absolute file": (
            {"debian/patches/series": keep},
            f"'debian/patches/series' is a symlink to '{keep}'",
        ),
        "the spec -> up the tree": (
            {"python-hellodf.spec": f"{UP}{keep[1:]}"},
            "'python-hellodf.spec' is a symlink to '../",
        ),
        "sources/ -> a directory outside": ({"sources": box}, f"'sources' is a symlink to '{box}'"),
        "a chain of symlinks": ({"debian/a": "b", "debian/b": f"../{UP}{keep[1:]}"}, "'debian/a' is a symlink to 'b'"),
    }
    jobs, expected = [], {}
    for i, (case, (symlinks, phrase)) in enumerate(links.items()):
        dg = make_distgit(tmp_path / f"dg{i}")
        for name, target in symlinks.items():
            (dg / name).unlink(missing_ok=True)
            (dg / name).parent.mkdir(parents=True, exist_ok=True)
            (dg / name).symlink_to(target)
        commit_files(dg, {})
        jobs.append(job_for(up, dg))
        expected[case] = phrase
    dg = make_distgit(tmp_path / "dg-same-name")
    file_blob = _git_input(dg, b"written through\n", "hash-object", "-w", "--stdin")
    link_blob = _git_input(dg, box.encode(), "hash-object", "-w", "--stdin")
    subtree = _git_input(dg, f"100644 blob {file_blob}\tx\n".encode(), "mktree")
    crafted_commit(dg, [f"120000 blob {link_blob}\tevil", f"040000 tree {subtree}\tevil"])
    jobs.append(job_for(up, dg))
    expected["a symlink and a directory of one name"] = f"'evil' is a symlink to '{box}'"
    dg = make_distgit(tmp_path / "dg-dotdot")
    blob = _git_input(dg, b"x\n", "hash-object", "-w", "--stdin")
    subtree = _git_input(dg, f"100644 blob {blob}\tx\n".encode(), "mktree")
    crafted_commit(dg, [f"040000 tree {subtree}\t.."])
    jobs.append(job_for(up, dg))
    expected["a '..' tree entry"] = "invalid path '../x'"
    before = snapshot(outside)
    results = build_bounded(jobs, settings(tmp_path))
    assert refusals(results, expected) == {}
    for result in results[:-1]:
        assert result.error.startswith("hellodf: distgit file '"), result.error
        assert result.error.endswith("outside the distgit; packaging must be self-contained (commit the file instead)")
    assert snapshot(outside) == before


def test_packaging_code_cannot_reach_the_builder_through_outputs_configs_or_the_spec_parser(
    tmp_path, outside, monkeypatch
):
    # 3 cases: a spec whose build makes an "RPM" that is a symlink to a secret of the builder (the engine
    # would copy it into the results), a spec whose %(...) plants /build/mock.cfg as a symlink to a file
    # of the builder (the engine would write the mock config through it), and a spec whose %(...) would
    # run on the builder when build_queue reads its BuildRequires
    secret = (outside / "secret").read_text().strip()
    up = make_upstream(tmp_path)
    output_spec = (
        "Name: python-hellodf\nVersion: XXX\nRelease: XXX\nSummary: t\nLicense: ASL 2.0\n"
        "Source0: hellodf-%{upstream_version}.tar.gz\nBuildArch: noarch\n%description\nt\n"
        "%build\nmkdir -p %{_rpmdir}/noarch\n"
        f"ln -s {outside / 'secret'} %{{_rpmdir}}/noarch/python3-evil-1-1.noarch.rpm\n"
        "%install\nmkdir -p %{buildroot}/usr/share/t && echo t > %{buildroot}/usr/share/t/t\n"
        "%files\n/usr/share/t/t\n%changelog\n"
    )
    dg = make_distgit(tmp_path / "dg-output", spec=output_spec, with_debian=False)
    before = snapshot(outside)
    result = build_one(job_for(up, dg), settings(tmp_path, "rpmbuild"))
    assert result.status == "FAILED" and "\n" not in result.error
    assert result.error == (
        "hellodf: output 'rpmbuild/RPMS/noarch/python3-evil-1-1.noarch.rpm' is a symlink to "
        f"'{outside / 'secret'}', not a regular file in the build directory; refused"
    )
    assert results_hold(tmp_path / "work", secret) == []

    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "mock").write_text("#!/bin/sh\nexit 1\n")
    (bindir / "mock").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    plant = f"%global planted %(ln -s {outside / 'keep'} /build/mock.cfg; echo 1)\n"
    dg = make_distgit(tmp_path / "dg-mock", spec=plant + SPEC, with_debian=False)
    result = build_one(job_for(up, dg), settings(tmp_path / "mock", "mock"))
    assert result.status == "FAILED"
    assert result.error == (
        f"hellodf: the build made 'mock.cfg' (a symlink to '{outside / 'keep'}') in its build directory, "
        "where the engine writes next; refused"
    )

    pwned = outside / "box" / "parsed-on-the-builder"
    text = f"%global x %(touch {pwned}; echo python3-pbr)\n" + SPEC.replace(
        "BuildRequires:  python3-pbr", "BuildRequires:  %{x}"
    )
    found = deps.spec_relations(text)
    assert not pwned.exists(), "the spec's shell code ran on the builder"
    assert "python-hellodf" in found.provides  # parsed all the same (in the sandbox)
    assert snapshot(outside) == before


# --- 3. daemons ------------------------------------------------------------------------------------------------------

DAEMONS = """\
# pbr=True: a pbr project whose setup.py leaves processes behind, then makes its sdist
import os, subprocess, sys
sleeper = [sys.executable, "-c", "import time; time.sleep(1000)"]
quiet = {{"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}}
subprocess.Popen(["setsid", *sleeper, "{token}-setsid"], **quiet)
subprocess.Popen(["nohup", *sleeper, "{token}-nohup"], **quiet)
subprocess.Popen(["sh", "-c", "trap '' HUP TERM; exec \\"$@\\"", "sh", *sleeper, "{token}-trap"], **quiet)
if os.fork() == 0:  # a double fork
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [*sleeper, "{token}-double-fork"])
    os._exit(0)
os.wait()
"""


def test_processes_a_build_leaves_behind_are_killed_and_reported(tmp_path, token, monkeypatch):
    # 5 daemons: setsid, nohup, one ignoring HUP and TERM and a double fork, from a step in the sandbox;
    # one from a step run on the builder itself (mock's, here a stand-in)
    up = upstream_with(tmp_path, {"setup.py": DAEMONS.format(token=token) + REAL_SDIST})
    result = build_one(job_for(up, make_distgit(tmp_path)), settings(tmp_path))
    assert result.status == "FAILED", result.error
    assert result.error.startswith("python3 setup.py sdist (no network): left processes running after it ended (")
    assert result.error.endswith("); they were killed: a build step must not start daemons")
    assert processes_with(token) == []

    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "mock").write_text(f"{MOCK_VERSION}{sleeper(token, 'mock')} >/dev/null 2>&1 &\nexit 0\n")
    (bindir / "mock").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    result = build_one(
        job_for(make_upstream(tmp_path / "plain"), make_distgit(tmp_path / "m")), settings(tmp_path / "m", "mock")
    )
    assert result.status == "FAILED"
    assert re.fullmatch(
        r"mock --rebuild \(clean EL chroot, no network\): left processes running after it ended \(\w+\); "
        "they were killed: a build step must not start daemons",
        result.error,
    ), result.error
    assert processes_with(token) == []


# --- 4. full disks ---------------------------------------------------------------------------------------------------

WRITER = """\
# pbr=True: a pbr project whose setup.py writes {mode} (64 MiB in all), then waits
import os, sys, time
where, chunk = {where!r}, b"\\0" * (1 << 20)
os.makedirs(where, exist_ok=True)
if {mode!r} == "one file":
    with open(os.path.join(where, "big"), "wb") as out:
        for _ in range(64):
            out.write(chunk)
            out.flush()
elif {mode!r} == "many files":
    for i in range(64):
        with open(os.path.join(where, f"f{{i}}"), "wb") as out:
            out.write(chunk)
elif {mode!r} == "empty files":
    for i in range(16384):
        open(os.path.join(where, f"e{{i}}"), "wb").close()
elif {mode!r} == "its log":
    for _ in range(64):
        sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
time.sleep(1000)
"""
LIMIT_MIB = 8


def test_a_build_that_fills_its_disk_is_stopped_and_reported(tmp_path, outside, monkeypatch):
    # 8 cases: the build directory (one big file, many files, 16384 empty files), the log (stdout),
    # /tmp, /var/tmp, /dev/shm (tmpfs: shrunk to 4 MiB here) and an sdist that unpacks to 64 MiB
    monkeypatch.setattr(sandbox, "TMPFS_SIZE", 4 << 20, raising=False)
    monkeypatch.setattr(sandbox, "SHM_SIZE", 4 << 20, raising=False)
    no_space = "no space left: the build directory and log hold "
    cases = {
        "one file": ("/build/src", no_space),
        "many files": ("/build/src", no_space),
        "empty files": ("/build/src/empty", no_space),
        "its log": ("/build/src", no_space),
        "/tmp": ("/tmp", "No space left on device"),
        "/var/tmp": ("/var/tmp", "No space left on device"),
        "/dev/shm": ("/dev/shm", "No space left on device"),
    }
    dg = make_distgit(tmp_path)
    jobs = []
    for i, (case, (where, _phrase)) in enumerate(cases.items()):
        mode = case if not case.startswith("/") else "many files"
        jobs.append(
            job_for(upstream_with(tmp_path / f"case{i}", {"setup.py": WRITER.format(mode=mode, where=where)}), dg)
        )
    bomb = tar_gz([*BASE, reg("x/zeros", b"\0" * (64 << 20))])
    jobs.append(job_for(upstream_with(tmp_path / "bomb", sdist_from(bomb)), dg))
    expected = {case: phrase for case, (_where, phrase) in cases.items()}
    expected["an sdist bomb"] = "unpacks to 64.0 MiB, over the build's disk limit of 8.0 MiB (disk_limit); refused"
    before = snapshot(outside)
    config = settings(tmp_path, disk_limit=LIMIT_MIB, timeout=60, keep_build_dir=True)
    results = build_bounded(jobs, config)
    assert refusals(results, expected) == {}
    for result in results[:4]:
        assert result.error.startswith("python3 setup.py sdist (no network): " + no_space), result.error
        assert result.error.endswith(f"the build's disk limit (disk_limit) is {LIMIT_MIB}.0 MiB; the step was stopped")
    # no file outgrows the limit (RLIMIT_FSIZE), whatever the timing
    big = list(Path(config.workdir, "scratch").glob("*/build/src/big"))
    assert len(big) == 1 and big[0].stat().st_size <= LIMIT_MIB << 20
    assert snapshot(outside) == before


# --- 5. network ------------------------------------------------------------------------------------------------------

PROBE = """\
import socket, sys
def attempt(what, connect):
    try:
        connect()
        return what + ": reached"
    except OSError as exc:
        return f"{{what}}: {{exc}}"
def abstract():
    with socket.socket(socket.AF_UNIX) as unix:
        unix.connect(b"\\0{name}")
found = [
    attempt("127.0.0.1:{port}", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=5).close()),
    attempt("the abstract socket", abstract),
    attempt("deb.debian.org", lambda: socket.getaddrinfo("deb.debian.org", 80)),
]
if not any(line.endswith("reached") for line in found):
    sys.exit("error: no network in the sandbox: " + "; ".join(found))
print("\\n".join(found))
"""


def test_a_build_reaches_no_network_not_even_the_builders_loopback(tmp_path, token):
    # 3 attempts from setup.py: a TCP port the test listens on at the builder's 127.0.0.1, an abstract
    # unix socket the test listens on, a DNS name; the same probe run on the builder reaches the first two
    with socket.socket() as listener, socket.socket(socket.AF_UNIX) as unix:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        unix.bind(f"\0{token}".encode())
        unix.listen(8)
        probe = PROBE.format(port=listener.getsockname()[1], name=token)
        control = subprocess.run(["/usr/bin/python3", "-c", probe], capture_output=True, text=True, check=False)
        assert "127.0.0.1" in control.stdout and control.stdout.count(": reached") >= 2, control
        for sock in (listener, unix):
            sock.accept()[0].close()
        up = upstream_with(tmp_path, {"setup.py": "# pbr=True\n" + probe + REAL_SDIST})
        result = build_one(job_for(up, make_distgit(tmp_path)), settings(tmp_path))
        for sock in (listener, unix):
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.accept()  # nobody knocked
    assert result.status == "FAILED"
    assert result.error.startswith("error: no network in the sandbox: 127.0.0.1:"), result.error
    assert "the abstract socket: [Errno 111] Connection refused" in result.error
    assert ": reached" not in result.error and "\n" not in result.error


# --- 6. steps that never end -----------------------------------------------------------------------------------------


def test_a_step_that_never_ends_is_killed_with_its_children(tmp_path, token, monkeypatch):
    # 2 steps past the build timeout: setup.py in the sandbox (a child ignoring TERM and HUP, a setsid
    # child, then it sleeps) and a step run on the builder (a stand-in for mock with a child)
    hang = (
        "# pbr=True\nimport subprocess, time\n"
        f"subprocess.Popen(['sh', '-c', \"trap '' TERM HUP; {sleeper(token, 'trap')}\"])\n"
        f"subprocess.Popen(['setsid', 'sh', '-c', \"{sleeper(token, 'setsid')}\"])\n"
        "time.sleep(1000)\n"
    )
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "mock").write_text(f"{MOCK_VERSION}{sleeper(token, 'mock-child')} &\nexec {sleeper(token, 'mock')}\n")
    (bindir / "mock").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    sandboxed = (job_for(upstream_with(tmp_path / "a", {"setup.py": hang}), make_distgit(tmp_path / "a")), "dpkg")
    on_builder = (job_for(make_upstream(tmp_path / "b"), make_distgit(tmp_path / "b")), "mock")
    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(
                lambda jb: build_one(jb[0], settings(tmp_path / jb[1], jb[1], timeout=15)), [sandboxed, on_builder]
            )
        )
    assert [r.error for r in results] == [
        "python3 setup.py sdist (no network): build timed out after 15 s",
        "mock --rebuild (clean EL chroot, no network): build timed out after 15 s",
    ]
    assert processes_with(token) == []
    logs = [Path(r.log).read_text() for r in results]
    assert "killed after the build timeout of 15 s (with its processes: " in logs[1]
