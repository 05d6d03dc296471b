"""Packages built against the distro's own fresh packages of earlier build waves.

A real two-package chain: B build-depends on A's ``python3-hellodf`` and
imports it while building, which only works when A's fresh package is used.
"""

import collections
import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._build import queue
from ansible_collections.distroforge.openstack.plugins.module_utils._build.backends import mock
from ansible_collections.distroforge.openstack.plugins.module_utils._build.runner import (
    BuildJob,
    BuildSettings,
    build_many,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._sources.runner import poll_and_queue

from .buildchain import make_chain, make_independent
from .buildfixtures import T0, head

pytestmark = pytest.mark.skipif(
    not shutil.which("bwrap") or not shutil.which("rpmbuild"), reason="needs bubblewrap and rpmbuild (run `make`)"
)


def jobs_for(up_a: Path, dg_a: Path, up_b: Path, dg_b: Path) -> list[BuildJob]:
    return [
        BuildJob("hellodf", "python-hellodf", str(up_a), str(dg_a), head(up_a), head(dg_a)),
        BuildJob("hellodep", "python-hellodep", str(up_b), str(dg_b), head(up_b), head(dg_b)),
    ]


def settings(tmp: Path, backend: str, name: str = "work", **kw) -> BuildSettings:
    return BuildSettings(backend=backend, workdir=str(tmp / name), mirror_dir=str(tmp / name / "mirrors"), **kw)


def binaries(artifacts, suffix):
    return {Path(a).name: hashlib.sha256(Path(a).read_bytes()).hexdigest() for a in artifacts if a.endswith(suffix)}


def test_the_plan_puts_b_a_wave_after_a_and_spreads_each_wave_over_the_builders(tmp_path):
    up_a, dg_a, up_b, dg_b = make_chain(tmp_path)
    up_c, dg_c = make_chain(tmp_path / "c")[:2]  # a second, independent package of wave 0
    pkgs = [
        {"project": p, "name": f"python-{p}", "upstream": str(u), "distgit": str(d), "distgit_branch": "rpm-master"}
        for p, u, d in (("hellodep", up_b, dg_b), ("hellodf", up_a, dg_a), ("other", up_c, dg_c))
    ]
    db, cache = str(tmp_path / "state.db"), str(tmp_path / "git")
    poll_and_queue(pkgs, release="zed", db_path=db, mirror_dir=cache)
    plan = queue.plan(db, "zed", pkgs, ["b1", "b2"], mirror_dir=cache)
    assert plan["waves"] == 2 and plan["cycle"] == []
    assert [(j["project"], j["wave"], j["builder"], j["needs"]) for j in plan["jobs"]] == [
        ("hellodf", 0, "b1", []),
        ("other", 0, "b2", []),
        ("hellodep", 1, "b1", ["hellodf", "other"]),  # other makes python3-hellodf too
    ]


def test_dpkg_builds_b_against_a_from_the_earlier_wave(tmp_path):
    a, b = jobs_for(*make_chain(tmp_path))
    alone = build_many([b], settings(tmp_path, "dpkg", "alone"))[0]
    assert alone.status == "FAILED"
    assert "Unmet build dependencies: python3-hellodf" in alone.error  # the builder itself has no hellodf

    first_a, first_b = build_many([a, b], settings(tmp_path, "dpkg"), parallel=2, waves=[0, 1])
    assert first_a.status == first_b.status == "SUCCESS", first_b.log_tail
    assert (
        "built against /build/deps/root/usr/lib/python3/dist-packages/hellodf/feature.py"
        in Path(first_b.log).read_text()
    )
    info = json.loads(Path(first_b.buildinfo).read_text())
    deb_a = next(x for x in first_a.artifacts if x.endswith(".deb"))
    assert [d["name"] for d in info["inputs"]["build_against"]] == [Path(deb_a).name]

    # Another builder gets A's package passed in (as the role copies it) and makes the same B.
    other = build_many([b], settings(tmp_path, "dpkg", "other", extra_packages=(deb_a,)))[0]
    assert other.status == "SUCCESS", other.log_tail
    assert binaries(other.artifacts, ".deb") == binaries(first_b.artifacts, ".deb")


def test_rpmbuild_builds_b_against_a_from_the_earlier_wave(tmp_path):
    a, b = jobs_for(*make_chain(tmp_path))
    alone = build_many([b], settings(tmp_path, "rpmbuild", "alone"))[0]
    assert alone.status == "FAILED"
    assert "No module named 'hellodf'" in Path(alone.log).read_text()
    result_a, result_b = build_many([a, b], settings(tmp_path, "rpmbuild"), waves=[0, 1])
    assert result_a.status == result_b.status == "SUCCESS", result_b.log_tail
    assert (
        "built against /build/deps/root/usr/lib/python3/site-packages/hellodf/feature.py"
        in Path(result_b.log).read_text()
    )
    assert json.loads(Path(result_a.buildinfo).read_text())["inputs"]["build_against"] == []


def test_a_failed_earlier_wave_gives_its_dependants_nothing_to_build_against(tmp_path):
    up_a, _dg_a, up_b, dg_b = make_chain(tmp_path)
    broken = BuildJob("hellodf", "python-hellodf", str(up_a), str(dg_b), head(up_a), "0" * 40)
    b = jobs_for(up_a, _dg_a, up_b, dg_b)[1]
    result_a, result_b = build_many([broken, b], settings(tmp_path, "dpkg"), waves=[0, 1])
    assert result_a.status == "FAILED"
    assert result_b.status == "FAILED" and "Unmet build dependencies: python3-hellodf" in result_b.error


def test_a_failed_package_blocks_only_what_build_depends_on_it(tmp_path):
    up_a, dg_a, up_b, dg_b = make_chain(tmp_path)
    up_c, dg_c = make_independent(tmp_path)
    broken_a = BuildJob("hellodf", "python-hellodf", str(up_a), str(dg_b), head(up_a), "0" * 40)
    b = replace(jobs_for(up_a, dg_a, up_b, dg_b)[1], needs=("hellodf",))
    c = BuildJob("hellothree", "python-hellothree", str(up_c), str(dg_c), head(up_c), head(dg_c))
    d = replace(c, project="hellofour", needs=("hellodep",))  # needs B: blocked in turn
    work = settings(tmp_path, "dpkg")
    result_a, result_b, result_c, result_d = build_many([broken_a, b, c, d], work, parallel=2, waves=[0, 1, 1, 2])
    assert result_a.status == "FAILED" and result_c.status == "SUCCESS"
    assert (result_b.status, result_b.blocked_by, result_b.attempts) == ("BLOCKED", ["hellodf"], 0)
    assert (result_d.status, result_d.blocked_by) == ("BLOCKED", ["hellodep"])
    assert "it build-depends on hellodf, which did not build in this run" in result_b.error
    assert not (tmp_path / "work" / "results" / "hellodep").exists()  # not even tried
    assert result_b.as_dict()["files"] == []  # nothing for the role to collect

    # Another builder told that hellodf did not build (the role passes the other builders' failures)
    (other,) = build_many([b], settings(tmp_path, "dpkg", "other"), waves=[1], failed=["hellodf"])
    assert other.status == "BLOCKED"


def test_a_blocked_build_records_nothing_and_stays_queued(tmp_path):
    up_a, dg_a, up_b, dg_b = make_chain(tmp_path)
    pkgs = [
        {"project": p, "name": f"python-{p}", "upstream": str(u), "distgit": str(d), "distgit_branch": "rpm-master"}
        for p, u, d in (("hellodf", up_a, dg_a), ("hellodep", up_b, dg_b))
    ]
    db, cache = str(tmp_path / "state.db"), str(tmp_path / "git")
    poll_and_queue(pkgs, release="zed", db_path=db, mirror_dir=cache)
    jobs = queue.plan(db, "zed", pkgs, ["b1"], mirror_dir=cache)["jobs"]
    failed = {**jobs[0], "status": "FAILED", "builder": "b1", "error": "boom", "log": str(tmp_path / "a.log")}
    blocked = {**jobs[1], "status": "BLOCKED", "builder": "b1", "blocked_by": ["hellodf"], "log": ""}
    done = queue.record(db, [failed, blocked])
    assert done["counts"] == {"FAILED": 1}
    assert [(b["project"], b["blocked_by"]) for b in done["blocked"]] == [("hellodep", ["hellodf"])]
    again = queue.plan(db, "zed", pkgs, ["b1"], mirror_dir=cache)["jobs"]
    assert [(j["project"], j["needs"]) for j in again] == [("hellodep", [])]  # queued; hellodf is not in this run


def test_extra_packages_must_be_binary_packages_that_exist(tmp_path):
    with pytest.raises(InputError, match=r"extra_packages\[0\]: '/x/a.src.rpm' is not a binary .deb or .rpm"):
        build_many([], settings(tmp_path, "rpmbuild", extra_packages=("/x/a.src.rpm",)))
    with pytest.raises(InputError, match=r"extra_packages\[0\]: '/x/a.deb' does not exist on this builder"):
        build_many([], settings(tmp_path, "dpkg", extra_packages=("/x/a.deb",)))


def test_mock_config_puts_the_earlier_waves_repository_first():
    cfg = mock.config(mock.MockSettings(distro_repo_url="http://repo.example/current"), T0, waves_repo="/b/deps/repo")
    opts: dict = collections.defaultdict(dict)
    exec(cfg, {"config_opts": opts})
    dnf = opts["dnf.conf"]
    assert dnf.index("[distroforge-waves]") < dnf.index("[distroforge]") < dnf.index("[baseos]")
    section = dnf[dnf.index("[distroforge-waves]") :].split("\n\n")[0]
    assert "baseurl=file:///b/deps/repo" in section and "priority=1" in section


# Slow (~1.5 min with the chroot cached: two sbuild runs); the one sbuild chain test.
@pytest.mark.skipif(not shutil.which("sbuild") or not shutil.which("mmdebstrap"), reason="needs sbuild and mmdebstrap")
def test_sbuild_builds_b_against_a_through_its_extra_repository(tmp_path):
    a, b = jobs_for(*make_chain(tmp_path))
    cache = "/var/cache/distroforge/sbuild"  # shared with test_build.py: the chroot is made once per machine
    result_a, result_b = build_many([a, b], settings(tmp_path, "sbuild", options={"sbuild_cache": cache}), waves=[0, 1])
    assert result_a.status == result_b.status == "SUCCESS", result_b.log_tail
    log = Path(result_b.log).read_text()
    deb_a = next(Path(x).name for x in result_a.artifacts if x.endswith(".deb"))
    assert f"--extra-package={Path(result_a.result_dir)}/{deb_a}" in log
    assert "built against /usr/lib/python3/dist-packages/hellodf/feature.py" in log  # installed in the chroot
