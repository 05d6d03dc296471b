"""Builds across podman builder nodes: first build with 1, 2 and 3 builders (DEB and RPM), against DLRN 0.26.1.

One package database (rdoinfo format), measured in one run:

1. First build (poll, plan in waves, build on the builders, collect, record,
   publish one repo) with playbooks/build.yml, for each backend (dpkg: DEB,
   rpmbuild: RPM) and each number of podman builder nodes (node_provision's
   podman driver, builder profile): wall time, packages built per minute,
   speedup against one builder, failures and blocked packages.  Every run
   starts from an empty state DB and empty builders (no mirrors, no results).
2. The no-change cycle right after each first build: build.yml again (poll +
   plan + publish nothing); it must build and publish nothing.
3. DLRN 0.26.1 (bench/peers.py, its harness's stand-in mock building with
   rpmbuild, the harness's own projects.ini and mock config) building the
   same RPM specs from the same upstream and distgit repositories, first
   build then no-change run.
4. Peak memory: the controller's process tree (ansible-playbook and every
   process it starts, including the podman clients of its connections;
   RSS summed, so shared pages count once per process: an upper bound), each
   builder container's own (its memory cgroup: RSS sampled, and the cgroup's
   peak, which also counts page cache), DLRN's process tree.

The builders read the database's file:// repositories through a git daemon
on the node network's gateway (their git maps the file:// URLs to it), as
the builders of a farm read upstream over the network.  The first use on a
machine builds the builder image (mmdebstrap, about a minute, cached).
Containers and network are named df-scale-*, and removed at the end.

The machine has 2 cores shared with other work: the load average is printed
with every figure, and more builders than cores cannot build faster here.

Environment:
  BENCH_SCALE_FULL=1       the large run (make scale-bench): the zed-libs example (make example-zed-libs)
                           when it is made, with 1, 2 and 3 builders; without it (make bench) the small
                           example of make example with 1 and 2 builders
  BENCH_SCALE_PKGDB=FILE   the entry file of another package database
  BENCH_SCALE_RELEASE      release to build (default zed)
  BENCH_SCALE_BUILDERS     builder counts (default 1,2,3 for the full run, else 1,2)
  BENCH_SCALE_BACKENDS     backends (default dpkg,rpmbuild)
  BENCH_SCALE_PARALLEL=N   builds at a time per builder (package_build_parallel; default one per CPU)
  BENCH_SCALE_KEEP=1       keep the builder nodes afterwards (a rerun skips their setup)
  BENCH_DLRN=0             no DLRN run (our figures only)
  DISTROFORGE_BENCH_ROOT   where runs go (default /var/tmp/distroforge-bench; this bench uses scale/)
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml
from _common import TOP

sys.path.insert(0, str(TOP / ".venv" / "collections"))
sys.path.insert(0, str(TOP))

from ansible_collections.distroforge.openstack.plugins.module_utils._build import backends as build_backends
from ansible_collections.distroforge.openstack.plugins.module_utils._pkgdb import loader
from tests.unit.dlrn_harness import HARNESS, PEERS, ready_env

ROOT = Path(os.environ.get("DISTROFORGE_BENCH_ROOT", "/var/tmp/distroforge-bench")) / "scale"
PREFIX = "df-scale-"
NETWORK = "df-scale"
SUBNET = "10.89.57.0/24"
GATEWAY = "10.89.57.1"
GIT_PORT = 9457
SMALL_EXAMPLE = TOP / "build" / "example" / "rdoinfo" / "rdo-full.yml"
ZED_LIBS = TOP / "build" / "zed-libs" / "rdoinfo"
DEFAULT_BACKENDS = ("dpkg", "rpmbuild")
# DLRN 0.26.1 builds RPMs: its figures stand beside those of our backends that build that kind.
DLRN_KIND = "RPM"
MIB = 1024 * 1024
# The venv's ansible-playbook, also when this script runs outside make (no venv on PATH).
PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")


def kind(backend: str) -> str:
    """DEB or RPM: the packaging kind ``backend`` builds, as the build backends' registry says."""
    return build_backends.get(backend, "BENCH_SCALE_BACKENDS").kind.name.upper()


def default_pkgdb(full: bool) -> Path:
    """The zed-libs example for the full run when it is made, else the small example."""
    if full:
        for name in ("rdo-full.yml", "rdo.yml"):
            if (ZED_LIBS / name).exists():
                return ZED_LIBS / name
        print(f"BENCH_SCALE_FULL=1 but {ZED_LIBS} is not made (make example-zed-libs): the small example instead")
    return SMALL_EXAMPLE


@dataclass
class Options:
    pkgdb: Path
    release: str
    counts: list[int]
    backends: list[str]
    dlrn: bool
    keep: bool
    parallel: int

    @classmethod
    def from_env(cls) -> Options:
        full = os.environ.get("BENCH_SCALE_FULL") == "1"
        backends = os.environ.get("BENCH_SCALE_BACKENDS", ",".join(DEFAULT_BACKENDS)).split(",")
        for backend in backends:
            kind(backend)  # a name the registry does not know fails here, not after the runs
        return cls(
            pkgdb=Path(os.environ.get("BENCH_SCALE_PKGDB") or default_pkgdb(full)).resolve(),
            release=os.environ.get("BENCH_SCALE_RELEASE", "zed"),
            counts=[int(n) for n in os.environ.get("BENCH_SCALE_BUILDERS", "1,2,3" if full else "1,2").split(",")],
            backends=backends,
            dlrn=os.environ.get("BENCH_DLRN", "1") != "0",
            keep=os.environ.get("BENCH_SCALE_KEEP") == "1",
            parallel=int(os.environ.get("BENCH_SCALE_PARALLEL", "0")),
        )


def load() -> str:
    """The load average now, and the cores, for every figure."""
    one, five, _fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} (1/5 min), {os.cpu_count()} cores"


# -- memory -----------------------------------------------------------------------------------------------


class Peaks(threading.Thread):
    """Peak memory while a run lasts, sampled twice a second.

    ``tree``: RSS summed over a process and all its descendants.  ``rss``:
    per container, the RSS of its memory cgroup (memory.stat total_rss);
    ``cgroup``: the cgroup's own peak (memory.max_usage_in_bytes, reset at
    the start), which counts page cache too.
    """

    def __init__(self, pid: int, cgroups: dict[str, Path]) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.cgroups = cgroups
        self.tree = 0
        self.rss = dict.fromkeys(cgroups, 0)
        self.cgroup = dict.fromkeys(cgroups, 0)
        self.done = threading.Event()
        for path in cgroups.values():
            # where it cannot be reset, the peak is the one since the container started
            with contextlib.suppress(OSError):
                (path / "memory.max_usage_in_bytes").write_text("0\n")

    def _sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for proc in procs:
            with contextlib.suppress(psutil.Error):  # gone meanwhile
                total += proc.memory_info().rss
        self.tree = max(self.tree, total)
        for name, path in self.cgroups.items():
            try:
                stat = dict(line.split() for line in (path / "memory.stat").read_text().splitlines())
                self.rss[name] = max(self.rss[name], int(stat.get("total_rss", 0)))
            except (OSError, ValueError):
                pass

    def run(self) -> None:
        while not self.done.wait(0.5):
            self._sample()

    def stop(self) -> None:
        self._sample()
        self.done.set()
        self.join()
        for name, path in self.cgroups.items():
            with contextlib.suppress(OSError, ValueError):
                self.cgroup[name] = int((path / "memory.max_usage_in_bytes").read_text())


def container_cgroup(name: str) -> Path | None:
    """The memory cgroup directory of a container (cgroup v1, podman's cgroupfs manager), or None."""
    out = subprocess.run(
        ["podman", "inspect", "--format", "{{.State.CgroupPath}}|{{.Id}}", name],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    path, _sep, cid = out.partition("|")
    candidates = [
        Path("/sys/fs/cgroup/memory") / path.lstrip("/"),
        Path("/sys/fs/cgroup/memory/libpod_parent") / f"libpod-{cid}",
    ]
    candidates.append(Path("/sys/fs/cgroup") / path.lstrip("/"))  # cgroup v2
    return next((c for c in candidates if path and (c / "memory.stat").exists()), None)


@dataclass
class Timed:
    """One measured command: wall and CPU seconds (user + system, its whole process tree), peaks, load, output."""

    wall: float
    cpu: float
    peaks: Peaks
    load_before: str
    load_after: str
    rc: int
    output: str


def timed(
    cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path = TOP, cgroups: dict[str, Path] | None = None
) -> Timed:
    """Run ``cmd``, measured; its output goes to a file (no pipe to drain while waiting)."""
    before = load()
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        peaks = Peaks(proc.pid, cgroups or {})
        peaks.start()
        # wait4, not wait: the CPU time of the command and of every process it waited for
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        peaks.stop()
        out.seek(0)
        output = out.read()
    return Timed(wall, usage.ru_utime + usage.ru_stime, peaks, before, load(), proc.returncode, output)


# -- the builders -------------------------------------------------------------------------------------------


def git_root(packages: list[dict]) -> Path | None:
    """The directory holding every file:// repository of the database (None: no file:// URL)."""
    paths = [
        url.removeprefix("file://")
        for pkg in packages
        for url in (pkg["upstream"], pkg["distgit"])
        if url.startswith("file://")
    ]
    if not paths:
        return None
    return Path(os.path.commonpath(paths))


def snapshot(pkgdb: Path, root: Path | None) -> Path:
    """The database's entry file in a private copy of it and of its file:// repositories under ``root``.

    Both sides build exactly the same commits, and nothing that changes the
    originals during the run (a rerun of the example's generator) changes
    the measured no-change runs.  The database's files name the copy.
    """
    if root is None:
        return pkgdb
    copy = ROOT / "source"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy, symlinks=True)
    db_dir = pkgdb.parent
    if db_dir.is_relative_to(root):
        copied = copy / db_dir.relative_to(root)
    else:
        copied = copy / "_pkgdb"
        shutil.copytree(db_dir, copied, symlinks=True)
    for path in copied.rglob("*"):
        if path.suffix in (".yml", ".yaml") and path.is_file():
            path.write_text(path.read_text().replace(str(root), str(copy)))
    return copied / pkgdb.name


def builder_image_packages() -> list[str]:
    """The node image's packages plus what builder_setup installs for rpmbuild and dpkg, baked into the image."""
    defaults = yaml.safe_load((TOP / "roles" / "node_provision" / "defaults" / "main.yml").read_text())
    role_vars = TOP / "roles" / "builder_setup" / "vars"
    wanted = list(defaults["node_provision_images"]["bookworm"]["packages"])
    wanted += yaml.safe_load((role_vars / "Debian.yml").read_text())["__builder_setup_common_packages"]
    for backend in DEFAULT_BACKENDS:
        spec = yaml.safe_load((role_vars / "backends" / f"{backend}.yml").read_text())
        wanted += spec[f"__builder_setup_backend_{backend}"]["packages"]["Debian"]
    return sorted(set(wanted))


def localhost_inventory(path: Path, builders: list[str]) -> Path:
    """An inventory: this machine is the repo server, ``builders`` the podman builder nodes."""
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    node = {"ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3"}
    inventory = {
        "all": {
            "hosts": {"localhost": local},
            "children": {
                "repo_server": {"hosts": {"localhost": local}},
                "builders": {"hosts": {name: {**node, "ansible_host": name} for name in builders}},
            },
        }
    }
    path.write_text(json.dumps(inventory))
    return path


def builders_play(state: str, names: list[str], root: Path | None) -> subprocess.CompletedProcess:
    """bench/scale_builders.yml: create and set up (present) or remove (absent) the builder nodes."""
    ROOT.mkdir(parents=True, exist_ok=True)
    image = {**yaml.safe_load((TOP / "roles" / "node_provision" / "defaults" / "main.yml").read_text())}
    settings = {
        "scale_state": state,
        "scale_nodes": [
            {"name": n, "groups": ["builders"], "profile": "builder", "image": "df-scale-builder"} for n in names
        ],
        "scale_network": NETWORK,
        "scale_subnet": SUBNET,
        "scale_git_root": str(root or "/nonexistent"),
        "scale_git_url": f"git://{GATEWAY}:{GIT_PORT}/",
        "node_provision_images": {
            "df-scale-builder": {**image["node_provision_images"]["bookworm"], "packages": builder_image_packages()}
        },
    }
    (ROOT / "builders.json").write_text(json.dumps(settings))
    inventory = localhost_inventory(ROOT / "inventory-setup.json", [])
    return subprocess.run(
        [
            PLAYBOOK,
            "-i",
            str(inventory),
            str(TOP / "bench" / "scale_builders.yml"),
            "-e",
            f"@{ROOT / 'builders.json'}",
        ],
        cwd=TOP,
        capture_output=True,
        text=True,
        check=False,
    )


def wipe_builders(names: list[str]) -> None:
    """Empty the builders' work and mirror directories: each first build starts with nothing."""
    for name in names:
        subprocess.run(
            ["podman", "exec", name, "sh", "-c", "rm -rf /var/lib/distroforge/builder/* /var/cache/distroforge/git/*"],
            check=True,
            capture_output=True,
        )


# -- ours ---------------------------------------------------------------------------------------------------


class RunFailed(Exception):
    """One measured run did not complete; the others go on."""


@dataclass
class BuildRun:
    backend: str
    builders: int
    first: Timed
    nochange: Timed
    statuses: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    nochange_new: int = 0
    waves: int = 0

    @property
    def built(self) -> int:
        return self.statuses.get("SUCCESS", 0)


def ours(opts: Options, backend: str, names: list[str], cgroups: dict[str, Path]) -> BuildRun:
    """First build and no-change cycle of the database on the builders ``names``."""
    wipe_builders(names)
    work = ROOT / f"ours-{backend}-{len(names)}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    inventory = localhost_inventory(work / "inventory.json", names)
    extra = {
        "distroforge_pkgdb": str(opts.pkgdb),
        "distroforge_release": opts.release,
        "distroforge_workdir": str(work),
        "distroforge_backend": backend,
        **({"package_build_parallel": opts.parallel} if opts.parallel > 0 else {}),
    }
    cmd = [PLAYBOOK, "-i", str(inventory), str(TOP / "playbooks" / "build.yml"), "-e", json.dumps(extra)]
    env = {**os.environ, "ANSIBLE_CONFIG": str(TOP / "ansible.cfg")}
    first = timed(cmd, env=env, cgroups=cgroups)
    (work / "first.log").write_text(first.output)
    if first.rc != 0:
        raise RunFailed(f"build.yml failed (rc {first.rc}; {work / 'first.log'}):\n{first.output[-3000:]}")
    with sqlite3.connect(work / "state.db") as db:
        rows = db.execute("SELECT project, status FROM commits").fetchall()
    count = len(rows)
    nochange = timed(cmd, env=env, cgroups=cgroups)
    (work / "nochange.log").write_text(nochange.output)
    if nochange.rc != 0:
        raise RunFailed(
            f"build.yml, no change, failed (rc {nochange.rc}; {work / 'nochange.log'}):\n{nochange.output[-3000:]}"
        )
    with sqlite3.connect(work / "state.db") as db:
        after = db.execute("SELECT COUNT(*) FROM commits").fetchone()[0]
    waves = re.findall(r"wave (\d+)", first.output)
    return BuildRun(
        backend,
        len(names),
        first,
        nochange,
        statuses=dict(Counter(status for _project, status in rows)),
        failed=sorted(project for project, status in rows if status != "SUCCESS"),
        nochange_new=after - count,
        waves=max((int(w) for w in waves), default=0) + 1,
    )


# -- DLRN ---------------------------------------------------------------------------------------------------


@dataclass
class DlrnRun:
    first: Timed
    nochange: Timed
    statuses: dict[str, int]
    failed: list[str]
    nochange_new: int

    @property
    def built(self) -> int:
        return self.statuses.get("SUCCESS", 0)


def harness_configs(work: Path, venv: Path) -> tuple[str, str]:
    """projects.ini and the mock config template exactly as the harness's run_dlrn.sh writes them."""
    script = (HARNESS / "run_dlrn.sh").read_text()
    ini = re.search(r'cat > "\$WORK/projects.ini" <<EOF\n(.*?)\nEOF\n', script, re.S)
    cfg = re.search(r"cat > \"\$WORK/config/bench-el9.cfg\" <<'EOF'\n(.*?)\nEOF\n", script, re.S)
    if not ini or not cfg:
        raise RuntimeError(f"{HARNESS / 'run_dlrn.sh'}: projects.ini or bench-el9.cfg not found where expected")
    values = {"WORK": str(work), "VENV": str(venv), "WORKERS": "1"}
    text = re.sub(r"\$(WORKERS|WORK|VENV)\b", lambda m: values[m.group(1)], ini.group(1))
    return text, cfg.group(1) + "\n"


def dlrn(opts: Options, packages: list[dict]) -> DlrnRun | str:
    """DLRN's first build and no-change run of the same database (RPM), or why it did not run."""
    try:
        env = ready_env()
    except (RuntimeError, OSError) as exc:
        return f"DLRN harness cannot run ({exc})"
    peer = PEERS.PEERS["dlrn"]
    work = ROOT / "dlrn"
    shutil.rmtree(work, ignore_errors=True)
    for sub in ("config", "data", "logs"):
        (work / sub).mkdir(parents=True)
    ini_text, mock_cfg = harness_configs(work, peer.venv)
    (work / "config" / "bench-el9.cfg").write_text(mock_cfg)
    (work / "delorean-deps.repo").write_text("# dependencies repo for the benchmark: intentionally empty\n")
    ini = configparser.RawConfigParser()
    ini.read_string(ini_text)
    # The database's own branches and release, where the harness's workload has rpm-master/master and no tags.
    ini.set("DEFAULT", "distro", Counter(p["distgit_branch"] for p in packages).most_common(1)[0][0])
    ini.set("DEFAULT", "source", Counter(p["source_branch"] for p in packages).most_common(1)[0][0])
    ini.set("DEFAULT", "tags", opts.release)
    ini.set("rdoinfo_driver", "info_files", opts.pkgdb.name)
    with (work / "projects.ini").open("w") as handle:
        ini.write(handle)
    run_env = {k: v for k, v in env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run_env.update(
        PATH=f"{peer.home / 'bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        MOCK_STANDIN_BASE=str(work / "mock"),
        LANG="C.UTF-8",
    )
    cmd = [
        str(peer.venv / "bin" / "dlrn"),
        "--config-file",
        str(work / "projects.ini"),
        "--info-repo",
        str(opts.pkgdb.parent),
    ]
    first = timed(cmd, env=run_env, cwd=work)
    (work / "logs" / "first.log").write_text(first.output)
    with sqlite3.connect(work / "commits.sqlite") as db:
        rows = db.execute("SELECT project_name, status FROM commits").fetchall()
    nochange = timed(cmd, env=run_env, cwd=work)
    (work / "logs" / "nochange.log").write_text(nochange.output)
    with sqlite3.connect(work / "commits.sqlite") as db:
        after = db.execute("SELECT COUNT(*) FROM commits").fetchone()[0]
    return DlrnRun(
        first,
        nochange,
        statuses=dict(Counter(status for _p, status in rows)),
        failed=sorted(p for p, status in rows if status != "SUCCESS"),
        nochange_new=after - len(rows),
    )


# -- report -------------------------------------------------------------------------------------------------


def per_minute(built: int, seconds: float) -> float:
    return built / (seconds / 60) if seconds > 0 else 0.0


def report(opts: Options, name: str, total: int, runs: list[BuildRun], peer: DlrnRun | str | None) -> None:
    for backend in opts.backends:
        mine = [r for r in runs if r.backend == backend]
        base = next((r for r in mine if r.builders == 1), None)
        for run in mine:
            line = (
                f"scale first build, {kind(backend)} ({backend}), {name}: {run.built}/{total} built"
                f"{', not built: ' + ', '.join(run.failed) if run.failed else ''}, {run.waves} waves, "
                f"{run.builders} builder(s): {run.first.wall:.2f} s (CPU {run.first.cpu:.0f} s controller side), "
                f"{per_minute(run.built, run.first.wall):.1f} packages/min"
            )
            if base is not None and run is not base:
                line += f", speedup vs 1 builder: {base.first.wall / run.first.wall:.2f}x"
            if kind(backend) == DLRN_KIND and isinstance(peer, DlrnRun):
                line += (
                    f" | DLRN 0.26.1: {peer.first.wall:.2f} s (CPU {peer.first.cpu:.0f} s, {peer.built}/{total} built)"
                    f" | ratio ours/DLRN: {run.first.wall / peer.first.wall:.2f}x"
                )
            print(f"{line} [{run.first.load_before} -> {run.first.load_after}]", flush=True)
    for run in runs:
        line = (
            f"scale no-change cycle, {kind(run.backend)}, {run.builders} builder(s): {run.nochange.wall:.2f} s"
            f" (CPU {run.nochange.cpu:.1f} s)"
            f"{'' if run.nochange_new == 0 else f' ({run.nochange_new} NEW BUILDS: not a no-change run)'}"
        )
        if isinstance(peer, DlrnRun):
            ratio = run.nochange.wall / peer.nochange.wall
            line += f" | DLRN 0.26.1: {peer.nochange.wall:.2f} s (CPU {peer.nochange.cpu:.1f} s)"
            line += f" | ratio ours/DLRN: {ratio:.2f}x"
        print(f"{line} [{run.nochange.load_before}]", flush=True)
    for run in runs:
        peaks = run.first.peaks
        nodes = ", ".join(
            f"{n} {peaks.rss[n] / MIB:.0f} MiB RSS ({peaks.cgroup[n] / MIB:.0f} MiB with page cache)" for n in peaks.rss
        )
        print(
            f"scale peak memory, first build, {kind(run.backend)}, {run.builders} builder(s): "
            f"controller tree {peaks.tree / MIB:.0f} MiB; {nodes}",
            flush=True,
        )
    if isinstance(peer, DlrnRun):
        print(
            f"scale peak memory, DLRN 0.26.1 first build: process tree {peer.first.peaks.tree / MIB:.0f} MiB"
            f" (no-change run {peer.nochange.peaks.tree / MIB:.0f} MiB)",
            flush=True,
        )
    elif isinstance(peer, str):
        print(f"DLRN figures skipped: {peer}")


def main() -> None:
    opts = Options.from_env()
    if not shutil.which("podman"):
        print("scale: skipped (no podman)")
        return
    if not opts.pkgdb.exists():
        raise SystemExit(f"BENCH_SCALE_PKGDB: {opts.pkgdb} does not exist (make example, or make zed-libs)")
    given = opts.pkgdb
    opts.pkgdb = snapshot(given, git_root(loader.read(str(given), release=opts.release).packages))
    packages = loader.read(str(opts.pkgdb), release=opts.release).packages
    root = git_root(packages)
    print(
        f"scale: {len(packages)} packages of {given} ({opts.release}, copied to {opts.pkgdb.parent}); "
        f"builders {opts.counts}, "
        f"{opts.parallel or 'one per CPU'} build(s) at a time on each; {load()}",
        flush=True,
    )
    names = [f"{PREFIX}b{i}" for i in range(1, max(opts.counts) + 1)]
    daemon = None
    try:
        started = time.perf_counter()
        setup = builders_play("present", names, root)
        if setup.returncode != 0:
            raise SystemExit(
                f"scale: the builder nodes could not be made:\n{setup.stdout[-4000:]}{setup.stderr[-2000:]}"
            )
        print(
            f"scale: {len(names)} builder nodes ready in {time.perf_counter() - started:.1f} s (not timed below)",
            flush=True,
        )
        if root is not None:
            daemon = subprocess.Popen(
                [
                    "git",
                    "daemon",
                    "--reuseaddr",
                    "--export-all",
                    f"--base-path={root}",
                    f"--listen={GATEWAY}",
                    f"--port={GIT_PORT}",
                    str(root),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
        cgroups = {n: c for n in names if (c := container_cgroup(n)) is not None}
        peer = dlrn(opts, packages) if opts.dlrn else None
        runs = []
        for backend in opts.backends:
            for count in opts.counts:
                chosen = names[:count]
                try:
                    runs.append(ours(opts, backend, chosen, {n: cgroups[n] for n in chosen if n in cgroups}))
                except RunFailed as exc:
                    print(
                        f"scale first build, {kind(backend)} ({backend}), {count} builder(s): FAILED: {exc}",
                        flush=True,
                    )
        report(opts, given.parent.parent.name, len(packages), runs, peer)
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait()
        if not opts.keep:
            gone = builders_play("absent", names, root)
            if gone.returncode != 0:
                print(f"scale: removing the builder nodes failed:\n{gone.stdout[-2000:]}")


if __name__ == "__main__":
    main()
