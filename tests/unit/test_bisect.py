"""The bisect engine: commits between two points in landing order, the search, resuming, and its one-line refusals."""

import math
from types import SimpleNamespace

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import NewCommit, StateDB
from ansible_collections.distroforge.openstack.plugins.module_utils._triage import bisect as bs

from .gitrepos import commit, git, init

T0 = 1_700_000_000


def info(sha, when, subject="change"):
    return SimpleNamespace(commit_hash=sha, commit_time=when, author="A <a@example.org>", subject=subject)


def plan(n):
    candidates = [bs.Candidate("nova", "upstream", f"{i:040x}", T0 + i, "A", f"change {i}") for i in range(n)]
    return bs.Bisect("test", "master", {"nova": {"commit_hash": "0" * 40}}, "bad_1", "good_0", candidates)


def run_to_the_end(bisect, first_bad, skips=()):
    """Answer every step as a planted bad commit at ``first_bad`` would; returns the steps run."""
    steps = 0
    while (index := bisect.next_index()) is not None:
        steps += 1
        outcome = "skip" if index in skips else ("bad" if index >= first_bad else "good")
        assert bisect.record(index, outcome, repo_hash=f"hash{index}")
    return steps


def test_order_merges_repositories_by_landing_time_and_keeps_each_repositorys_order():
    changes = {
        ("nova", "upstream"): [info("n1", 10), info("n2", 30), info("n3", 25)],  # n3 rebased: older date, later
        ("nova", "distgit"): [info("d1", 20)],
        ("glance", "upstream"): [info("g1", 30), info("g2", 40)],
    }
    merged = [(c.project, c.side, c.commit_hash) for c in bs.order(changes)]
    assert merged == [
        ("nova", "upstream", "n1"),
        ("nova", "distgit", "d1"),
        ("glance", "upstream", "g1"),  # same time as n2: by project
        ("nova", "upstream", "n2"),
        ("nova", "upstream", "n3"),
        ("glance", "upstream", "g2"),
    ]
    assert [c.commit_hash for c in bs.order(dict(reversed(list(changes.items()))))] == [h for _p, _s, h in merged]


@pytest.mark.parametrize("size", [1, 2, 5, 16, 33])
def test_every_planted_culprit_is_found_in_at_most_log2_steps(size):
    for first_bad in range(size):
        bisect = plan(size)
        steps = run_to_the_end(bisect, first_bad)
        assert [c.commit_hash for c in bisect.culprits()] == [f"{first_bad:040x}"]
        assert steps <= math.ceil(math.log2(size)) == bisect.max_steps() or size == 1
        verdict = bisect.verdict()
        assert verdict["done"] and not verdict["ambiguous"] and verdict["first_bad_state"] == first_bad
        assert verdict["bad_evidence"]["repo_hash"] == (f"hash{first_bad}" if first_bad < size - 1 else "bad_1")


def test_skipped_states_leave_the_culprits_in_question_like_git_bisect_skip():
    bisect = plan(16)
    run_to_the_end(bisect, first_bad=9, skips={7, 8})
    culprits = [c.commit_hash for c in bisect.culprits()]
    assert culprits == [f"{i:040x}" for i in (7, 8, 9)] and bisect.verdict()["ambiguous"]


def test_a_recorded_step_is_not_run_again_and_contradictions_are_refused():
    bisect = plan(8)
    index = bisect.next_index()
    assert bisect.record(index, "bad") is True
    assert bisect.record(index, "bad") is False  # a re-run of the same step changes nothing
    with pytest.raises(InputError, match=rf"bisect step {index}: already recorded as bad, now good"):
        bisect.record(index, "good")
    with pytest.raises(InputError, match=r"judged good but state .* before it bad.*flaky"):
        bisect.record(index + 1, "good")
    with pytest.raises(InputError, match=r"out of range 0..7"):
        bisect.record(8, "bad")
    with pytest.raises(InputError, match="outcome must be one of good, bad, skip"):
        plan(8).record(1, "maybe")


def test_the_plan_survives_a_stop_and_resumes(tmp_path):
    path = tmp_path / "bisect.json"
    bisect = plan(16)
    bisect.record(bisect.next_index(), "good", evidence={"tests": ["t1"]})
    assert bisect.save(path) is True and bisect.save(path) is False
    again = bs.Bisect.load(path)
    assert again.as_dict() == bisect.as_dict() and again.next_index() == bisect.next_index()
    run_to_the_end(again, first_bad=12)
    assert [c.commit_hash for c in again.culprits()] == [f"{12:040x}"]
    path.write_text("{not json")
    with pytest.raises(InputError, match=r"bisect.json: not a readable bisect plan .*remove it to start a new bisect"):
        bs.Bisect.load(path)
    path.write_text('{"format": 1, "kind": "test"}')
    with pytest.raises(InputError, match="lacks or mangles 'release'"):
        bs.Bisect.load(path)


def test_states_apply_candidates_in_order():
    good = {"nova": {"commit_hash": "n0", "distro_hash": "d0"}, "glance": {"commit_hash": "g0", "distro_hash": "e0"}}
    candidates = [
        bs.Candidate("nova", "upstream", "n1", 1, "A", "s"),
        bs.Candidate("glance", "distgit", "e1", 2, "A", "s"),
        bs.Candidate("nova", "upstream", "n2", 3, "A", "s"),
    ]
    bisect = bs.Bisect("test", "master", good, "bad", "good", candidates)
    assert bisect.state(-1) == good
    assert bisect.state(1) == {
        "nova": {"commit_hash": "n1", "distro_hash": "d0"},
        "glance": {"commit_hash": "g0", "distro_hash": "e1"},
    }
    assert bisect.changed(0) == {"nova": {"commit_hash": "n1", "distro_hash": "d0"}}
    with pytest.raises(InputError, match="no commit lies between"):
        bs.Bisect("test", "master", good, "bad", "good", [])


# -- planning from a state DB and real git repositories --------------------------------------------


def _repo_with_history(tmp_path, name, count, start=0):
    repo = init(tmp_path / "src" / name)
    shas = [commit(repo, f"{name} change {i}", T0 + start + 100 * i) for i in range(count)]
    return repo, shas


def _build(db, project, release, sha, distro, *, status, when):
    (record,) = db.queue([NewCommit(project, release, sha, distro, when)])
    db.claim(record.id, "b1")
    db.finish(record.id, status, notes=None if status == "SUCCESS" else "error: planted")
    return db.get(record.id)


@pytest.fixture()
def farm(tmp_path):
    """A state DB knowing nova (17 upstream commits, one distgit commit) with a success at 0 and a failure at 16."""
    upstream, shas = _repo_with_history(tmp_path, "nova", 17)
    distgit, (packaging,) = _repo_with_history(tmp_path, "nova-distgit", 1)
    db = StateDB(tmp_path / "state.db")
    db.upsert_project("nova", upstream=f"file://{upstream}", distgit=f"file://{distgit}")
    good = _build(db, "nova", "master", shas[0], packaging, status="SUCCESS", when=T0)
    bad = _build(db, "nova", "master", shas[16], packaging, status="FAILED", when=T0 + 1600)
    yield SimpleNamespace(db=db, shas=shas, good=good, bad=bad, upstream=upstream, mirrors=str(tmp_path / "git"))
    db.close()


def test_a_build_bisect_plans_the_commits_between_the_last_success_and_the_failure(farm):
    bisect = bs.plan_build(farm.db, "nova", "master", farm.mirrors)  # from the FTBFS lifecycle
    assert [c.commit_hash for c in bisect.candidates] == farm.shas[1:]
    assert (bisect.good_repo_hash, bisect.bad_repo_hash) == (farm.good.repo_hash, farm.bad.repo_hash)
    assert [c.subject for c in bisect.candidates[:2]] == ["nova change 1", "nova change 2"]
    # the failure itself is the last state: the state DB already knows it, nothing is rebuilt
    known = bs.known_build_outcome(farm.db, bisect, 15)
    assert known.outcome == "bad" and known.reused and known.evidence["error"] == "error: planted"
    assert bs.known_build_outcome(farm.db, bisect, 3) is None


def test_bad_points_are_refused_in_one_line(farm, tmp_path):
    with pytest.raises(InputError, match=r"^bad: no build 'f{40}_x' in the state DB"):
        bs.plan_test(farm.db, farm.good.repo_hash, "f" * 40 + "_x", farm.mirrors)
    with pytest.raises(InputError, match=r"built after bad .* give an older good point"):
        bs.plan_test(farm.db, farm.bad.repo_hash, farm.good.repo_hash, farm.mirrors)
    other = _build(farm.db, "nova", "zed", farm.shas[3], farm.good.distro_hash, status="SUCCESS", when=T0 + 300)
    with pytest.raises(InputError, match=r"is a build of release zed, bad .* of master; give two points of the same"):
        bs.plan_test(farm.db, other.repo_hash, farm.bad.repo_hash, farm.mirrors)
    # a good commit on a branch the bad one does not contain
    git(farm.upstream, "checkout", "-q", "-b", "side", farm.shas[2])
    side = commit(farm.upstream, "side change", T0 + 5000)
    stray = _build(farm.db, "nova", "master", side, farm.good.distro_hash, status="SUCCESS", when=T0 + 5000)
    later = _build(farm.db, "nova", "master", farm.shas[16], "9" * 40, status="SUCCESS", when=T0 + 6000)
    with pytest.raises(InputError, match=r"the good commit \w{12} is not an ancestor of the bad one"):
        bs.plan_test(farm.db, stray.repo_hash, later.repo_hash, farm.mirrors)
    with pytest.raises(InputError, match="does not fail to build"):
        bs.plan_build(farm.db, "glance", "master", farm.mirrors)


def test_a_test_bisect_spans_every_package_that_moved(farm, tmp_path):
    glance, gshas = _repo_with_history(tmp_path, "glance", 3, start=50)
    distgit, (packaging,) = _repo_with_history(tmp_path, "glance-distgit", 1)
    farm.db.upsert_project("glance", upstream=f"file://{glance}", distgit=f"file://{distgit}")
    _build(farm.db, "glance", "master", gshas[0], packaging, status="SUCCESS", when=T0 + 50)
    good = _build(farm.db, "nova", "master", farm.shas[4], farm.good.distro_hash, status="SUCCESS", when=T0 + 400)
    _build(farm.db, "glance", "master", gshas[2], packaging, status="SUCCESS", when=T0 + 250)
    bad = _build(farm.db, "nova", "master", farm.shas[6], farm.good.distro_hash, status="SUCCESS", when=T0 + 600)
    bisect = bs.plan_test(farm.db, good.repo_hash, bad.repo_hash, farm.mirrors, tests=["tempest.api.identity.t1"])
    landed = [(c.project, c.commit_hash) for c in bisect.candidates]
    # glance 1 (T0+150), glance 2 (T0+250), nova 5 (T0+500), nova 6 (T0+600)
    assert landed == [("glance", gshas[1]), ("glance", gshas[2]), ("nova", farm.shas[5]), ("nova", farm.shas[6])]
    assert bisect.state(-1)["glance"]["commit_hash"] == gshas[0]
    assert bisect.changed(1) == {"glance": {"commit_hash": gshas[2], "distro_hash": packaging}}
    assert bisect.tests == ["tempest.api.identity.t1"]
