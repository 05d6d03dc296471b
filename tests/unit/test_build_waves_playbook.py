"""build.yml builds a distro whose package B build-depends on its package A: A's wave first, B against it.

When A does not build, B is not built (it stays queued) and everything else is built and published.
"""

import json
import shutil
import sqlite3

import pytest

from .ansible_run import TOP, run_playbook
from .buildchain import make_chain, make_independent
from .buildfixtures import RULES, T0
from .gitrepos import commit

pytestmark = pytest.mark.skipif(
    not shutil.which("bwrap") or not shutil.which("dpkg-buildpackage"), reason="needs bubblewrap and dpkg (run `make`)"
)

PKGDB = """releases:
- name: zed
  branch: rpm-master
  repos:
  - name: el9s
    buildsys: none
package-configs:
  lib:
    name: python-%(project)s
    maintainers:
    - bot@example.org
packages:
"""


def write_pkgdb(tmp_path, entries):
    pkgdb = tmp_path / "rdoinfo" / "rdo.yml"
    pkgdb.parent.mkdir()
    lines = "".join(
        f"- project: {p}\n  conf: lib\n  upstream: file://{u}\n  master-distgit: file://{d}\n" for p, u, d in entries
    )
    pkgdb.write_text(PKGDB + lines)
    return pkgdb


def extra_vars(pkgdb, work):
    return {
        "distroforge_pkgdb": str(pkgdb),
        "distroforge_release": "zed",
        "distroforge_workdir": str(work),
        "distroforge_backend": "dpkg",
        "distroforge_release_tags": False,
    }


def test_build_playbook_builds_b_in_a_later_wave_against_a(tmp_path):
    up_a, dg_a, up_b, dg_b = make_chain(tmp_path)
    # B first: the order must come from the packaging
    pkgdb = write_pkgdb(tmp_path, [("hellodep", up_b, dg_b), ("hellodf", up_a, dg_a)])
    work = tmp_path / "work"
    proc = run_playbook(TOP / "playbooks" / "build.yml", extra_vars(pkgdb, work), timeout=600)
    assert "wave 0" in proc.stdout and "wave 1" in proc.stdout
    with sqlite3.connect(work / "state.db") as db:
        rows = dict(db.execute("SELECT project, status FROM commits").fetchall())
    assert rows == {"hellodf": "SUCCESS", "hellodep": "SUCCESS"}
    (log,) = (work / "results" / "hellodep").glob("*/build.log")
    assert "built against /build/deps/root/usr/lib/python3/dist-packages/hellodf/feature.py" in log.read_text()
    info = json.loads((log.parent / "buildinfo.json").read_text())
    assert [d["name"].split("_")[0] for d in info["inputs"]["build_against"]] == ["python3-hellodf"]


def two_builders(tmp_path):
    """An inventory of two "remote" builders b1 and b2 on this machine (local connection, as root)."""
    builders = {
        name: {
            "distroforge_builder_workdir": str(tmp_path / name),
            "distroforge_builder_mirror_dir": f"{tmp_path}/{name}/git",
        }
        for name in ("b1", "b2")
    }
    inventory = tmp_path / "inventory.json"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "children": {"repo_server": {"hosts": {"localhost": {}}}, "builders": {"hosts": builders}},
                    "vars": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                        "distroforge_builder_user": "",
                    },
                }
            }
        )
    )
    return inventory


def test_waves_hold_across_builders_and_b_gets_a_from_the_other_builder(tmp_path):
    up_a, dg_a, up_b, dg_b = make_chain(tmp_path)
    up_c, dg_c = make_independent(tmp_path)
    # wave 0: hellothree -> b1, hellodf -> b2 (round robin); wave 1: hellodep -> b1, which needs b2's package
    pkgdb = write_pkgdb(tmp_path, [("hellothree", up_c, dg_c), ("hellodf", up_a, dg_a), ("hellodep", up_b, dg_b)])
    work = tmp_path / "work"
    inventory = two_builders(tmp_path)
    run_playbook(TOP / "playbooks" / "build.yml", extra_vars(pkgdb, work), "-i", str(inventory), timeout=600)
    with sqlite3.connect(work / "state.db") as db:
        rows = {p: (s, b) for p, s, b in db.execute("SELECT project, status, builder FROM commits").fetchall()}
    assert rows == {"hellothree": ("SUCCESS", "b1"), "hellodf": ("SUCCESS", "b2"), "hellodep": ("SUCCESS", "b1")}
    (deb_a,) = (tmp_path / "b2" / "results" / "hellodf").glob("*/python3-hellodf_*.deb")
    assert (tmp_path / "b1" / "against" / deb_a.name).read_bytes() == deb_a.read_bytes()  # via the repo server
    (log,) = (work / "results" / "hellodep").glob("*/build.log")  # collected from b1
    assert "built against /build/deps/root/usr/lib/python3/dist-packages/hellodf/feature.py" in log.read_text()


def test_a_failed_package_blocks_only_what_build_depends_on_it_across_builders(tmp_path):
    up_a, dg_a, up_b, dg_b = make_chain(tmp_path)
    up_c, dg_c = make_independent(tmp_path)
    rules_a = RULES + "\noverride_dh_auto_build:\n\t@echo planted failure; false\n"
    commit(dg_a, "Break the build", T0 + 9000, {"debian/rules": rules_a})
    # wave 0: hellothree -> b1, hellodf (broken) -> b2; wave 1: hellodep -> b1, which needs b2's hellodf
    pkgdb = write_pkgdb(tmp_path, [("hellothree", up_c, dg_c), ("hellodf", up_a, dg_a), ("hellodep", up_b, dg_b)])
    work = tmp_path / "work"
    inventory = two_builders(tmp_path)
    proc = run_playbook(TOP / "playbooks" / "build.yml", extra_vars(pkgdb, work), "-i", str(inventory), timeout=600)
    with sqlite3.connect(work / "state.db") as db:
        rows = {p: (s, b) for p, s, b in db.execute("SELECT project, status, builder FROM commits").fetchall()}
    assert rows == {"hellothree": ("SUCCESS", "b1"), "hellodf": ("FAILED", "b2"), "hellodep": ("QUEUED", None)}
    assert not (tmp_path / "b1" / "results" / "hellodep").exists()  # not tried: it could only fail
    assert "blocked (queued for the next run): hellodep needs hellodf" in proc.stdout
    assert len(list((work / "repos").glob("*/*/*/python3-hellothree_*.deb"))) == 1  # the rest is published

    # hellodf fixed: the next run builds it, then hellodep (still queued) against it
    commit(dg_a, "Fix the build", T0 + 9100, {"debian/rules": RULES})
    run_playbook(TOP / "playbooks" / "build.yml", extra_vars(pkgdb, work), "-i", str(inventory), timeout=600)
    with sqlite3.connect(work / "state.db") as db:
        rows = sorted(db.execute("SELECT project, status FROM commits").fetchall())
    assert rows == [("hellodep", "SUCCESS"), ("hellodf", "FAILED"), ("hellodf", "SUCCESS"), ("hellothree", "SUCCESS")]
