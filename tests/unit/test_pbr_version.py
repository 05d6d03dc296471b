"""pbr versions and package versions from real git histories (pbr itself is the oracle)."""

from __future__ import annotations

import itertools
import os
import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._versions.pbr import (
    PackageVersion,
    SemVer,
    package_version,
    upstream_version,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._versions.vercmp import deb_vercmp, rpm_vercmp

try:
    from pbr import packaging as pbr_packaging
    from pbr import version as pbr_version
except ImportError:  # pragma: no cover
    pbr_packaging = pbr_version = None

needs_pbr = pytest.mark.skipif(pbr_packaging is None, reason="pbr is not installed (it is only the test oracle)")

START = 1665403200  # 2022-10-10 12:00:00 UTC


@dataclass
class Repo:
    """A git repository with a clock: commit i is dated START + i hours."""

    path: Path
    clock: int = 0
    first_parent: list[str] = field(default_factory=list)

    def git(self, *args: str, date: int | None = None) -> str:
        env = {
            **os.environ,
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Dev",
            "GIT_AUTHOR_EMAIL": "dev@example.org",
            "GIT_COMMITTER_NAME": "Dev",
            "GIT_COMMITTER_EMAIL": "dev@example.org",
        }
        if date is not None:
            # Author dates from another time zone must not matter: the committer date counts.
            env["GIT_AUTHOR_DATE"] = f"@{date - 86400 * 30} +0530"
            env["GIT_COMMITTER_DATE"] = f"@{date} +0200"
        return subprocess.run(
            ["git", "-C", str(self.path), *args], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

    @classmethod
    def create(cls, path: Path) -> Repo:
        path.mkdir()
        repo = cls(path)
        repo.git("init", "-q", "-b", "main")
        return repo

    def tick(self) -> int:
        self.clock += 1
        return START + self.clock * 3600

    def commit(self, message: str = "Change", *, track: bool = True) -> str:
        when = self.tick()
        # One file per commit: branches never conflict when merged.
        (self.path / f"change-{self.clock}").write_text(f"{message}\n")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, date=when)
        head = self.git("rev-parse", "HEAD")
        if track:
            self.first_parent.append(head)
        return head

    def tag(self, name: str, *, annotated: bool = True) -> None:
        if annotated:
            self.git("tag", "-a", name, "-m", f"Release {name}", date=self.tick())
        else:
            self.git("tag", name)

    def merge(self, branch: str) -> str:
        self.git("merge", "-q", "--no-ff", "-m", f"Merge {branch}", branch, date=self.tick())
        head = self.git("rev-parse", "HEAD")
        self.first_parent.append(head)
        return head


def pbr_says(repo: Repo, commit: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """What ``python setup.py --version`` (pbr) answers with ``commit`` checked out."""
    repo.git("checkout", "-q", "--detach", commit)
    monkeypatch.delenv("PBR_VERSION", raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    with monkeypatch.context() as patch:
        patch.chdir(repo.path)
        return pbr_packaging._get_version_from_git()


def assert_newer_each_time(versions: list[PackageVersion]) -> None:
    for older, newer in itertools.pairwise(versions):
        assert rpm_vercmp(older.rpm_evr, newer.rpm_evr) == -1, (older, newer)
        assert deb_vercmp(older.deb_version, newer.deb_version) == -1, (older, newer)


def check_history(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> list[PackageVersion]:
    versions = [package_version(repo.path, commit) for commit in repo.first_parent]
    if pbr_packaging is not None:
        for commit, ours in zip(repo.first_parent, versions, strict=False):
            assert ours.upstream_version == pbr_says(repo, commit, monkeypatch), commit
    assert_newer_each_time(versions)
    return versions


def test_release_prerelease_release_history(tmp_path, monkeypatch):
    repo = Repo.create(tmp_path / "keystone")
    repo.commit("Initial")
    repo.commit("Add API")
    repo.tag("1.0.0")
    for n in range(3):
        repo.commit(f"Fix {n}")
    repo.tag("1.0.1rc1")  # pbr reads it as 1.0.1.0rc1
    repo.commit("Fix after rc1")
    repo.commit("Another fix")
    repo.tag("1.0.1")
    repo.commit("Next cycle")
    repo.commit("More")
    versions = check_history(repo, monkeypatch)
    table = [(v.upstream_version, v.rpm_version, v.deb_version.split("~git")[0]) for v in versions]
    assert table == [
        ("0.0.0", "0.0.0", "0.0.0-1"),
        ("1.0.0", "1.0.0", "1.0.0-1"),
        ("1.0.1.dev1", "1.0.1~~dev", "1.0.1~"),
        ("1.0.1.dev2", "1.0.1~~dev", "1.0.1~"),
        ("1.0.1.0rc1", "1.0.1~rc1", "1.0.1~rc1-1"),
        ("1.0.1.0rc2.dev1", "1.0.1~rc2~dev", "1.0.1~rc2"),
        ("1.0.1", "1.0.1", "1.0.1-1"),
        ("1.0.2.dev1", "1.0.2~~dev", "1.0.2~"),
        ("1.0.2.dev2", "1.0.2~~dev", "1.0.2~"),
    ]
    dev = versions[2]
    assert dev.tag == "1.0.0"
    assert dev.distance == 1
    assert dev.rpm_release == f"0.20221010160000.{dev.commit_hash[:7]}"
    assert dev.deb_version == f"1.0.1~~git20221010160000.{dev.commit_hash[:7]}-1"


def test_no_tags_at_all(tmp_path, monkeypatch):
    repo = Repo.create(tmp_path / "lib")
    for n in range(5):
        repo.commit(f"Change {n}")
    versions = check_history(repo, monkeypatch)
    # pbr counts rows of `git log` before a tag; without one, all rows but the root.
    assert [v.upstream_version for v in versions] == ["0.0.0", "0.0.1.dev1", "0.0.1.dev2", "0.0.1.dev3", "0.0.1.dev4"]
    assert versions[-1].tag is None


def test_sem_ver_footers_bump_minor_and_major(tmp_path, monkeypatch):
    repo = Repo.create(tmp_path / "client")
    repo.commit("Initial")
    repo.tag("v1.2.3", annotated=False)  # lightweight and "v"-prefixed, as some projects do
    repo.commit("Fix")
    repo.commit("New option\n\nSem-Ver: feature")
    repo.commit("Another fix")
    repo.commit("Remove old API\n\nsem-ver: api-break, bugfix")
    repo.commit("After the break")
    versions = check_history(repo, monkeypatch)
    assert [v.upstream_version for v in versions] == [
        "1.2.3",
        "1.2.4.dev1",
        "1.3.0.dev2",
        "1.3.0.dev3",
        "2.0.0.dev4",
        "2.0.0.dev5",
    ]


def test_merge_commits(tmp_path, monkeypatch):
    repo = Repo.create(tmp_path / "service")
    repo.commit("Initial")
    repo.tag("2.0.0")
    base = repo.commit("Main work")
    repo.git("checkout", "-q", "-b", "topic", base)
    repo.commit("Topic 1", track=False)
    repo.commit("Topic 2\n\nSem-Ver: feature", track=False)
    repo.git("checkout", "-q", "main")
    repo.commit("Main again")
    repo.merge("topic")
    repo.commit("After merge")
    repo.tag("2.1.0.0b1")
    repo.commit("After beta")
    assert package_version(repo.path).upstream_version == "2.1.0.0b2.dev1"
    repo.tag("2.1.0.0rc1")
    repo.commit("After rc")
    versions = check_history(repo, monkeypatch)
    assert versions[3].upstream_version == "2.1.0.dev5"  # log rows since the tag, topic commits included
    assert [v.upstream_version for v in versions[-3:]] == ["2.1.0.0b1", "2.1.0.0rc1", "2.1.0.0rc2.dev1"]
    assert [v.rpm_version for v in versions[-3:]] == ["2.1.0~b1", "2.1.0~rc1", "2.1.0~rc2~dev"]


def _next_tag(current: str, kind: str) -> str:
    version = SemVer.parse(current)
    if kind == "release":
        return version.base
    if version.pre_type:
        return f"{version.base}.0{version.pre_type}{version.pre_number}"
    return f"{version.base}.0{kind}1"


@pytest.mark.parametrize("seed", range(6))
def test_random_histories_always_move_forward(tmp_path, monkeypatch, seed):
    """Random real-shaped histories: every next first-parent commit sorts higher, as pbr agrees."""
    rng = random.Random(seed)
    repo = Repo.create(tmp_path / f"project{seed}")
    repo.commit("Initial")
    branch_count = 0
    for _step in range(14):
        action = rng.choice(["commit", "commit", "commit", "footer", "release", "rc", "b", "merge"])
        current = package_version(repo.path, "HEAD").upstream_version
        if action == "commit":
            repo.commit()
        elif action == "footer":
            repo.commit("Change\n\nSem-Ver: " + rng.choice(["feature", "bugfix", "deprecation", "api-break"]))
        elif action == "merge":
            branch_count += 1
            name = f"topic{branch_count}"
            repo.git("checkout", "-q", "-b", name)
            for _commit in range(rng.randint(1, 3)):
                repo.commit("Topic", track=False)
            repo.git("checkout", "-q", "main")
            if rng.random() < 0.5:
                repo.commit("Meanwhile")
            repo.merge(name)
        elif "dev" in current:  # tag only what is not tagged yet, as projects do
            repo.tag(_next_tag(current, action), annotated=rng.random() < 0.7)
            repo.commit()
    check_history(repo, monkeypatch)


def test_a_rebuild_gives_the_same_versions(tmp_path):
    repo = Repo.create(tmp_path / "a")
    repo.commit("Initial")
    repo.tag("22.0.0")
    head = repo.commit("Fix")
    first = package_version(repo.path, head, epoch=2)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)
    again = package_version(clone, head, epoch=2)
    assert first == again
    assert first.deb_version == f"2:22.0.1~~git20221010150000.{head[:7]}-1"
    assert first.rpm_evr == f"2:22.0.1~~dev-0.20221010150000.{head[:7]}"
    assert first.timestamp == "20221010150000"
    assert first.as_dict()["rpm_evr"] == first.rpm_evr


def test_bad_input_is_one_line(tmp_path):
    repo = Repo.create(tmp_path / "a")
    repo.commit("Initial")
    with pytest.raises(InputError, match=r"^commit 'nope' is not in the git repository .*: fetch it first$"):
        package_version(repo.path, "nope")
    with pytest.raises(InputError, match="commit '--all' is not a git revision"):
        upstream_version(repo.path, "--all")
    with pytest.raises(InputError, match="epoch -1 is not a non-negative integer"):
        package_version(repo.path, "HEAD", epoch=-1)


TAGS = [
    "1",
    "1.0",
    "1.0.0",
    "v2.3.4",
    "V1.0",
    "1.2rc1",
    "1.2.0rc1",
    "1.2.0.0rc1",
    "1.2.3.0b2",
    "1.2.3.a1",
    "1.2.3.0a1.dev4",
    "1.2.3.dev4",
    "1.2.3.post2",
    "1.2.3.0rc1.post2",
    "1.2.3.dev1.post2",
    "1.2.3.post2.dev1",
    "0.10.1.3.g83bef74",
    "1.2.3.4",
    "1.2.3.0",
    "2014.2",
    "2014.2.b3",
    "1.a.2",
    "abc",
    "1.2.x",
    "1.2.3.rc",
    "1.2.3.dev",
    "",
    "1..2",
    "1.2.3.",
]


@needs_pbr
@pytest.mark.parametrize("tag", TAGS)
def test_tag_parsing_matches_pbr(tag):
    try:
        theirs = pbr_version.SemanticVersion.from_pip_string(tag)
    except ValueError:
        theirs = None
    try:
        ours = SemVer.parse(tag)
    except ValueError:
        ours = None
    if theirs is None:
        assert ours is None
        return
    assert ours is not None
    assert ours.release_string() == theirs.release_string()
    fields = (theirs._major, theirs._minor, theirs._patch, theirs._prerelease_type, theirs._prerelease)
    assert (ours.major, ours.minor, ours.patch, ours.pre_type, ours.pre_number) == fields
    assert ours.dev == theirs._dev_count


def test_rpm_and_deb_order_follow_pbr_order():
    ordered = [
        "1.0.0",
        "1.0.1.dev3",
        "1.0.1.0a1",
        "1.0.1.0a2.dev1",
        "1.0.1.0b1",
        "1.0.1.0rc1",
        "1.0.1.0rc2.dev2",
        "1.0.1",
    ]
    parsed = [SemVer.parse(v) for v in ordered]
    assert sorted(parsed, key=SemVer.sort_key) == parsed
    for older, newer in itertools.pairwise(parsed):
        assert rpm_vercmp(older.rpm_version(), newer.rpm_version()) == -1
        assert deb_vercmp(older.deb_upstream("20221010", "abc1234"), newer.deb_upstream("20221010", "abc1234")) == -1
