"""Polling real local git repositories."""

from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import CommandError
from ansible_collections.distroforge.openstack.plugins.module_utils._sources import git as srcgit
from ansible_collections.distroforge.openstack.plugins.module_utils._sources.poll import poll
from ansible_collections.distroforge.openstack.plugins.module_utils._sources.runner import poll_and_queue
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB

from .gitrepos import commit, git, init

T0 = 1_700_000_000


@pytest.fixture
def world(tmp_path):
    """Two packages, each with an upstream (master) and a distgit (rpm-master)."""
    pkgs = []
    for name in ("alpha", "beta"):
        up = init(tmp_path / "up" / name)
        commit(up, f"{name} first", T0)
        commit(up, f"{name} second", T0 + 60)
        dg = init(tmp_path / "dg" / name, branch="rpm-master")
        commit(dg, f"{name} spec", T0 + 120)
        pkgs.append(
            {
                "project": name,
                "name": f"python-{name}",
                "upstream": f"file://{up}",
                "distgit": str(dg),
                "source_branch": "master",
                "distgit_branch": "rpm-master",
            }
        )
    return tmp_path, pkgs


def heads(report):
    return {p.project: (p.commit_hash, p.distro_hash) for p in report.packages}


def test_first_poll_reports_every_package_with_commit_details(world):
    tmp, pkgs = world
    report = poll(pkgs, {}, mirror_dir=str(tmp / "cache"), workers=4)
    assert [p.project for p in report.changed] == ["alpha", "beta"]
    alpha = report.packages[0]
    assert alpha.commit_hash == git(tmp / "up" / "alpha", "rev-parse", "HEAD")
    assert alpha.commit.commit_time == T0 + 60
    assert alpha.commit.subject == "alpha second"
    assert alpha.commit.author == "Test Bot <bot@example.org>"
    assert alpha.distgit_commit.commit_time == T0 + 120
    row = alpha.as_dict()
    assert row["commit_time"] == T0 + 60 and row["distgit_subject"] == "alpha spec"


def test_nothing_changed_means_no_fetch(world, monkeypatch):
    tmp, pkgs = world
    first = poll(pkgs, {}, mirror_dir=str(tmp / "cache"))
    monkeypatch.setattr(srcgit, "ensure_commit", lambda *a, **k: pytest.fail("fetched although nothing changed"))
    again = poll(pkgs, heads(first), mirror_dir=str(tmp / "cache"))
    assert again.changed == [] and again.errors == []


def test_a_new_upstream_commit_is_seen_and_fetched(world):
    tmp, pkgs = world
    first = poll(pkgs, {}, mirror_dir=str(tmp / "cache"))
    new = commit(tmp / "up" / "beta", "beta third", T0 + 600)
    report = poll(pkgs, heads(first), mirror_dir=str(tmp / "cache"))
    assert [p.project for p in report.changed] == ["beta"]
    assert report.changed[0].commit_hash == new
    assert report.changed[0].commit.subject == "beta third"
    mirror = srcgit.mirror_path(str(tmp / "cache"), pkgs[1]["upstream"])
    assert git(tmp, "--git-dir", mirror, "rev-parse", "refs/heads/master") == new


def test_a_distgit_change_alone_is_a_change(world):
    tmp, pkgs = world
    first = poll(pkgs, {}, mirror_dir=str(tmp / "cache"))
    commit(tmp / "dg" / "alpha", "alpha spec fix", T0 + 900)
    report = poll(pkgs, heads(first), mirror_dir=str(tmp / "cache"))
    assert [p.project for p in report.changed] == ["alpha"]
    assert report.changed[0].distgit_commit.subject == "alpha spec fix"


def test_a_broken_repository_does_not_stop_the_others(world):
    tmp, pkgs = world
    pkgs[0] = dict(pkgs[0], upstream=f"file://{tmp}/nowhere")
    pkgs.append(dict(pkgs[1], project="gamma", source_branch="no-such-branch"))
    report = poll(pkgs, {}, mirror_dir=str(tmp / "cache"))
    by = {p.project: p for p in report.packages}
    assert by["beta"].changed and by["beta"].error is None
    assert not by["alpha"].changed and "git ls-remote" in by["alpha"].error
    assert "no branch or tag 'no-such-branch'" in by["gamma"].error
    assert "\n" not in by["alpha"].error


def test_tags_and_pinned_commits_as_source_branch(world):
    tmp, pkgs = world
    up = tmp / "up" / "alpha"
    first = git(up, "rev-parse", "HEAD~1")
    git(up, "tag", "-a", "-m", "release", "1.0.0", first, when=T0 + 100)
    git(up, "tag", "0.9.0", first)
    for ref in ("1.0.0", "0.9.0", first):
        report = poll([dict(pkgs[0], source_branch=ref)], {}, mirror_dir=str(tmp / "cache"))
        assert report.packages[0].error is None, report.packages[0].error
        assert report.packages[0].commit_hash == first  # annotated tags are peeled
        assert report.packages[0].commit.subject == "alpha first"


def test_resolve_prefers_branches_and_reports_missing_refs(tmp_path):
    up = init(tmp_path / "up")
    commit(up, "one", T0)
    assert srcgit.resolve(str(up), "master") == git(up, "rev-parse", "HEAD")
    with pytest.raises(CommandError, match="no branch or tag 'stable/zed'"):
        srcgit.resolve(str(up), "stable/zed")


def test_mirror_names_are_readable_and_distinct():
    a = srcgit.mirror_path("/c", "https://opendev.org/openstack/keystone")
    b = srcgit.mirror_path("/c", "https://github.com/openstack/keystone.git")
    assert a.startswith("/c/keystone-") and b.startswith("/c/keystone-") and a != b


# --- the module's engine: poll, compare with the state DB, queue ------------------


def test_poll_and_queue_records_once_and_reports_idempotently(world):
    tmp, pkgs = world
    kw = {"release": "zed", "db_path": str(tmp / "state.db"), "mirror_dir": str(tmp / "cache")}
    dry = poll_and_queue(pkgs, record=False, **kw)
    assert dry["changed"] and len(dry["new_commits"]) == 2
    with StateDB(kw["db_path"]) as db:
        assert db.heads("zed") == {}
    first = poll_and_queue(pkgs, **kw)
    assert first["changed"] and {r["project"] for r in first["new_commits"]} == {"alpha", "beta"}
    assert all(isinstance(r["queued_id"], int) for r in first["new_commits"])
    second = poll_and_queue(pkgs, **kw)
    assert second["changed"] is False and second["new_commits"] == [] and second["unchanged"] == 2
    commit(tmp / "up" / "alpha", "alpha third", T0 + 1000)
    third = poll_and_queue(pkgs, **kw)
    assert [r["project"] for r in third["new_commits"]] == ["alpha"]
    with StateDB(kw["db_path"]) as db:
        heads = db.heads("zed")
        assert heads["alpha"].subject == "alpha third" and heads["alpha"].dt_commit == T0 + 1000
        assert heads["alpha"].status == "QUEUED"
        assert len(db.pending("zed")) == 3


def test_poll_and_queue_says_what_is_left_to_build_and_publish(world):
    # build.yml plans, records and publishes nothing when both are 0: the no-change cycle
    tmp, pkgs = world
    kw = {"release": "zed", "db_path": str(tmp / "state.db"), "mirror_dir": str(tmp / "cache")}
    assert (poll_and_queue(pkgs, record=False, **kw)["pending"], poll_and_queue(pkgs, **kw)["pending"]) == (2, 2)
    with StateDB(kw["db_path"]) as db:
        alpha, beta = db.pending("zed")
        for record, status in ((alpha, "SUCCESS"), (beta, "FAILED")):
            assert db.claim(record.id, "b1")
            db.finish(record.id, status, log_url=str(tmp / f"{record.project}.log"))
    again = poll_and_queue(pkgs, **kw)
    assert (again["pending"], again["unpublished"]) == (0, 2)  # built, not published yet: a run died there
    with StateDB(kw["db_path"]) as db:
        db.mark_published(alpha.id)
        db.mark_purged(beta.id)
    assert {k: v for k, v in poll_and_queue(pkgs, **kw).items() if k in ("pending", "unpublished")} == {
        "pending": 0,
        "unpublished": 0,
    }


def test_poll_and_queue_reports_errors_per_package(world):
    tmp, pkgs = world
    pkgs[1] = dict(pkgs[1], distgit=f"{tmp}/missing-distgit")
    result = poll_and_queue(pkgs, release="zed", db_path=str(tmp / "s.db"), mirror_dir=str(tmp / "c"))
    assert [r["project"] for r in result["new_commits"]] == ["alpha"]
    assert result["errors"][0]["project"] == "beta" and "missing-distgit" in result["errors"][0]["error"]


def test_poll_and_queue_rejects_packages_that_are_not_pkgdb_output(tmp_path):
    with pytest.raises(Exception, match=r"packages\[0\] \(x\): missing 'upstream'"):
        poll_and_queue([{"project": "x"}], release="zed", db_path=str(tmp_path / "s.db"), mirror_dir=str(tmp_path))


def test_a_dry_run_fetches_nothing_and_takes_details_from_mirrors_that_have_them(world):
    tmp, pkgs = world
    cache = tmp / "cache"
    dry = poll(pkgs, {}, mirror_dir=str(cache), fetch=False)
    assert [p.project for p in dry.changed] == ["alpha", "beta"] and dry.errors == []
    assert dry.packages[0].commit is None and not cache.exists()
    poll(pkgs, {}, mirror_dir=str(cache))  # a real poll fills the mirrors
    commit(tmp / "up" / "alpha", "alpha third", T0 + 600)
    listing = sorted(str(p) for p in cache.rglob("*"))
    again = poll(pkgs, {}, mirror_dir=str(cache), fetch=False)
    alpha, beta = again.packages
    assert alpha.commit is None and alpha.distgit_commit.subject == "alpha spec"  # the new commit is not mirrored
    assert beta.commit.subject == "beta second"
    assert sorted(str(p) for p in cache.rglob("*")) == listing


def test_a_fetch_into_a_mirror_shows_its_objects_all_at_once(tmp_path):
    """Builds read mirrors without the lock: a fetch must not unpack loose objects a reader could see half-written."""
    upstream = init(tmp_path / "up")
    first = commit(upstream, "one", 1_700_000_000)
    mirror = srcgit.ensure_commit(str(tmp_path / "git"), f"file://{upstream}", first)
    second = commit(upstream, "two", 1_700_000_100, {"b.txt": "b"})
    assert srcgit.ensure_commit(str(tmp_path / "git"), f"file://{upstream}", second) == mirror
    loose = list((Path(mirror) / "objects").glob("??/*"))
    assert loose == [], "fetched objects were unpacked one by one"
    assert list((Path(mirror) / "objects" / "pack").glob("*.idx"))
