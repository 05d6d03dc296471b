"""Installed as a user installs it: the built tarball, a fresh collections path, no checkout, no inventory."""

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile

import pytest

from .ansible_run import TOP

pytestmark = pytest.mark.skipif(
    not shutil.which("bwrap") or not shutil.which("dpkg-buildpackage"), reason="needs bubblewrap and dpkg (run `make`)"
)
BIN = TOP / ".venv" / "bin"
# The example distro's package database, made by `make example` (which `make unit` runs first).
EXAMPLE = TOP / "build" / "example" / "rdoinfo"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The collection built from the working tree and installed into an empty collections path."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", str(TOP), "--output-path", str(out)],
        check=True,
        capture_output=True,
    )
    (tarball,) = out.glob("distroforge-openstack-*.tar.gz")
    path = tmp_path_factory.mktemp("collections")
    # as a user would: outside the checkout (whose ansible.cfg knows the working tree's collection)
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "install", "--force", "--no-deps", "-p", str(path), str(tarball)],
        check=True,
        capture_output=True,
        cwd=out,
        env=user_env(path),
    )
    assert (path / "ansible_collections" / "distroforge" / "openstack" / "playbooks" / "build.yml").is_file()
    return tarball, path


def user_env(collections) -> dict:
    """A user's environment: no project ansible.cfg, only the installed collection (plus the ansible
    package's own collections, as a pip-installed Ansible has them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    env["PATH"] = f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}"
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def test_the_tarball_leaves_out_bench_and_build_output(installed):
    tarball = installed[0]
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert "playbooks/build.yml" in names and "plugins/modules/package_build.py" in names
    top = {name.split("/")[0] for name in names}
    assert not top & {"bench", "build", ".venv", ".git", ".ci", ".pytest_cache", ".ruff_cache"}, top
    assert not [name for name in names if "__pycache__" in name.split("/")]


def example_pkgdb(root, project: str):
    """The example distro's package database with only ``project`` tagged for zed: nothing else is built."""
    if not (EXAMPLE / "rdo.yml").exists():
        pytest.fail("the example distro is missing: run `make example` (make unit does)")
    (root / "tags").mkdir(parents=True)
    shutil.copy(EXAMPLE / "rdo.yml", root / "rdo.yml")
    (root / "tags" / "zed.yml").write_text(f"packages:\n- project: {project}\n  tags:\n    zed:\n")
    entry = root / "rdo-one.yml"
    entry.write_text("import:\n- rdo.yml\n- tags/zed.yml\n")
    return entry


def test_build_playbook_runs_by_name_without_checkout_or_inventory(installed, tmp_path):
    """A user's first build: the example distro's smallest package, built and published from another directory."""
    collections = installed[1]
    pkgdb = example_pkgdb(tmp_path / "rdoinfo", "keystoneclient")
    work = tmp_path / "work"
    elsewhere = tmp_path / "user"
    elsewhere.mkdir()
    extra = {
        "distroforge_pkgdb": str(pkgdb),
        "distroforge_release": "zed",
        "distroforge_workdir": str(work),
        "distroforge_backend": "dpkg",
    }
    proc = subprocess.run(
        ["ansible-playbook", "distroforge.openstack.build", "-e", json.dumps(extra)],
        cwd=elsewhere,
        env=user_env(collections),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "no hosts matched" not in proc.stdout
    assert "this machine (localhost) is used" in " ".join(proc.stdout.split())
    with sqlite3.connect(work / "state.db") as db:
        assert db.execute("SELECT project, status FROM commits").fetchall() == [("keystoneclient", "SUCCESS")]
    current = work / "repos" / "current"
    assert current.is_symlink()
    debs = sorted(path.name for path in current.resolve().rglob("*.deb"))
    assert [name.split("_")[0] for name in debs] == ["python3-keystoneclient"], debs
    assert "Package: python3-keystoneclient\n" in (current / "Packages").read_text()  # what apt reads


def test_an_empty_group_fails_in_one_line_when_the_fallback_is_off(installed, tmp_path):
    collections = installed[1]
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  children:\n    builders:\n      hosts: {}\n")
    proc = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(inventory),
            "distroforge.openstack.purge",
            "-e",
            "distroforge_local_fallback=false",
        ],
        cwd=tmp_path,
        env=user_env(collections),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode != 0
    assert "the inventory has no host in group(s) repo_server" in proc.stdout
