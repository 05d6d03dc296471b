"""Side by side with DLRN: one workload built and published by DLRN 0.26.1 and by build.yml, the trees compared.

The workload comes from the harness in ../shared/bench/dlrn (README
there), DLRN 0.26.1 from bench/peers.py (PyPI, pinned, its venv under
build/bench-peers): N small Python packages with deterministic upstream and
distgit hashes, DLRN with a mock stand-in that builds with rpmbuild.  Both
sides build every package, then one new upstream commit of package
(N+1)//2; what each published is compared on structure and meaning:
directory layout, current/consistent, the files of each commit directory
(own packages and links), commit.yaml, versions.csv, the .repo file, the
repository metadata and status_report.csv.  Timestamps never compare.

The differences we keep on purpose (docs/publishing.md, "Where we
differ") are named where they are skipped: Release carries the commit time
and no dist tag, the .repo turns signature checks on, commit.yaml has no
build-host clone paths and flags our "published" bit, DLRN's mock-only
logs and ``installed`` marker, and no sqlite metadata.

Runs when the harness is there: as root it runs the harness's own
idempotent setup.sh first with the peer's directory as its BENCH_ROOT (it
finds DLRN installed there, installs the system tools and points
/usr/bin/mock at the harness's stand-in, refusing to replace a real mock).
DISTROFORGE_DLRN_SETUP=0 skips that step.
"""

from __future__ import annotations

import configparser
import csv
import gzip
import io
import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from .ansible_run import TOP, run_playbook
from .dlrn_harness import HARNESS, PEERS, harness_env, ready_env

pytestmark = pytest.mark.slow

N = 3
CHANGED = (N + 1) // 2  # the harness's choice of package for the one-change phase
FLAG_PUBLISHED = 0x4  # ours only: DLRN has no such bit

# python3-benchpkg01-1.0.0-0.20261126092709.c5f7843.el9.noarch.rpm: release 0.<stamp>.<hash7>[.<dist>]
_RPM = re.compile(r"^(?P<nv>.+)-0\.\d{14}\.(?P<hash>[0-9a-f]{7})(?:\.el\d+)?\.(?P<arch>[a-z0-9_]+)\.rpm$")
_NVR = re.compile(r"^(?P<nv>.+)-0\.\d{14}\.(?P<hash>[0-9a-f]{7})(?:\.el\d+)?$")
_SHARDED = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{40}_[0-9a-f]{8}$")


def _harness_ready() -> str | None:
    """Why the harness cannot run here, or None when it can."""
    try:
        ready_env()
    except RuntimeError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    """(DLRN's repos/, ours, DLRN's workload dir, ours): the same workload published by both."""
    why = _harness_ready()
    if why:
        pytest.skip(why)
    base = tmp_path_factory.mktemp("dlrn-compat")
    dlrn_work = base / "dlrn"
    proc = subprocess.run(
        ["bash", str(HARNESS / "run_dlrn.sh"), str(N)],
        env=harness_env(WORK=str(dlrn_work), CHANGE_PKG=str(CHANGED)),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"DLRN harness run failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"

    workload, workdir = base / "workload", base / "ours"
    make = ["bash", str(HARNESS / "make_workload.sh")]
    subprocess.run([*make, str(N), str(workload)], check=True, capture_output=True)
    extra = {
        "distroforge_pkgdb": f"{workload}/rdoinfo/rdo.yml",
        "distroforge_release": "bench",
        "distroforge_workdir": str(workdir),
        "distroforge_release_tags": False,
        "distroforge_backend": "rpmbuild",
    }
    run_playbook(TOP / "playbooks" / "build.yml", extra, timeout=600)
    subprocess.run([*make, "--new-commit", str(workload), str(CHANGED)], check=True, capture_output=True)
    run_playbook(TOP / "playbooks" / "build.yml", extra, timeout=600)
    return dlrn_work / "data" / "repos", workdir / "repos", dlrn_work / "workload", workload


def _commit_dirs(repos: Path) -> list[str]:
    return sorted(
        str(path.relative_to(repos))
        for path in repos.glob("??/??/*")
        if path.is_dir() and _SHARDED.match(str(path.relative_to(repos)))
    )


def _rpm_key(name: str) -> tuple[str, str, str]:
    match = _RPM.match(name)
    assert match, f"unexpected package file name {name}"
    return match["nv"], match["hash"], match["arch"]


def _nvr_key(nvr: str) -> str:
    match = _NVR.match(nvr)
    return f"{match['nv']}-0.<time>.{match['hash']}" if match else nvr


def _commit_yaml(path: Path) -> dict[str, str]:
    return yaml.safe_load((path / "commit.yaml").read_text())["commits"][0]


def _versions(path: Path, workload: Path) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO((path / "versions.csv").read_text())))
    for row in rows[1:]:
        row[1], row[3] = (value.replace(str(workload), "<workload>") for value in (row[1], row[3]))
        int(row[6])  # Last Success Timestamp: DLRN writes %d
        row[6] = "<time>"
        row[9] = _nvr_key(row[9])
    return rows


def test_same_commit_directories_and_links(trees):
    dlrn, ours, _dw, _ow = trees
    dirs = _commit_dirs(dlrn)
    assert len(dirs) == N + 1
    assert _commit_dirs(ours) == dirs
    for label in ("current", "consistent"):
        assert os.readlink(ours / label) == os.readlink(dlrn / label), label
    # Each commit directory: DLRN's files, the build's own packages as files
    # and every other package's newest build as a relative link.
    for rel in dirs:
        entries = {}
        for side, root in (("dlrn", dlrn), ("ours", ours)):
            packages = {}
            for entry in (root / rel).iterdir():
                if entry.name.endswith(".rpm"):
                    target = os.readlink(entry) if entry.is_symlink() else None
                    packages[_rpm_key(entry.name)] = None if target is None else str(Path(target).parent)
            entries[side] = packages
            names = {entry.name for entry in (root / rel).iterdir()}
            assert {"commit.yaml", "versions.csv", "delorean.repo", "build.log", "repodata"} <= names, (side, rel)
        assert entries["ours"] == entries["dlrn"], rel
    # current is a full snapshot: N noarch + N source packages.
    assert len([name for name in os.listdir(ours / "current") if name.endswith(".rpm")]) == 2 * N


def test_commit_yaml_same_keys_and_values(trees):
    dlrn, ours, _dw, _ow = trees
    for rel in _commit_dirs(dlrn):
        theirs, mine = _commit_yaml(dlrn / rel), _commit_yaml(ours / rel)
        assert set(mine) == set(theirs), rel
        assert all(isinstance(value, str) for value in mine.values())
        # Numbers compare as numbers (DLRN writes dt_commit as a float).
        assert float(mine["dt_commit"]) == float(theirs["dt_commit"])
        int(mine["dt_build"])
        assert int(mine["flags"]) & ~FLAG_PUBLISHED == int(theirs["flags"])

        def artifacts(values: dict[str, str]) -> set:
            return {(str(Path(path).parent), _rpm_key(Path(path).name)) for path in values["artifacts"].split(",")}

        assert artifacts(mine) == artifacts(theirs), rel
        # Deliberate: repo_dir/distgit_dir are the build host's clone paths in DLRN.
        skip = {"dt_commit", "dt_build", "flags", "artifacts", "repo_dir", "distgit_dir"}
        assert {k: v for k, v in mine.items() if k not in skip} == {k: v for k, v in theirs.items() if k not in skip}, (
            rel
        )


def test_dlrn_reads_our_commit_yaml_as_its_import_does(trees):
    """DLRN's own loader (dlrn-remote's) turns our commit.yaml into a Commit at our directory."""
    _dlrn, ours, _dw, _ow = trees
    script = (
        "import json, sys\n"
        "from dlrn.utils import loadYAML_list\n"
        "out = []\n"
        "for path in sys.argv[1:]:\n"
        "    commit = loadYAML_list(path + '/commit.yaml')[0]\n"
        "    int(commit.dt_build); float(commit.dt_commit); int(commit.dt_distro)\n"  # what import_commit does
        "    out.append([commit.getshardedcommitdir(), commit.project_name, commit.status])\n"
        "print(json.dumps(out))\n"
    )
    dirs = _commit_dirs(ours)
    proc = subprocess.run(
        [str(PEERS.python("dlrn")), "-c", script, *(str(ours / rel) for rel in dirs)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = json.loads(proc.stdout)
    assert [row[0] for row in loaded] == dirs
    assert {row[1] for row in loaded} == {f"python-benchpkg{i:02d}" for i in range(1, N + 1)}
    assert {row[2] for row in loaded} == {"SUCCESS"}


def test_versions_csv_same_columns_and_rows(trees):
    dlrn, ours, dlrn_workload, our_workload = trees
    for rel in _commit_dirs(dlrn):
        assert _versions(ours / rel, our_workload) == _versions(dlrn / rel, dlrn_workload), rel


def test_repo_file_same_but_signature_checks_on(trees):
    dlrn, ours, _dw, _ow = trees
    for rel in _commit_dirs(dlrn):
        parsed = {}
        for side, root in (("dlrn", dlrn), ("ours", ours)):
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string((root / rel / "delorean.repo").read_text())
            assert parser.sections() == ["delorean"]
            values = dict(parser["delorean"])
            assert values.pop("baseurl") == f"file://{root}/{rel}"
            parsed[side] = values
        mine, theirs = parsed["ours"], parsed["dlrn"]
        # Deliberate: our repositories are signed and the file says so (DLRN: gpgcheck=0).
        assert theirs.pop("gpgcheck") == "0" and mine.pop("gpgcheck") == "1"
        assert mine.pop("repo_gpgcheck") == "1" and mine.pop("gpgkey") == f"file://{ours}/RPM-GPG-KEY-delorean"
        assert mine == theirs, rel


def _primary_packages(path: Path) -> list[tuple[str, str]]:
    ns = {"repo": "http://linux.duke.edu/metadata/repo", "common": "http://linux.duke.edu/metadata/common"}
    repomd = ET.parse(path / "repodata" / "repomd.xml")
    href = repomd.find("repo:data[@type='primary']/repo:location", ns).get("href")
    assert href.endswith(".xml.gz"), href
    primary = ET.fromstring(gzip.decompress((path / href).read_bytes()))
    return sorted(
        (pkg.findtext("common:name", namespaces=ns), pkg.findtext("common:arch", namespaces=ns))
        for pkg in primary.findall("common:package", ns)
    )


def test_repodata_indexes_the_same_packages(trees):
    dlrn, ours, _dw, _ow = trees
    for rel in _commit_dirs(dlrn):
        assert _primary_packages(ours / rel) == _primary_packages(dlrn / rel), rel
    assert len(_primary_packages(ours / "current")) == 2 * N  # source RPMs indexed too (include_srpm_in_repo)


def test_status_report_csv_same(trees):
    dlrn, ours, _dw, _ow = trees

    def rows(root: Path) -> list[list[str]]:
        table = list(csv.reader(io.StringIO((root / "status_report.csv").read_text())))
        for row in table[1:]:
            int(row[6])
            row[6] = "<time>"
            row[7] = sorted((str(Path(p).parent), _rpm_key(Path(p).name)) for p in row[7].split("|"))
        return table

    assert rows(ours) == rows(dlrn)
    assert (ours / "status_report.html").is_file() and (dlrn / "status_report.html").is_file()
