"""Every module in check mode changes nothing on disk, on a fresh directory and on one with state.

Each case gets a directory of its own holding the module's inputs and where
its outputs, state DB, caches and logs would go.  A first ansible-playbook
run (normal mode) gives the ``state`` cases their state, as a user's earlier
run would; then every directory is snapshotted (paths, types, sizes, mtimes,
modes, content hashes, link targets), one ``--check --diff`` run runs every
case, and the directories are compared again.  A state DB that check mode
creates, opens for writing or leaves ``-wal``/``-shm`` files beside shows up
as a changed entry.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from subunit import StreamResultToBytes

from ansible_collections.distroforge.openstack.plugins.module_utils._publish.debrepo import write_deb_metadata
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import NewCommit, StateDB

from .ansible_run import TOP, run_playbook
from .gitrepos import commit, git, init
from .pkgfactory import add_build, artifacts_dir, build_deb, build_rpm, hexhash
from .sdists import make_sdist

T0 = 1_700_000_000
MODULES = sorted(path.stem for path in (TOP / "plugins" / "modules").glob("*.py") if path.stem != "__init__")


@dataclass
class Case:
    """One check-mode run of ``module``: args from ``prepare(dir)``; ``seed`` tasks run before, in normal mode."""

    id: str
    module: str
    prepare: Callable[[Path], dict[str, Any]]
    seed: Callable[[Path, dict[str, Any]], list[tuple[str, dict[str, Any]]]] = lambda folder, args: []
    # After the seed run: change the inputs so check mode has something to want to change.
    then: Callable[[Path, dict[str, Any]], dict[str, Any]] = lambda folder, args: args
    # None: the module must succeed; else a regular expression its one-line failure matches.
    fails: str | None = None
    # A known bug not fixed yet: the test must fail (strict), so the fix cannot go unnoticed.
    xfail: str | None = None


# -- inputs ---------------------------------------------------------------------------------------


def _db_with_pending(folder: Path) -> Path:
    """A state DB with one commit of nova waiting for a builder, its writer gone (as after a poll)."""
    path = folder / "state.db"
    with StateDB(path) as db:
        db.upsert_project("nova", upstream="file:///nowhere/nova", distgit="file:///nowhere/nova-distgit")
        db.queue([NewCommit("nova", "zed", "a" * 40, "b" * 40, T0, subject="change 1", dt_queued=T0)])
    return path


NOVA = {
    "project": "nova",
    "name": "openstack-nova",
    "upstream": "file:///nowhere/nova",
    "distgit": "file:///nowhere/nova-distgit",
}


def _git_package(folder: Path) -> dict[str, Any]:
    upstream = init(folder / "in" / "upstream")
    commit(upstream, "first", T0)
    distgit = init(folder / "in" / "distgit", branch="rpm-master")
    commit(distgit, "spec", T0 + 60)
    return {
        "project": "alpha",
        "name": "python-alpha",
        "upstream": f"file://{upstream}",
        "distgit": str(distgit),
        "source_branch": "master",
        "distgit_branch": "rpm-master",
    }


def _subunit(path: Path, outcomes: dict[str, str]) -> None:
    """A subunit v2 stream in which each test ends with its outcome."""
    buffer = io.BytesIO()
    stream = StreamResultToBytes(buffer)
    when = datetime.datetime(2026, 11, 26, tzinfo=datetime.UTC)
    for test_id, outcome in outcomes.items():
        stream.status(test_id=test_id, test_status="inprogress", timestamp=when)
        stream.status(test_id=test_id, test_status=outcome, timestamp=when + datetime.timedelta(seconds=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


FAKE_PUPPET = textwrap.dedent(
    """\
    #!/bin/sh
    # Stands in for puppet apply: like the real one, it writes its log, summary and report
    # where it is told, in --noop runs too.
    for arg in "$@"; do
      case "$arg" in
        --logdest=*) log="${arg#--logdest=}" ;;
        --lastrunfile=*) summary="${arg#--lastrunfile=}" ;;
        --lastrunreport=*) report="${arg#--lastrunreport=}" ;;
      esac
    done
    echo "2026-11-26 07:32:25 +0000 Puppet (notice): Compiled catalog for node in environment production" > "$log"
    echo "2026-11-26 07:32:26 +0000 Puppet (notice): Applied catalog in 0.01 seconds" >> "$log"
    printf -- '---\\nresources:\\n  changed: 0\\n  failed: 0\\n  total: 1\\ntime:\\n  total: 0.01\\n' > "$summary"
    echo "--- {}" > "$report"
    exit 0
    """
)


def _fake_puppet(folder: Path) -> dict[str, str]:
    """PATH with a fake puppet first (puppet itself is not installed on builders); kept outside ``folder``."""
    bin_dir = folder.parent.parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "puppet"
    script.write_text(FAKE_PUPPET)
    script.chmod(0o755)
    return {"PATH": f"{bin_dir}:{TOP / '.venv' / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin"}


# -- the cases ------------------------------------------------------------------------------------


def api_user(folder: Path) -> dict[str, Any]:
    return {"db": str(folder / "state.db"), "username": "ci-bot", "password": "new-password"}


def build_queue(folder: Path) -> dict[str, Any]:
    return {"db": str(folder / "state.db"), "release": "zed", "packages": [NOVA], "builders": ["localhost"]}


def build_queue_state(folder: Path) -> dict[str, Any]:
    _db_with_pending(folder)
    return build_queue(folder)


def build_record(folder: Path) -> dict[str, Any]:
    return {"db": str(folder / "state.db"), "results": []}


def build_record_state(folder: Path) -> dict[str, Any]:
    _db_with_pending(folder)
    result = {"commit_id": 1, "project": "nova", "status": "SUCCESS", "builder": "localhost", "nvr": "nova-1-1"}
    return {"db": str(folder / "state.db"), "results": [result]}


def build_status(folder: Path) -> dict[str, Any]:
    return {"db": str(folder / "state.db")}


def build_status_state(folder: Path) -> dict[str, Any]:
    _db_with_pending(folder)
    return {"db": str(folder / "state.db"), "query": "pending"}


def build_notify(folder: Path) -> dict[str, Any]:
    # Nothing listens on port 9 of loopback: check mode must not even try to send.
    smtp = {"host": "127.0.0.1", "port": 9, "security": "none", "sender": "ci@example.org"}
    return {"db": str(folder / "state.db"), "smtp": smtp, "webhook": {"url": "http://127.0.0.1:9/hook"}}


def build_notify_state(folder: Path) -> dict[str, Any]:
    with StateDB(folder / "state.db") as db:
        add_build(db, "alpha", status="FAILED")  # a new FTBFS: check mode would mail and post it
    packages = [{"project": "alpha", "maintainers": ["alice@example.org"]}]
    # add_build finishes builds in 2023: look back far enough to see it.
    return {**build_notify(folder), "packages": packages, "max_age_days": 36500}


def logs_sanitize(folder: Path) -> dict[str, Any]:
    (folder / "in").mkdir()
    (folder / "out").mkdir()
    (folder / "in" / "keystone.log").write_text("token = s3cret\nstarted\n")
    return {
        "archive": str(folder / "out" / "logs.tar"),
        "paths": [str(folder / "in" / "*.log")],
        "patterns": [{"name": "token", "regex": r"(token = )\S+", "replace": r"\1***"}],
    }


def logs_sanitize_then(folder: Path, args: dict[str, Any]) -> dict[str, Any]:
    (folder / "in" / "keystone.log").write_text("token = s3cret\nstarted\nstopped\n")
    return args


def node_image(folder: Path) -> dict[str, Any]:
    # A name no image has: check mode says it would build it.
    return {"name": f"checkmode-{os.getpid()}", "cache_dir": str(folder / "images")}


def vm_image(folder: Path) -> dict[str, Any]:
    # A name no image has: check mode says it would build it.
    return {"name": f"checkmode-{os.getpid()}", "cache_dir": str(folder / "images")}


def _vm_args(folder: Path) -> dict[str, Any]:
    return {"vm_dir": str(folder / "vms"), "bridge": "dft-check-br0", "subnet": "10.89.96.0/24"}


def vm_node(folder: Path) -> dict[str, Any]:
    # An image that is only its files: check mode would start a VM from it, and starts none.
    image = folder / "images" / "vm" / "bookworm-000000000000"
    image.mkdir(parents=True)
    for name in ("disk.qcow2", "vmlinuz", "initrd.img"):
        (image / name).write_bytes(b"not really")
    node = {"name": "checkmode-vm", "ip": "10.89.96.20", "image": str(image), "memory": 256}
    return {"nodes": [node], **_vm_args(folder)}


def vm_node_state(folder: Path) -> dict[str, Any]:
    # What a stopped VM leaves: check mode would remove its overlay and removes nothing.
    (folder / "vms" / "checkmode-vm").mkdir(parents=True)
    (folder / "vms" / "checkmode-vm" / "overlay.qcow2").write_bytes(b"overlay")
    (folder / "vms" / "id_ed25519").write_text("the controller's key stays\n")
    return {"nodes": [{"name": "checkmode-vm"}], "state": "absent", **_vm_args(folder)}


def package_build(folder: Path) -> dict[str, Any]:
    job = {**NOVA, "commit_hash": "a" * 40, "distro_hash": "b" * 40, "commit_id": 1}
    return {
        "jobs": [job],
        "backend": "rpmbuild",
        "workdir": str(folder / "work"),
        "mirror_dir": str(folder / "mirrors"),
    }


KEYS_FILE = TOP / "roles" / "deploy_packstack" / "files" / "packstack-keys-21.0.1.yml"


def package_generate(folder: Path) -> dict[str, Any]:
    return {"src": str(make_sdist(folder / "sdists")), "dest": str(folder / "distgit")}


def package_generate_then(folder: Path, args: dict[str, Any]) -> dict[str, Any]:
    return {**args, "maintainer": "Another Packager <another@example.org>"}


def packstack_answers(folder: Path) -> dict[str, Any]:
    (folder / "out").mkdir()
    return {
        "answers": {"CONFIG_DEFAULT_PASSWORD": "first-secret"},
        "keys_file": str(KEYS_FILE),
        "allinone_host": "192.0.2.10",
        "dest": str(folder / "out" / "answers.txt"),
    }


def packstack_answers_then(folder: Path, args: dict[str, Any]) -> dict[str, Any]:
    return {**args, "answers": {"CONFIG_DEFAULT_PASSWORD": "second-secret"}}


def pkgdb_info(folder: Path) -> dict[str, Any]:
    shutil.copytree(TOP / "tests" / "unit" / "fixtures" / "pkgdb", folder / "in")
    return {"path": str(folder / "in" / "rdo-full.yml"), "release": "zed", "cache_dir": str(folder / "cache")}


def puppet_apply(folder: Path) -> dict[str, Any]:
    (folder / "in").mkdir()
    (folder / "in" / "site.pp").write_text("notify { 'hello': }\n")
    return {"manifest": str(folder / "in" / "site.pp"), "log_dir": str(folder / "logs")}


def _key(home: Path) -> tuple[str, str]:
    """An OpenPGP public key (armored) and its fingerprint, made once in ``home``."""
    gpg = ["gpg", "--homedir", str(home), "--batch", "--passphrase", ""]
    if not home.exists():
        home.mkdir(mode=0o700)
        subprocess.run(
            [*gpg, "--quick-generate-key", "repo <repo@example.org>", "ed25519", "sign", "never"], check=True
        )
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)
    key = subprocess.run([*gpg, "--export", "--armor"], check=True, capture_output=True, text=True).stdout
    listing = subprocess.run([*gpg, "--with-colons", "--list-keys"], check=True, capture_output=True, text=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    return key, fingerprint


def repo_key(folder: Path) -> dict[str, Any]:
    key, fingerprint = _key(folder.parent.parent / "gnupg")
    (folder / "out").mkdir()
    return {"content": key, "fingerprints": [fingerprint], "dest": str(folder / "out" / "distroforge.asc")}


def repo_key_then(folder: Path, args: dict[str, Any]) -> dict[str, Any]:
    (folder / "out" / "distroforge.asc").chmod(0o600)  # check mode would put back 0644
    return args


def _publish_args(folder: Path) -> dict[str, Any]:
    return {"db": str(folder / "state.db"), "repos_dir": str(folder / "repos"), "sign": False}


def repo_publish(folder: Path) -> dict[str, Any]:
    return {**_publish_args(folder), "commit_id": 1}


def _built(folder: Path) -> dict[str, Any]:
    """A state DB with one finished build of alpha, and its packages and log."""
    with StateDB(folder / "state.db") as db:
        record = add_build(db, "alpha")
    built = artifacts_dir(folder, build_rpm(folder.parent.parent / "rpms", "alpha"))
    return {"commit_id": record.id, "artifacts_dir": str(built), "build_log": str(built / "build.log")}


def repo_publish_state(folder: Path) -> dict[str, Any]:
    return {**_publish_args(folder), **_built(folder)}


def ci_vote(folder: Path) -> dict[str, Any]:
    return {
        "db": str(folder / "state.db"),
        "job_id": "tempest-full",
        "success": True,
        "commit_hash": hexhash("alpha", 0),
        "distro_hash": hexhash("distgit", "alpha", 0),
    }


def ci_vote_state(folder: Path) -> dict[str, Any]:
    with StateDB(folder / "state.db") as db:
        add_build(db, "alpha")
    return ci_vote(folder)


def bisect_step(folder: Path) -> dict[str, Any]:
    return {
        "path": str(folder / "bisect" / "plan.json"),
        "db": str(folder / "state.db"),
        "mirror_dir": str(folder / "git"),
        "kind": "build",
        "project": "alpha",
        "release": "master",
    }


def bisect_step_state(folder: Path) -> dict[str, Any]:
    """alpha built at its first commit and failed at its fourth; its upstream and distgit in git."""
    upstream = init(folder.parent / f"{folder.name}-src" / "alpha")
    shas = [commit(upstream, f"alpha change {i}", T0 + 100 * i) for i in range(4)]
    distgit = init(folder.parent / f"{folder.name}-src" / "alpha-distgit")
    packaging = commit(distgit, "packaging", T0)
    with StateDB(folder / "state.db") as db:
        db.upsert_project("alpha", upstream=f"file://{upstream}", distgit=f"file://{distgit}")
        for sha, status in ((shas[0], "SUCCESS"), (shas[3], "FAILED")):
            (record,) = db.queue([NewCommit("alpha", "master", sha, packaging, T0)])
            db.claim(record.id, "b1")
            db.finish(record.id, status)
    return bisect_step(folder)


def bisect_step_then(folder: Path, args: dict[str, Any]) -> dict[str, Any]:
    return {**args, "record": {"index": 1, "outcome": "bad"}}


def bisect_repo(folder: Path) -> dict[str, Any]:
    return {
        "db": str(folder / "state.db"),
        "plan": str(folder / "bisect" / "bisect.json"),
        "index": 0,
        "repos_dir": str(folder / "repos"),
        "name": "t",
    }


def bisect_repo_state(folder: Path) -> dict[str, Any]:
    """alpha published (the good repository), a test bisect of two packaging commits, state 0 built."""
    with StateDB(folder / "state.db") as db:
        good = add_build(db, "alpha", 0)
    scratch = folder.parent / f"{folder.name}-src"
    (folder / "repos" / good.repo_path).mkdir(parents=True)
    shutil.copy2(build_deb(scratch / "good", "python3-alpha", "1.0-1"), folder / "repos" / good.repo_path)
    (folder / "bisect").mkdir()
    candidates = [
        {"project": "alpha", "side": "distgit", "commit_hash": hexhash("d", n), "time": T0 + n, "author": "Test Bot",
         "subject": f"change {n}"}
        for n in range(2)
    ]  # fmt: skip
    plan = {
        "format": 1, "kind": "test", "release": "master", "good_repo_hash": good.repo_hash,
        "bad_repo_hash": "f" * 40 + "_ffffffff",
        "good": {"alpha": {"commit_hash": good.commit_hash, "distro_hash": good.distro_hash}},
        "tests": ["tempest.api.identity.v3.test_x"], "candidates": candidates, "steps": [],
    }  # fmt: skip
    (folder / "bisect" / "bisect.json").write_text(json.dumps(plan))
    built = build_deb(scratch / "state", "python3-alpha", "1.0-2")
    return {**bisect_repo(folder), "artifacts": [str(built)]}


def bisect_repo_then(folder: Path, args: dict[str, Any]) -> dict[str, Any]:
    built = build_deb(folder.parent / f"{folder.name}-src" / "state1", "python3-alpha", "1.0-3")
    return {**args, "index": 1, "artifacts": [str(built)]}


def package_recheck(folder: Path) -> dict[str, Any]:
    return {"db": str(folder / "state.db"), "project": "alpha"}


def package_recheck_state(folder: Path) -> dict[str, Any]:
    with StateDB(folder / "state.db") as db:
        add_build(db, "alpha", 0)
        add_build(db, "alpha", 1, status="FAILED")
    return package_recheck(folder)


def vote_info(folder: Path) -> dict[str, Any]:
    return {
        "db": str(folder / "state.db"),
        "repo_hash": f"{hexhash('alpha', 0)}_{hexhash('distgit', 'alpha', 0)[:8]}",
        "job_id": "tempest-full",
    }


def vote_info_state(folder: Path) -> dict[str, Any]:
    with StateDB(folder / "state.db") as db:
        add_build(db, "alpha")
    return vote_info(folder)


def repo_promote(folder: Path) -> dict[str, Any]:
    return {
        "db": str(folder / "state.db"),
        "repos_dir": str(folder / "repos"),
        "label": "tested",
        "commit_hash": hexhash("alpha", 0),
        "distro_hash": hexhash("distgit", "alpha", 0),
    }


def repo_promote_state(folder: Path) -> dict[str, Any]:
    folder.joinpath("publish.json").write_text(json.dumps({**_publish_args(folder), **_built(folder)}))
    return repo_promote(folder)


def repo_purge(folder: Path) -> dict[str, Any]:
    return {"db": str(folder / "state.db"), "repos_dir": str(folder / "repos"), "older_than": 0}


def repo_purge_state(folder: Path) -> dict[str, Any]:
    folder.joinpath("publish.json").write_text(json.dumps({**_publish_args(folder), **_built(folder)}))
    return repo_purge(folder)


def publish_seed(folder: Path, args: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [("repo_publish", json.loads((folder / "publish.json").read_text()))]


VERSIONS = (
    "Project,Source Repo,Source Sha,Dist Repo,Dist Sha,Status,Last Success Timestamp,Component,Extended Sha,Pkg NVR\n"
    f"keystone,None,{'3d' * 20},None,{'1e' * 20},SUCCESS,1795681910,keystone,None,keystone_2:22.0.2-1\n"
)
REPO_PATH = f"3d/3d/{'3d' * 20}_{'1e' * 4}"


def _published_repo(folder: Path) -> Path:
    repo = folder / "in" / "repos" / REPO_PATH
    repo.mkdir(parents=True)
    (repo / "versions.csv").write_text(VERSIONS)
    info = {
        "backend": "dpkg",
        "project": "keystone",
        "name": "python-keystone",
        "nvr": "keystone_2:22.0.2-1",
        "inputs": {
            "upstream": "file:///ci/upstream/keystone",
            "distgit": "file:///ci/distgit/keystone",
            "commit_hash": "3d" * 20,
            "distro_hash": "1e" * 20,
        },
        "settings": {},
        "outputs": [{"name": "python3-keystone_22.0.2-1_all.deb", "sha256": "1" * 64, "size": 1}],
        "toolchain": {"dpkg-buildpackage": "1.21.23"},
    }
    (repo / "buildinfo.json").write_text(json.dumps(info))
    return folder / "in" / "repos"


def run_manifest(folder: Path) -> dict[str, Any]:
    repos = _published_repo(folder)
    return {
        "path": str(folder / "runs" / "r1" / "manifest.json"),
        "run_id": "r1",
        "release": "zed",
        "backend": "dpkg",
        "repos_dir": str(repos),
        "repo_path": REPO_PATH,
        "repo_base_url": "http://192.0.2.1:8088/repos",
        "deploy": {"status": "passed", "scenario": "scenario001"},
    }


def run_manifest_then(folder: Path, args: dict[str, Any]) -> dict[str, Any]:
    return {**args, "deploy": {"status": "failed", "scenario": "scenario001"}}


def reproduce_plan(folder: Path) -> dict[str, Any]:
    return {"manifest": str(folder / "runs" / "r1" / "manifest.json")}


def reproduce_plan_seed(folder: Path, args: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [("run_manifest", run_manifest(folder))]


def run_page(folder: Path) -> dict[str, Any]:
    return {"manifest": str(folder / "runs" / "r1" / "manifest.json"), "ara_url": "/ara/", "ara_playbooks": [{"id": 1}]}


def run_page_then(folder: Path, args: dict[str, Any]) -> dict[str, Any]:
    return {**args, "ara_playbooks": [{"id": 2}]}


def source_poll(folder: Path) -> dict[str, Any]:
    return {
        "packages": [_git_package(folder)],
        "release": "zed",
        "db": str(folder / "state.db"),
        "mirror_dir": str(folder / "git"),
    }


def source_poll_then(folder: Path, args: dict[str, Any]) -> dict[str, Any]:
    commit(folder / "in" / "upstream", "second", T0 + 600)  # new upstream commit: check mode would queue it
    return args


def tempest_progress(folder: Path) -> dict[str, Any]:
    _subunit(folder / "in" / "run.subunit", {"tempest.api.a.test_one": "success"})
    (folder / "in" / "job.json").write_text(json.dumps({"started": 1, "finished": 1, "rc": 0}))
    return {"job": str(folder / "in" / "job.json"), "stream": str(folder / "in" / "run.subunit"), "total": 2, "wait": 0}


def build_progress(folder: Path) -> dict[str, Any]:
    (folder / "in").mkdir(exist_ok=True)
    (folder / "in" / "job.json").write_text(json.dumps({"started": 1, "finished": 0}))
    progress = {"format": 1, "total": 3, "done": 1, "failed": 0, "building": {"nova": T0}, "started": T0}
    (folder / "in" / "progress.json").write_text(json.dumps(progress))
    return {"job": str(folder / "in" / "job.json"), "progress": str(folder / "in" / "progress.json"), "wait": 0}


def tempest_results(folder: Path) -> dict[str, Any]:
    _subunit(folder / "in" / "run.subunit", {"tempest.api.a.test_one": "success", "tempest.api.a.test_two": "fail"})
    (folder / "out").mkdir()
    return {
        "src": [str(folder / "in" / "run.subunit")],
        "json": str(folder / "out" / "results.json"),
        "junit": str(folder / "out" / "results.xml"),
        "html": str(folder / "out" / "results.html"),
    }


def tempest_results_then(folder: Path, args: dict[str, Any]) -> dict[str, Any]:
    return {**args, "title": "Tempest results, again"}


def release_package(folder: Path) -> dict[str, Any]:
    key, fingerprint = _key(folder.parent.parent / "gnupg")
    (folder / "out").mkdir()
    return {
        "release": "zed",
        "baseurl": "http://127.0.0.1:8088/repos/zed/release",
        "key": key,
        "fingerprints": [fingerprint],
        "format": "deb",
        "dest": str(folder / "out"),
    }


def release_package_then(folder: Path, args: dict[str, Any]) -> dict[str, Any]:
    return {**args, "baseurl": "http://127.0.0.1:8088/repos/zed/testing"}


def repo_closure(folder: Path) -> dict[str, Any]:
    """A flat DEB repository of one package needing nothing (check mode reads it; dose-debcheck writes nothing)."""
    repo = folder / "repo"
    repo.mkdir()
    shutil.copy2(build_deb(folder / "work", "alpha"), repo)
    write_deb_metadata(repo, origin="distroforge", label="distroforge", suite="zed")
    return {"path": str(repo), "provides": ["vhost-provider"]}


RELEASE_SPEC = """\
Name:       python-alpha
Version:    XXX
Release:    XXX
Summary:    Alpha
License:    Apache-2.0
BuildArch:  noarch
Requires:   python3-pbr >= 2.0.0
Requires:   python3-six >= 1.10.0

%description
Alpha.

%files

%changelog
* Tue Nov 14 2023 Packager <packager@example.org> - 1.0.0-1
- Packaging of 1.0.0
"""
RELEASE_CONTROL = """\
Source: python-alpha
Build-Depends: debhelper-compat (= 13), python3-all, python3-pbr

Package: python3-alpha
Architecture: all
Depends: python3-pbr, python3-six (>= 1.10.0), ${misc:Depends}
Description: alpha
 Alpha.
"""
RELEASE_CHANGELOG = """\
python-alpha (1.0.0-1) bookworm; urgency=medium

  * Packaging of 1.0.0.

 -- Packager <packager@example.org>  Tue, 14 Nov 2023 22:13:20 +0000
"""


def bump_package(folder: Path) -> dict[str, Any]:
    """An upstream with tags 1.0.0 and 1.1.0 (other requirements) and a distgit packaging 1.0.0."""
    upstream = init(folder / "in" / "upstream")
    releases = [("1.0.0", "pbr>=2.0.0\nsix>=1.10.0\n"), ("1.1.0", "pbr>=2.0.0\n")]
    for index, (version, requirements) in enumerate(releases):
        commit(upstream, f"Release {version}", T0 + 3600 * index, {"requirements.txt": requirements})
        git(upstream, "tag", "-a", "-m", version, version, when=T0 + 3600 * index)
    distgit = init(folder / "in" / "distgit", branch="zed-rdo")
    files = {"python-alpha.spec": RELEASE_SPEC, "debian/control": RELEASE_CONTROL}
    files["debian/changelog"] = RELEASE_CHANGELOG
    commit(distgit, "Packaging of 1.0.0", T0 + 60, files)
    package = {
        "name": "python-alpha",
        "project": "alpha",
        "upstream": f"file://{upstream}",
        "distgit": str(distgit),
        "source_branch": "master",
        "distgit_branch": "zed-rdo",
        "release": "zed",
    }
    return {"package": package}


def package_reqcheck(folder: Path) -> dict[str, Any]:
    return {**bump_package(folder), "tag": "1.1.0"}


def _release_pkgdb(folder: Path) -> Path:
    """A copy of the example distro's package database."""
    for name in ("rdo-full.yml", "rdo.yml", "tags/zed.yml"):
        (folder / "in" / "rdoinfo" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(TOP / "examples" / "distro" / name, folder / "in" / "rdoinfo" / name)
    return folder / "in" / "rdoinfo" / "rdo-full.yml"


def release_stage(folder: Path) -> dict[str, Any]:
    return {
        "pkgdb": str(_release_pkgdb(folder)),
        "release": "zed",
        "action": "move",
        "from": "candidate",
        "stage": "testing",
        "reason": "gate passed",
        "workdir": str(folder / "work"),
        "sign": False,
    }


def release_stage_state(folder: Path) -> dict[str, Any]:
    """A tagged build of keystone in the NVR store and a candidate stage naming it."""
    args = release_stage(folder)
    deb = build_deb(folder / "in", "python3-keystone", "22.0.2-1")
    store = folder / "work" / "tagged" / "keystone" / "keystone_2:22.0.2-1"
    store.mkdir(parents=True)
    shutil.copy2(deb, store / deb.name)
    digest = hashlib.sha256(deb.read_bytes()).hexdigest()
    info = {"backend": "dpkg", "nvr": "keystone_2:22.0.2-1", "inputs": {"release_build": True},
            "outputs": [{"name": deb.name, "sha256": digest, "size": deb.stat().st_size}]}  # fmt: skip
    (store / "buildinfo.json").write_text(json.dumps(info))
    stage = folder / "in" / "rdoinfo" / "stages" / "zed" / "candidate.yml"
    stage.parent.mkdir(parents=True)
    stage.write_text("bookworm:\n  keystone: keystone_2:22.0.2-1\n")
    return args


def release_stage_seed(folder: Path, args: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The candidate stage published, as a user's earlier run left it."""
    seed = {key: value for key, value in args.items() if key != "from"}
    return [("release_stage", {**seed, "action": "publish", "stage": "candidate"})]


def release_build(folder: Path) -> dict[str, Any]:
    """A package whose zed-release pin is a tag of a local upstream repository."""
    package = _git_package(folder)
    git(Path(package["upstream"].removeprefix("file://")), "tag", "-a", "-m", "1.0.0", "1.0.0", when=T0)
    pkgdb = folder / "in" / "rdoinfo" / "rdo.yml"
    pkgdb.parent.mkdir(parents=True)
    pkgdb.write_text(
        textwrap.dedent(
            f"""\
            releases:
            - name: zed
              branch: rpm-master
              upstream_branch: master
              repos:
              - name: bookworm
            packages:
            - project: alpha
              name: python-alpha
              upstream: {package["upstream"]}
              master-distgit: {package["distgit"]}
              maintainers: [alpha@example.org]
              tags:
                zed:
                zed-release:
                  source-branch: 1.0.0
            """
        )
    )
    return {"pkgdb": str(pkgdb), "release": "zed", "repo": "bookworm", "workdir": str(folder / "work")}


def seed_self(module: str) -> Callable[[Path, dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """Seed with a normal-mode run of the module itself, as the user's previous run."""
    return lambda folder, args: [(module, args)]


CASES = [
    Case("api_user-fresh", "api_user", api_user),
    Case(
        "api_user-state",
        "api_user",
        api_user,
        seed_self("api_user"),
        lambda folder, args: {**args, "password": "other"},
    ),
    Case("build_progress-state", "build_progress", build_progress),
    Case("build_notify-fresh", "build_notify", build_notify),
    Case("build_notify-state", "build_notify", build_notify_state),
    Case("build_queue-fresh", "build_queue", build_queue),
    Case("build_queue-state", "build_queue", build_queue_state),
    Case("build_record-fresh", "build_record", build_record),
    Case("build_record-state", "build_record", build_record_state),
    Case("ci_vote-fresh", "ci_vote", ci_vote, fails=r"state.db does not exist: it is created by"),
    Case("ci_vote-state", "ci_vote", ci_vote_state),
    Case("build_status-fresh", "build_status", build_status, fails=r"state.db does not exist: it is created by"),
    Case("build_status-state", "build_status", build_status_state),
    Case("logs_sanitize-fresh", "logs_sanitize", logs_sanitize),
    Case("logs_sanitize-state", "logs_sanitize", logs_sanitize, seed_self("logs_sanitize"), logs_sanitize_then),
    Case("node_image-fresh", "node_image", node_image),
    Case("package_build-fresh", "package_build", package_build),
    Case("bisect_repo-fresh", "bisect_repo", bisect_repo, fails=r"bisect.json does not exist; plan the bisect"),
    Case("bisect_repo-state", "bisect_repo", bisect_repo_state, seed_self("bisect_repo"), bisect_repo_then),
    Case("bisect_step-fresh", "bisect_step", bisect_step, fails=r"state.db does not exist: it is created by"),
    Case("bisect_step-state", "bisect_step", bisect_step_state, seed_self("bisect_step"), bisect_step_then),
    Case("package_recheck-fresh", "package_recheck", package_recheck, fails=r"state DB has no build of alpha"),
    Case("package_recheck-state", "package_recheck", package_recheck_state),
    Case("packstack_answers-fresh", "packstack_answers", packstack_answers),
    Case(
        "packstack_answers-state",
        "packstack_answers",
        packstack_answers,
        seed_self("packstack_answers"),
        packstack_answers_then,
    ),
    Case("package_generate-fresh", "package_generate", package_generate),
    Case(
        "package_generate-state",
        "package_generate",
        package_generate,
        seed_self("package_generate"),
        package_generate_then,
    ),
    Case("package_new_version-fresh", "package_new_version", bump_package),
    Case("package_new_version-state", "package_new_version", bump_package, seed_self("package_new_version")),
    Case("package_reqcheck-fresh", "package_reqcheck", package_reqcheck),
    Case("pkgdb_info-fresh", "pkgdb_info", pkgdb_info),
    Case("pkgdb_info-state", "pkgdb_info", pkgdb_info, seed_self("pkgdb_info")),
    Case("puppet_apply-fresh", "puppet_apply", puppet_apply),
    Case("puppet_apply-state", "puppet_apply", puppet_apply, seed_self("puppet_apply")),
    Case("release_package-fresh", "release_package", release_package),
    Case(
        "release_package-state",
        "release_package",
        release_package,
        seed_self("release_package"),
        release_package_then,
    ),
    Case("release_build-state", "release_build", release_build),
    Case("release_stage-fresh", "release_stage", release_stage),
    Case("release_stage-state", "release_stage", release_stage_state, release_stage_seed),
    Case("repo_closure-fresh", "repo_closure", lambda folder: {"path": str(folder / "none")}, fails=r"^path: "),
    Case("repo_closure-state", "repo_closure", repo_closure),
    Case("repo_key-fresh", "repo_key", repo_key),
    Case("repo_key-state", "repo_key", repo_key, seed_self("repo_key"), repo_key_then),
    Case("repo_publish-fresh", "repo_publish", repo_publish, fails=r"state.db does not exist: it is created by"),
    Case("repo_publish-state", "repo_publish", repo_publish_state),
    Case("repo_purge-fresh", "repo_purge", repo_purge, fails=r"state.db does not exist: it is created by"),
    Case("repo_promote-fresh", "repo_promote", repo_promote, fails=r"state.db does not exist: it is created by"),
    Case("repo_promote-state", "repo_promote", repo_promote_state, publish_seed),
    Case("repo_purge-state", "repo_purge", repo_purge_state, publish_seed),
    Case("reproduce_plan-state", "reproduce_plan", reproduce_plan, reproduce_plan_seed),
    Case("run_manifest-fresh", "run_manifest", run_manifest),
    Case("run_manifest-state", "run_manifest", run_manifest, seed_self("run_manifest"), run_manifest_then),
    Case("run_page-fresh", "run_page", run_page, reproduce_plan_seed),
    Case(
        "run_page-state",
        "run_page",
        run_page,
        lambda folder, args: [*reproduce_plan_seed(folder, args), ("run_page", args)],
        run_page_then,
    ),
    Case("source_poll-fresh", "source_poll", source_poll),
    Case("source_poll-state", "source_poll", source_poll, seed_self("source_poll"), source_poll_then),
    Case("tempest_progress-state", "tempest_progress", tempest_progress),
    Case("vm_image-fresh", "vm_image", vm_image),
    Case("vm_node-fresh", "vm_node", vm_node),
    Case("vm_node-state", "vm_node", vm_node_state),
    Case("vote_info-fresh", "vote_info", vote_info),
    Case("vote_info-state", "vote_info", vote_info_state, lambda folder, args: [("ci_vote", ci_vote(folder))]),
    Case("tempest_results-fresh", "tempest_results", tempest_results),
    Case(
        "tempest_results-state", "tempest_results", tempest_results, seed_self("tempest_results"), tempest_results_then
    ),
]
# Cases of modules this checkout does not have (yet) are left out; every module it has needs a case.
CASES = [case for case in CASES if case.module in MODULES]
ENVIRONMENTS: dict[str, Callable[[Path], dict[str, str]]] = {"puppet_apply": _fake_puppet}


# -- the runs -------------------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder`` (itself included): type, size, mtime, mode, content hash or link target."""
    entries = {}
    for root, dirs, files in os.walk(folder):
        for name in [".", *dirs, *files]:
            path = Path(root, name)
            info = path.lstat()
            if stat.S_ISREG(info.st_mode):
                content = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(info.st_mode):
                content = os.readlink(path)
            else:
                content = None
            entries[str(path.relative_to(folder))] = (
                stat.S_IFMT(info.st_mode),
                info.st_size if not stat.S_ISDIR(info.st_mode) else None,
                info.st_mtime_ns,
                stat.S_IMODE(info.st_mode),
                content,
            )
    return entries


def _playbook(path: Path, tasks: list[tuple[str, str, str]], results: Path) -> None:
    """Each (key, module, env key) task runs ``module`` with ``args[key]``, in ``envs[env key]``; results saved."""
    body = []
    for key, module, env_key in tasks:
        task = {
            "name": f"Run {key}",
            f"distroforge.openstack.{module}": f"{{{{ args[{key!r}] }}}}",
            "register": f"out_{len(body)}",
            "ignore_errors": True,
        }
        if env_key:
            task["environment"] = f"{{{{ envs[{env_key!r}] }}}}"
        body.append(task)
    collect = "{{ {" + ", ".join(f"{key!r}: out_{i}" for i, (key, *_rest) in enumerate(tasks)) + "} | to_json }}"
    body.append(
        {
            "name": "Save the results",
            "ansible.builtin.copy": {"content": collect, "dest": str(results)},
            "check_mode": False,
        }
    )
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": body}], sort_keys=False))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Seed, snapshot, check-mode run, snapshot: per case (args, result, before, after)."""
    top = tmp_path_factory.mktemp("check_mode")
    cases = top / "cases"
    cases.mkdir()
    args, envs, seeds = {}, {}, []
    for case in CASES:
        folder = cases / case.id
        folder.mkdir()
        args[case.id] = case.prepare(folder)
        if case.module in ENVIRONMENTS:
            envs[case.id] = ENVIRONMENTS[case.module](folder)
        for index, (module, seed_args) in enumerate(case.seed(folder, args[case.id])):
            key = f"{case.id}/seed{index}"
            args[key] = seed_args
            seeds.append((key, module, case.id if case.id in envs else ""))
    if seeds:
        _playbook(top / "seed.yml", seeds, top / "seed.json")
        run_playbook(top / "seed.yml", {"args": args, "envs": envs}, timeout=600)
        seeded = json.loads((top / "seed.json").read_text())
        failed = {key: out.get("msg") for key, out in seeded.items() if out.get("failed")}
        assert not failed, f"seed runs failed: {failed}"
    for case in CASES:
        args[case.id] = case.then(cases / case.id, args[case.id])
    before = {case.id: snapshot(cases / case.id) for case in CASES}
    tasks = [(case.id, case.module, case.id if case.id in envs else "") for case in CASES]
    _playbook(top / "check.yml", tasks, top / "check.json")
    run_playbook(top / "check.yml", {"args": args, "envs": envs}, "--check", "--diff", timeout=600)
    results = json.loads((top / "check.json").read_text())
    after = {case.id: snapshot(cases / case.id) for case in CASES}
    return {case.id: (args[case.id], results[case.id], before[case.id], after[case.id]) for case in CASES}


def _changes(before: dict[str, tuple], after: dict[str, tuple]) -> list[str]:
    names = ("type", "size", "mtime", "mode", "content")
    out = [f"created {path}" for path in sorted(set(after) - set(before))]
    out += [f"removed {path}" for path in sorted(set(before) - set(after))]
    for path in sorted(set(before) & set(after)):
        differs = [name for name, old, new in zip(names, before[path], after[path], strict=True) if old != new]
        if differs:
            out.append(f"changed {path} ({', '.join(differs)})")
    return out


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, marks=pytest.mark.xfail(reason=case.xfail, strict=True)) if case.xfail else case
        for case in CASES
    ],
    ids=[case.id for case in CASES],
)
def test_check_mode_changes_nothing_on_disk(runs, case):
    _args, result, before, after = runs[case.id]
    changes = _changes(before, after)
    shown = ", ".join(changes[:8]) + (f" and {len(changes) - 8} more" if len(changes) > 8 else "")
    assert changes == [], f"{case.module} in check mode changed the disk: {shown}; result: {result.get('msg')}"
    if case.fails is None:
        assert not result.get("failed"), result.get("msg")
    else:
        assert result.get("failed") and "\n" not in result["msg"], result
        assert re.search(case.fails, result["msg"]), result["msg"]


def test_every_module_has_a_check_mode_case():
    assert sorted(set(MODULES) - {case.module for case in CASES}) == []
