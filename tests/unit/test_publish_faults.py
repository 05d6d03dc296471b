"""A full disk while publishing: the previous repository stays, nothing half-written shows, one line says why.

Two ways to fill the disk.  At the write layer (:mod:`.faultfs`), every
write step of a publish fails once with ENOSPC, deterministically.  On a
small tmpfs holding the state DB, the GnuPG home and the repositories (the
role's layout), a signed publish runs with less and less room left, so
the real file system refuses whichever write comes first, in SQLite,
createrepo_c and gpg too.  Each failure must leave every link on the
repository it named before (or, past the link swap, on the new complete
one), no staging directory or temporary file behind, and say in one line
where there is no space and what to do; publishing again once there is
room finishes the job.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import DistroforgeError
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.layout import FLAG_PUBLISHED
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.publisher import Publisher, PublishOptions
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB

from .ansible_run import run_playbook
from .faultfs import WriteFaults, tmpfs
from .pkgfactory import add_build, artifacts_dir, build_rpm, make_signing_key
from .repocheck import RepoChecker, scratch_left

pytestmark = pytest.mark.slow
PROJECTS = ("alpha", "beta", "gamma")
PAGE = 4096


def link_targets(check: RepoChecker) -> dict[str, str]:
    """Every link a client follows and what it says."""
    return {str(link.relative_to(check.repos)): os.readlink(link) for link in check.links()}


def tree_digest(path: Path) -> dict[str, str]:
    """File names and contents (as sha256) of a repository: to tell that it was left untouched."""
    return {
        str(item.relative_to(path)): hashlib.sha256(item.read_bytes()).hexdigest() if item.is_file() else "dir"
        for item in sorted(path.rglob("*"))
    }


def assert_disk_full_message(error: BaseException, where: Path) -> str:
    """One line: no space left on a path under ``where``, what the links say, what to do."""
    message = str(error)
    assert isinstance(error, DistroforgeError), f"{type(error).__name__} escaped: {message}"
    assert "\n" not in message and "Traceback" not in message, message
    assert re.search(rf"no space left on {re.escape(str(where))}\S*", message), message
    assert "free space" in message, message
    return message


@pytest.fixture(scope="module")
def arts(tmp_path_factory):
    """Each package's build output (packages and build.log), made once."""
    work = tmp_path_factory.mktemp("builds")
    return {name: artifacts_dir(work, build_rpm(work, name)) for name in PROJECTS}


class Scene:
    """Three packages published once; then one new build at a time, published under a fault."""

    def __init__(self, work: Path, repos: Path, db_path: Path, options: PublishOptions, arts: dict[str, Path]):
        self.work, self.repos, self.db_path, self.options, self.arts = work, repos, db_path, options, arts
        self.db = StateDB(db_path)
        self.seq = 0
        self.check = RepoChecker(options, db_path, "rpm", options.sign)
        for _project in PROJECTS:
            record = self.new_build("SUCCESS")
            self.publisher().publish(record.id, self.art(record))

    def publisher(self) -> Publisher:
        return Publisher(self.options, self.db)

    def new_build(self, status: str):
        project = PROJECTS[self.seq % len(PROJECTS)]
        component = {"alpha": "common", "beta": "network", "gamma": "common"}[project]
        record = add_build(
            self.db, project, self.seq, status=status, component=component if self.options.use_components else None
        )
        self.seq += 1
        return record

    def art(self, record) -> Path | None:
        return self.arts[record.project] if record.status == "SUCCESS" else None

    def build_dir(self, record) -> Path:
        return self.options.layout().commit_dir(record.commit_hash, record.distro_hash, record.component)

    def current_link(self, record) -> Path:
        return self.options.layout().link_base(record.component) / "current"

    def after_failure(self, record, error: BaseException | None, links_before: dict, previous: tuple) -> str:
        """The checks after a publish that met a full disk; returns what the user was told."""
        message = assert_disk_full_message(error, self.work) if error is not None else ""
        published = bool(self.db.get(record.id).flags & FLAG_PUBLISHED)
        links_now = link_targets(self.check)
        final = self.build_dir(record)
        if not published:
            moved = {name: target for name, target in links_now.items() if links_before.get(name) != target}
            # Links move only onto this build (or onto an aggregate naming it), never elsewhere.
            for name in moved:
                target = (self.repos / name).resolve()
                assert target == final or final.name in (target.parent / "delorean.repo").read_text(), (name, message)
            if error is not None and not moved:
                # Nothing moved: the message says the links still point at the previous repository.
                current = self.current_link(record)
                assert f"{current.relative_to(self.repos)} still points at {os.readlink(current)}" in message, message
        assert tree_digest(previous[0]) == previous[1], "the previous repository changed"
        assert scratch_left(self.repos) == [], f"left behind after: {message}"
        self.check({record.id}, deep=[final], full=False)
        return message

    def recover(self, record) -> None:
        """With room again, publishing the same build finishes it (the next case checks the links)."""
        self.publisher().publish(record.id, self.art(record))
        assert self.db.get(record.id).flags & FLAG_PUBLISHED

    def before(self, record) -> tuple[dict, tuple]:
        current = self.current_link(record).resolve()
        return link_targets(self.check), (current, tree_digest(current))


@pytest.mark.parametrize("use_components", [False, True], ids=["flat", "components"])
def test_enospc_at_every_write_step_keeps_the_previous_repository(arts, fast_dir, use_components):
    repos = fast_dir / "data" / "repos"
    options = PublishOptions(repos_dir=repos, sign=False, use_components=use_components)
    scene = Scene(fast_dir, repos, fast_dir / "state.db", options, arts)
    cases: dict[str, int] = {}
    absorbed = 0
    # A failed build's publish moves no link: with components it is the flat case again.
    for status in ("SUCCESS",) if use_components else ("SUCCESS", "FAILED"):
        step = 0
        while True:
            step += 1
            record = scene.new_build(status)
            links_before, previous = scene.before(record)
            faults = WriteFaults(fail_at=step)
            error = None
            with faults.installed():
                try:
                    scene.publisher().publish(record.id, scene.art(record))
                except Exception as exc:  # whatever escapes is checked below
                    error = exc
            if len(faults.ops) < step:  # the publish ran out of write steps before the fault: all were hit
                assert error is None
                break
            cases[status] = step
            absorbed += error is None
            scene.after_failure(record, error, links_before, previous)
            scene.recover(record)
    scene.check(set())
    print(f"write-layer ENOSPC ({'components' if use_components else 'flat'}): {cases} steps failed,"
          f" {absorbed} absorbed (the derived metadata cache)")  # fmt: skip
    assert cases["SUCCESS"] > 40 and (use_components or cases["FAILED"] > 10)


# -- a real full disk -----------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MiB tmpfs to fill; unmounted afterwards."""
    with tmpfs(tmp_path / "disk", "24m") as why_not:
        if why_not:
            pytest.skip(why_not)
        yield tmp_path / "disk"


@pytest.fixture
def fast_dir(tmp_path):
    """A tmpfs when one can be mounted (fsync costs nothing there), else ``tmp_path``."""
    with tmpfs(tmp_path / "fast", "256m") as why_not:
        yield tmp_path if why_not else tmp_path / "fast"


def fill(disk: Path, leave: int) -> Path:
    """Take all the room on ``disk`` but ``leave`` bytes."""
    stat = os.statvfs(disk)
    filler = disk / "filler"
    size = stat.f_bavail * stat.f_frsize - leave
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if size > 0:
            os.posix_fallocate(fd, 0, size)
    finally:
        os.close(fd)
    return filler


def test_full_tmpfs_keeps_the_previous_signed_repository(arts, small_disk):
    # The role's layout on one file system: state.db, gnupg/ and data/repos/ side by side.
    key = make_signing_key(small_disk / "gnupg")
    options = PublishOptions(repos_dir=small_disk / "data" / "repos", gpg_home=small_disk / "gnupg", gpg_key=key)
    scene = Scene(small_disk, options.repos_dir, small_disk / "state.db", options, arts)
    outcomes: list[str] = []
    leave, fits = 0, 0
    while fits < 3:  # from a full disk up to enough room for a publish, a page at a time
        record = scene.new_build("SUCCESS" if len(outcomes) % 4 else "FAILED")
        links_before, previous = scene.before(record)
        filler = fill(small_disk, leave)
        error = None
        try:
            scene.publisher().publish(record.id, scene.art(record))
        except Exception as exc:  # whatever escapes is checked below
            error = exc
        try:
            fits = fits + 1 if error is None else 0
            message = scene.after_failure(record, error, links_before, previous)
            outcomes.append(re.sub(r"[0-9a-f]{40}_[0-9a-f]{8}|[0-9a-f]{7,}|\d+", "#", message) or "published")
        finally:
            filler.unlink()
        scene.recover(record)
        leave += PAGE
    scene.check(set())
    kinds = sorted(set(outcomes))
    print(f"tmpfs ENOSPC: {len(outcomes)} publishes with 0..{leave - PAGE} bytes free; {len(kinds)} distinct outcomes:")
    print("\n".join(f"  {outcomes.count(kind)} x {kind}" for kind in kinds))
    assert len(outcomes) > 10 and len(kinds) >= 3


PLAYBOOK = """\
- name: Publish onto a full disk
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Publish the build
      distroforge.openstack.repo_publish:
        db: "{{ db }}"
        repos_dir: "{{ repos_dir }}"
        commit_id: "{{ commit_id }}"
        artifacts_dir: "{{ artifacts_dir }}"
        sign: false
      register: publish
      ignore_errors: true

    - name: Save the result for the test
      ansible.builtin.copy:
        content: "{{ publish | to_json }}"
        dest: "{{ results }}"
        mode: "0644"
"""


def test_full_disk_through_the_module_is_one_line(tmp_path, arts, small_disk):
    options = PublishOptions(repos_dir=small_disk / "data" / "repos", sign=False)
    scene = Scene(small_disk, options.repos_dir, small_disk / "state.db", options, arts)
    record = scene.new_build("SUCCESS")
    links_before, previous = scene.before(record)
    playbook, results = tmp_path / "publish.yml", tmp_path / "results.json"
    playbook.write_text(PLAYBOOK)
    filler = fill(small_disk, 0)
    try:
        variables = {"db": str(scene.db_path), "repos_dir": str(options.repos_dir), "commit_id": record.id,
                     "artifacts_dir": str(scene.art(record)), "results": str(results)}  # fmt: skip
        run_playbook(playbook, variables)
    finally:
        filler.unlink()
    result = json.loads(results.read_text())
    # fail_json with our one line: no module crash (module_stderr) and no Python traceback.
    assert result["failed"] is True and "module_stderr" not in result, result
    assert "Traceback" not in result.get("exception", ""), result
    assert_disk_full_message(DistroforgeError(result["msg"]), small_disk)
    scene.after_failure(record, DistroforgeError(result["msg"]), links_before, previous)
    scene.recover(record)
    scene.check(set())
