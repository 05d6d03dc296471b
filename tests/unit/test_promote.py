"""Votes and promotions on real published repositories: links, rows, criteria, crashes, batches, check mode."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest
import yaml

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._promote import journal
from ansible_collections.distroforge.openstack.plugins.module_utils._promote.criteria import (
    Criteria,
    decide,
    evaluate,
    parse_target,
    promote_by_criteria,
    require_criteria,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._promote.errors import (
    Conflict,
    CriteriaNotMet,
    ForbiddenLabel,
    InvalidRequest,
    PurgedHash,
    UnknownHash,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._promote.promote import (
    PromoteItem,
    promote,
    promote_batch,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._promote.votes import Vote, record_vote
from ansible_collections.distroforge.openstack.plugins.module_utils._publish import layout as layout_mod
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.publisher import Publisher, PublishOptions
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB, VoteRecord

from .pkgfactory import add_build, artifacts_dir, build_rpm

TOP = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # builds tiny RPMs with rpmbuild


@pytest.fixture(scope="module")
def rpms(tmp_path_factory):
    work = tmp_path_factory.mktemp("rpms")
    return {name: build_rpm(work, name) for name in ("alpha", "beta", "gamma")}


class Site:
    """A state DB and a published repos/ tree, as the repo server has them."""

    def __init__(self, tmp_path: Path, rpms, *, use_components: bool = False) -> None:
        self.tmp = tmp_path
        self.rpms = rpms
        self.db = StateDB(tmp_path / "state.db")
        self.publisher = Publisher(
            PublishOptions(repos_dir=tmp_path / "repos", sign=False, use_components=use_components, report=False),
            self.db,
        )
        self.layout = self.publisher.layout
        self.repos = self.layout.repos_dir
        self.seq = 0

    def build(self, name: str, *, component: str | None = None, status: str = "SUCCESS"):
        """Build and publish one commit of ``name``; returns its state DB record."""
        record = add_build(self.db, name, self.seq, component=component, status=status)
        self.seq += 1
        if status == "SUCCESS":
            self.publisher.publish(record.id, artifacts_dir(self.tmp, self.rpms[name]))
        else:
            log = self.tmp / f"fail-{record.id}.log"
            log.write_text("error\n")
            self.publisher.publish(record.id, None, log)
        return self.db.get(record.id)

    def vote(self, record, job: str, success: bool = True, timestamp: int = 1, **kw):
        return record_vote(
            self.db,
            Vote(
                job, success, commit_hash=record.commit_hash, distro_hash=record.distro_hash, timestamp=timestamp, **kw
            ),
            layout=self.layout,
        )

    def link(self, rel: str) -> str | None:
        try:
            return os.readlink(self.repos / rel)
        except FileNotFoundError:
            return None

    def snapshot(self) -> dict:
        """Every path under repos/ with its link target or size and mtime, and the DB file's bytes."""
        tree = {}
        for path in sorted(self.repos.rglob("*")):
            if path.is_symlink():
                tree[str(path)] = ("link", os.readlink(path))
            else:
                info = path.lstat()
                tree[str(path)] = ("entry", info.st_size, info.st_mtime_ns)
        # The -shm file is SQLite's shared memory index, which every reader updates; it holds no data.
        db_files = {p.name: p.read_bytes() for p in self.tmp.glob("state.db*") if not p.name.endswith("-shm")}
        return {"tree": tree, "db": db_files}


@pytest.fixture
def site(tmp_path, rpms):
    made = Site(tmp_path, rpms)
    yield made
    made.db.close()


def _rows(db: StateDB) -> list[tuple[str, str]]:
    return [(row.label, row.ref_hash) for row in reversed(db.promotions())]


def _dangling(repos: Path) -> list[str]:
    return [str(p) for p in repos.rglob("*") if p.is_symlink() and not p.exists()]


# -- votes ---------------------------------------------------------------------------------------------


def test_a_vote_is_recorded_once_in_dlrn_shape(site):
    alpha = site.build("alpha")
    first = site.vote(alpha, "scenario001", url="https://ci/1", notes="ok", user="ci", timestamp=100)
    assert first.changed and first.ref_hash == alpha.repo_hash
    assert first.vote == {
        "commit_hash": alpha.commit_hash,
        "distro_hash": alpha.distro_hash,
        "extended_hash": None,
        "aggregate_hash": None,
        "timestamp": 100,
        "job_id": "scenario001",
        "success": True,
        "in_progress": False,
        "url": "https://ci/1",
        "notes": "ok",
        "user": "ci",
        "component": None,
    }
    # The same vote again (the 8-character distro hash of the repo name is enough) changes nothing.
    again = record_vote(
        site.db,
        Vote("scenario001", True, commit_hash=alpha.commit_hash, distro_hash=alpha.distro_hash[:8], timestamp=100),
    )
    assert not again.changed and again.vote["url"] == "https://ci/1"
    # A different result, or a later run, is a new vote; in-progress votes are DLRN's last_tested_repo POST.
    assert site.vote(alpha, "scenario001", False, timestamp=100).changed
    assert site.vote(alpha, "scenario001", True, timestamp=200).changed
    running = site.vote(alpha, "scenario002", False, timestamp=300, in_progress=True)
    assert running.changed and running.vote["in_progress"] is True and running.vote["success"] is False
    votes = [v for v in site.db.votes(alpha.repo_hash) if v.job_id != "consistent"]  # the publisher's own vote
    assert [(v.job_id, v.success, v.in_progress) for v in votes] == [
        ("scenario001", True, False),
        ("scenario001", False, False),
        ("scenario001", True, False),
        ("scenario002", False, True),
    ]


@pytest.mark.parametrize(
    ("change", "error", "status", "message"),
    [
        ({"aggregate_hash": "a" * 32}, InvalidRequest, 400, "aggregate_hash and commit_hash/distro_hash cannot be"),
        ({"distro_hash": None}, InvalidRequest, 400, "distro_hash is missing"),
        ({"commit_hash": None}, InvalidRequest, 400, "commit_hash is missing"),
        ({"commit_hash": "f" * 40}, UnknownHash, 400, "not found in the state DB"),
        ({"distro_hash": "e" * 8}, UnknownHash, 400, "not found in the state DB"),
        ({"distro_hash": "abc"}, InvalidRequest, 400, "distro_hash must be .* at least 8"),
        ({"commit_hash": "../../etc"}, InvalidRequest, 400, "commit_hash must be .*hexadecimal"),
        ({"extended_hash": "1234abcd"}, UnknownHash, 400, "have no extended hash"),
        ({"job_id": "consistent"}, InvalidRequest, 400, "job_id 'consistent' is the vote a build makes"),
        ({"job_id": " "}, InvalidRequest, 400, "job_id must be a non-empty string"),
        ({"success": "true"}, InvalidRequest, 400, "success must be true or false"),
        ({"in_progress": True}, InvalidRequest, 400, "an in-progress vote cannot be a success"),
        ({"timestamp": -1}, InvalidRequest, 400, "timestamp must be epoch seconds"),
        ({"url": 5}, InvalidRequest, 400, "url must be a string"),
    ],
)
def test_bad_votes_are_refused_in_one_line_and_write_nothing(site, change, error, status, message):
    alpha = site.build("alpha")
    fields = {
        "job_id": "scenario001",
        "success": True,
        "commit_hash": alpha.commit_hash,
        "distro_hash": alpha.distro_hash,
        "timestamp": 5,
        **change,
    }
    before = site.db.votes(alpha.repo_hash)
    with pytest.raises(error, match=message) as caught:
        record_vote(site.db, Vote(**fields), layout=site.layout)
    assert caught.value.http_status == status and "\n" not in str(caught.value)
    assert site.db.votes(alpha.repo_hash) == before


def test_votes_on_failed_purged_and_aggregate_hashes(site):
    failed = site.build("alpha", status="FAILED")
    with pytest.raises(UnknownHash, match=r"its build is FAILED, only successful builds get votes"):
        site.vote(failed, "scenario001")
    beta = site.build("beta")
    with site.db.writer() as conn:  # what repo_purge does to a purged build
        conn.execute("UPDATE commits SET flags = flags | ? WHERE id = ?", (layout_mod.FLAG_PURGED, beta.id))
    with pytest.raises(PurgedHash, match=r"has been purged: use a newer build") as caught:
        site.vote(beta, "scenario001")
    assert caught.value.http_status == 410
    with pytest.raises(UnknownHash, match=r"aggregate_hash 0{32} not found"):
        record_vote(site.db, Vote("job", True, aggregate_hash="0" * 32))
    with pytest.raises(InvalidRequest, match=r"aggregate_hash must be an md5"):
        record_vote(site.db, Vote("job", True, aggregate_hash="../x"))


def test_vote_check_mode_opens_the_db_read_only_and_writes_nothing(site):
    alpha = site.build("alpha")
    before = site.snapshot()
    with StateDB(site.tmp / "state.db", readonly=True) as ro:
        result = record_vote(
            ro,
            Vote("scenario001", True, commit_hash=alpha.commit_hash, distro_hash=alpha.distro_hash, timestamp=9),
            check_mode=True,
        )
        assert result.changed and result.vote["timestamp"] == 9
        with pytest.raises(InputError, match="read-only"):
            record_vote(ro, Vote("scenario001", True, commit_hash=alpha.commit_hash, distro_hash=alpha.distro_hash))
    assert site.snapshot() == before
    site.vote(alpha, "scenario001", timestamp=9)
    with StateDB(site.tmp / "state.db", readonly=True) as ro:
        again = record_vote(
            ro,
            Vote("scenario001", True, commit_hash=alpha.commit_hash, distro_hash=alpha.distro_hash, timestamp=9),
            check_mode=True,
        )
    assert not again.changed


# -- criteria: the truth table --------------------------------------------------------------------------


def _v(job, success, timestamp, vote_id, in_progress=False):
    return VoteRecord(vote_id, "h", False, 1, job, success, in_progress, f"https://ci/{vote_id}", None, None, timestamp)


CRITERIA = Criteria(
    label="puppet-passed-ci",
    candidate_label="consistent",
    criteria=("scenario001", "scenario002"),
    alternative_criteria={"scenario002": ("scenario002-ipv6", "scenario002-el9")},
)


@pytest.mark.parametrize(
    ("votes", "ok", "failed", "missing"),
    [
        ([], False, [], ["scenario001", "scenario002 (or scenario002-ipv6, scenario002-el9)"]),
        ([_v("scenario001", True, 1, 1), _v("scenario002", True, 1, 2)], True, [], []),
        ([_v("scenario001", True, 1, 1)], False, [], ["scenario002 (or scenario002-ipv6, scenario002-el9)"]),
        # An alternative stands in for the required job, whichever of them it is.
        ([_v("scenario001", True, 1, 1), _v("scenario002-el9", True, 1, 2)], True, [], []),
        ([_v("scenario001", True, 1, 1), _v("scenario002", False, 1, 2), _v("scenario002-ipv6", True, 2, 3)], True,
         [], []),
        # Alternatives count only for the job they are listed under.
        ([_v("scenario001-ipv6", True, 1, 1), _v("scenario002", True, 1, 2)], False, [], ["scenario001"]),
        # A later failure of the same job wins over its earlier success...
        ([_v("scenario001", True, 1, 1), _v("scenario001", False, 2, 2), _v("scenario002", True, 1, 3)], False,
         ["scenario001 [scenario001 https://ci/2]"], []),
        # ...and a later success (a recheck) over an earlier failure.
        ([_v("scenario001", False, 1, 1), _v("scenario001", True, 2, 2), _v("scenario002", True, 1, 3)], True, [], []),
        # Votes are ordered by their timestamp, not by when they were recorded.
        ([_v("scenario001", False, 5, 2), _v("scenario001", True, 3, 3), _v("scenario002", True, 1, 4)], False,
         ["scenario001 [scenario001 https://ci/2]"], []),
        # Same timestamp: the one recorded last wins.
        ([_v("scenario001", True, 4, 7), _v("scenario001", False, 4, 8), _v("scenario002", True, 1, 9)], False,
         ["scenario001 [scenario001 https://ci/8]"], []),
        # In-progress votes never count, neither as success nor as failure.
        ([_v("scenario001", False, 9, 1, in_progress=True), _v("scenario002", True, 1, 2)], False, [], ["scenario001"]),
        ([_v("scenario001", True, 1, 1), _v("scenario001", False, 9, 2, True), _v("scenario002", True, 1, 3)], True,
         [], []),
        # Other jobs' votes (and the build's own "consistent" vote) do not count.
        ([_v("consistent", True, 1, 1), _v("scenario003", True, 1, 2)], False, [],
         ["scenario001", "scenario002 (or scenario002-ipv6, scenario002-el9)"]),
    ],
)  # fmt: skip
def test_criteria_truth_table(votes, ok, failed, missing):
    verdict = evaluate(votes, CRITERIA)
    assert (verdict.ok, verdict.failed, verdict.missing) == (ok, failed, missing)


def test_running_jobs_are_named_in_the_reason():
    verdict = evaluate([_v("scenario001", False, 9, 1, in_progress=True), _v("scenario002", True, 1, 2)], CRITERIA)
    assert verdict.reason() == "no vote: scenario001; running: scenario001"


# -- criteria data ------------------------------------------------------------------------------------


def targets_of(data: dict) -> dict:
    """Each target of a criteria file's data, read as repo_promote reads the one promote.yml gives it."""
    return {
        label: parse_target(label, entry, f"promotion.yml: promotions.{label}")
        for label, entry in data["promotions"].items()
    }


def test_the_example_criteria_file_parses():
    # promote.yml reads the file with include_vars and gives repo_promote one target at a time
    data = yaml.safe_load((TOP / "examples" / "distro" / "promotion.yml").read_text())
    targets = targets_of(data)
    target = targets["puppet-passed-ci"]
    assert (target.candidate_label, target.criteria) == ("consistent", ("distroforge-pipeline-scenario001",))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"promotions": {"current": {"candidate_label": "consistent", "criteria": ["j"]}}}, r"moved by every build"),
        ({"promotions": {"../x": {"candidate_label": "consistent", "criteria": ["j"]}}}, r"not a label name"),
        ({"promotions": {"x": {"candidate_label": "current", "criteria": ["j"]}}}, r"candidate_label 'current'"),
        ({"promotions": {"x": {"candidate_label": "x", "criteria": ["j"]}}}, r"is the target label"),
        ({"promotions": {"x": {"candidate_label": "consistent", "criteria": []}}}, r"criteria is empty"),
        ({"promotions": {"x": {"candidate_label": "consistent", "criteria": "j"}}}, r"criteria must be a list"),
        ({"promotions": {"x": {"candidate_label": "consistent", "criterias": ["j"]}}}, r"unknown key\(s\) criterias"),
        ({"promotions": {"x": {"candidate_label": "consistent", "criteria": ["j"],
                               "alternative_criteria": {"k": ["l"]}}}},
         r"alternative_criteria.k: 'k' is not in criteria"),
        ({"promotions": {"x": {"candidate_label": "consistent", "criteria": ["j"], "latest_hashes_count": 0}}},
         r">= 1"),
    ],
)  # fmt: skip
def test_bad_criteria_name_the_file_and_field(data, message):
    with pytest.raises(InputError, match=message) as caught:
        targets_of(data)
    assert str(caught.value).startswith("promotion.yml") and "\n" not in str(caught.value)


# -- promote ---------------------------------------------------------------------------------------------


def test_promote_moves_a_relative_link_keeps_previous_and_records_rows(site):
    alpha = site.build("alpha")
    beta = site.build("beta")
    first = promote(site.db, site.layout, alpha.commit_hash, alpha.distro_hash, "puppet-passed-ci", user="ops")
    target = f"{alpha.commit_hash[:2]}/{alpha.commit_hash[2:4]}/{alpha.repo_hash}"
    assert site.link("puppet-passed-ci") == target and (site.repos / "puppet-passed-ci" / "commit.yaml").is_file()
    assert site.link("previous-puppet-passed-ci") is None  # nothing to keep yet
    assert first.dlrn() == {
        "commit_hash": alpha.commit_hash,
        "distro_hash": alpha.distro_hash,
        "extended_hash": None,
        "repo_hash": alpha.repo_hash,
        "repo_url": f"file://{site.repos}/{target}",
        "promote_name": "puppet-passed-ci",
        "component": None,
        "timestamp": first.timestamp,
        "user": "ops",
        "aggregate_hash": None,
    }
    second = promote(site.db, site.layout, beta.commit_hash, beta.distro_hash, "puppet-passed-ci", user="ops")
    assert second.changed and second.moves[0].previous == alpha.repo_hash
    assert site.link("puppet-passed-ci").endswith(beta.repo_hash)
    assert site.link("previous-puppet-passed-ci") == target
    assert _rows(site.db) == [
        ("puppet-passed-ci", alpha.repo_hash),
        ("previous-puppet-passed-ci", alpha.repo_hash),
        ("puppet-passed-ci", beta.repo_hash),
    ]
    assert {row.user for row in site.db.promotions()} == {"ops"}
    # Promoting it where it already points changes nothing, not even a row.
    again = promote(site.db, site.layout, beta.commit_hash, beta.distro_hash, "puppet-passed-ci")
    assert not again.changed and not again.moves[0].changed and len(site.db.promotions()) == 3
    assert not journal.journal_path(site.layout).exists() and _dangling(site.repos) == []


@pytest.mark.parametrize(
    "label",
    ["current", "consistent", "../x", "x/../../y", "/etc", ".hidden", "previous-x", "", "component", "ab", "a b",
     "x" * 256],
)  # fmt: skip
def test_forbidden_labels_are_refused_with_403_and_nothing_moves(site, label):
    alpha = site.build("alpha")
    before = site.snapshot()
    with pytest.raises(ForbiddenLabel) as caught:
        promote(site.db, site.layout, alpha.commit_hash, alpha.distro_hash, label)
    assert caught.value.http_status == 403 and "\n" not in str(caught.value)
    assert site.snapshot() == before


def test_a_label_that_is_a_real_directory_is_refused(site):
    alpha = site.build("alpha")
    (site.repos / "handmade").mkdir()
    with pytest.raises(ForbiddenLabel, match=r"handmade is a real file or directory"):
        promote(site.db, site.layout, alpha.commit_hash, alpha.distro_hash, "handmade")


def test_unknown_unpublished_and_purged_builds_are_not_promoted(site):
    alpha = site.build("alpha")
    with pytest.raises(UnknownHash, match="not found in the state DB"):
        promote(site.db, site.layout, "f" * 40, alpha.distro_hash, "x")
    (queued,) = site.db.queue([{**_new_commit("zeta"), "dt_commit": 5}])
    with pytest.raises(UnknownHash, match="its build is QUEUED"):
        promote(site.db, site.layout, queued.commit_hash, queued.distro_hash, "x")
    os.rename(site.repos / alpha.repo_path, site.tmp / "aside")
    with pytest.raises(UnknownHash, match=r"is not published .*publish it first"):
        promote(site.db, site.layout, alpha.commit_hash, alpha.distro_hash, "x")
    with site.db.writer() as conn:
        conn.execute("UPDATE commits SET flags = flags | ? WHERE id = ?", (layout_mod.FLAG_PURGED, alpha.id))
    with pytest.raises(PurgedHash):
        promote(site.db, site.layout, alpha.commit_hash, alpha.distro_hash, "x")
    assert site.db.promotions() == [] and site.link("x") is None


def _new_commit(project):
    digest = hashlib.sha1(project.encode()).hexdigest()
    return {"project": project, "release": "master", "commit_hash": digest, "distro_hash": digest[::-1]}


def test_compare_and_swap_refuses_a_label_moved_meanwhile(site):
    alpha, beta, gamma = site.build("alpha"), site.build("beta"), site.build("gamma")
    promote(site.db, site.layout, alpha.commit_hash, alpha.distro_hash, "l", expect="")  # expected unset: it is
    with pytest.raises(Conflict, match=r"label l was expected to be unset but points at") as caught:
        promote(site.db, site.layout, beta.commit_hash, beta.distro_hash, "l", expect="")
    assert caught.value.http_status == 409
    with pytest.raises(Conflict, match=rf"label l points at {alpha.repo_hash}, not {beta.repo_hash}: it moved"):
        promote(site.db, site.layout, gamma.commit_hash, gamma.distro_hash, "l", expect=beta.repo_hash)
    assert site.link("l").endswith(alpha.repo_hash) and len(site.db.promotions()) == 1
    # The commit hash alone, or the full repo hash, names where it must point.
    promote(site.db, site.layout, beta.commit_hash, beta.distro_hash, "l", expect=alpha.commit_hash)
    assert site.link("l").endswith(beta.repo_hash)
    # Someone moves the link by hand: the DB says beta, the link says alpha.
    os.unlink(site.repos / "l")
    os.symlink(os.path.relpath(site.repos / alpha.repo_path, site.repos), site.repos / "l")
    with pytest.raises(Conflict, match=r"points at .* but its last promotion in the state DB is .*promote with force"):
        promote(site.db, site.layout, gamma.commit_hash, gamma.distro_hash, "l")
    assert site.link("l").endswith(alpha.repo_hash)
    forced = promote(site.db, site.layout, gamma.commit_hash, gamma.distro_hash, "l", force=True)
    assert forced.moves[0].previous == alpha.repo_hash and site.link("l").endswith(gamma.repo_hash)


def test_promote_check_mode_writes_nothing(site):
    alpha = site.build("alpha")
    beta = site.build("beta")
    promote(site.db, site.layout, alpha.commit_hash, alpha.distro_hash, "l")
    (site.repos / ".publish.lock").unlink()
    before = site.snapshot()
    with StateDB(site.tmp / "state.db", readonly=True) as ro:
        result = promote(ro, site.layout, beta.commit_hash, beta.distro_hash, "l", check_mode=True)
    assert (
        result.changed and result.moves[0].previous == alpha.repo_hash and result.moves[0].repo_hash == beta.repo_hash
    )
    assert site.snapshot() == before and not (site.repos / ".publish.lock").exists()


def test_a_failure_before_the_commit_puts_every_link_back(site):
    alpha, beta = site.build("alpha"), site.build("beta")
    promote(site.db, site.layout, alpha.commit_hash, alpha.distro_hash, "l")
    rows = _rows(site.db)

    def fail_after_links(step):
        if step == "links":
            raise sqlite3.OperationalError("disk I/O error")

    with pytest.raises(sqlite3.OperationalError):
        promote(site.db, site.layout, beta.commit_hash, beta.distro_hash, "l", on_step=fail_after_links)
    assert site.link("l").endswith(alpha.repo_hash) and site.link("previous-l") is None
    assert _rows(site.db) == rows and not journal.journal_path(site.layout).exists()


CRASH_STEPS = ["rows", "journal", "link l", "link previous-l", "links", "committed"]


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_a_crash_between_the_steps_is_repaired_by_the_next_promotion(site, step):
    """The process dies (os._exit: no cleanup, no commit) at each step; labels and rows agree afterwards."""
    alpha, beta, gamma = site.build("alpha"), site.build("beta"), site.build("gamma")
    promote(site.db, site.layout, alpha.commit_hash, alpha.distro_hash, "l")
    site.db.close()
    pid = os.fork()
    if pid == 0:  # the promoting process

        def die(at):
            if at == step:
                os._exit(137)

        db = StateDB(site.tmp / "state.db")
        promote(db, site.layout, beta.commit_hash, beta.distro_hash, "l", on_step=die)
        os._exit(0)
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 137
    site.db = StateDB(site.tmp / "state.db")
    committed = step == "committed"
    assert journal.journal_path(site.layout).exists() == (step != "rows")
    # The next promotion (of another label) first finishes or undoes the interrupted one.
    other = promote(site.db, site.layout, gamma.commit_hash, gamma.distro_hash, "other")
    if step == "rows":
        assert other.recovered is None
    else:
        assert other.recovered.startswith("finished" if committed else "rolled back")
    expected = beta if committed else alpha
    assert site.link("l").endswith(expected.repo_hash)
    assert site.db.promotions("l", limit=1)[0].ref_hash == expected.repo_hash
    assert (site.link("previous-l") is not None) == committed
    assert not journal.journal_path(site.layout).exists() and _dangling(site.repos) == []
    assert site.db.integrity_check() == "ok"


# -- criteria-driven promotion ----------------------------------------------------------------------------


def test_promote_by_criteria_takes_the_newest_candidate_that_passed(site):
    target = Criteria("puppet-passed-ci", "consistent", ("scenario001",))
    alpha, beta, gamma = site.build("alpha"), site.build("beta"), site.build("gamma")
    decision, result = promote_by_criteria(site.db, site.layout, target, user="promoter")
    assert result is None and decision.chosen is None
    assert [c.status for c in decision.candidates] == ["criteria not met"] * 3
    assert decision.reason.startswith("puppet-passed-ci: none of 3 newer consistent hash(es) meets the criteria")
    site.vote(alpha, "scenario001", True, timestamp=10)
    site.vote(beta, "scenario001", True, timestamp=10)
    site.vote(beta, "scenario001", False, timestamp=20)  # beta's later run failed
    decision, result = promote_by_criteria(site.db, site.layout, target, user="promoter")
    assert [(c.ref_hash, c.status) for c in decision.candidates] == [
        (gamma.repo_hash, "criteria not met"),
        (beta.repo_hash, "criteria not met"),
        (alpha.repo_hash, "chosen"),
    ]
    assert decision.candidates[1].reason == "failed: scenario001"
    assert result.changed and site.link("puppet-passed-ci").endswith(alpha.repo_hash)
    # Only newer hashes are candidates: alpha itself is not examined again.
    site.vote(gamma, "scenario001", True, timestamp=30)
    decision, result = promote_by_criteria(site.db, site.layout, target)
    assert [c.ref_hash for c in decision.candidates] == [gamma.repo_hash] and decision.current == alpha.repo_hash
    assert site.link("puppet-passed-ci").endswith(gamma.repo_hash)
    assert site.link("previous-puppet-passed-ci").endswith(alpha.repo_hash)
    decision, result = promote_by_criteria(site.db, site.layout, target)
    assert result is None and decision.reason == f"puppet-passed-ci: no consistent hash newer than {gamma.repo_hash}"
    # A chain: a second target takes the first one's label as its candidates.
    chained = Criteria("current-passed", "puppet-passed-ci", ("tempest",))
    site.vote(gamma, "tempest", True, timestamp=40)
    decision, result = promote_by_criteria(site.db, site.layout, chained)
    assert decision.chosen.ref_hash == gamma.repo_hash and site.link("current-passed").endswith(gamma.repo_hash)


def test_purged_candidates_are_skipped(site):
    target = Criteria("l", "consistent", ("scenario001",))
    alpha, beta = site.build("alpha"), site.build("beta")
    for record in (alpha, beta):
        site.vote(record, "scenario001", True, timestamp=10)
    with site.db.writer() as conn:
        conn.execute("UPDATE commits SET flags = flags | ? WHERE id = ?", (layout_mod.FLAG_PURGED, beta.id))
    decision = decide(site.db, site.layout, target)
    assert [(c.ref_hash, c.status, c.reason) for c in decision.candidates] == [
        (beta.repo_hash, "skipped", "purged"),
        (alpha.repo_hash, "chosen", "passed: scenario001"),
    ]


def test_a_label_moved_between_decision_and_promotion_is_not_overwritten(site):
    target = Criteria("l", "consistent", ("scenario001",))
    alpha, beta = site.build("alpha"), site.build("beta")
    site.vote(beta, "scenario001", True, timestamp=10)
    decision = decide(site.db, site.layout, target)
    assert decision.chosen.ref_hash == beta.repo_hash
    promote(site.db, site.layout, alpha.commit_hash, alpha.distro_hash, "l")  # another promoter was faster
    with pytest.raises(Conflict, match=r"it moved meanwhile"):
        promote_batch(site.db, site.layout, decision.items)
    assert site.link("l").endswith(alpha.repo_hash)


def test_require_criteria_names_the_missing_and_failed_jobs(site):
    alpha = site.build("alpha")
    site.vote(alpha, "scenario001", False, timestamp=10, url="https://ci/7")
    with pytest.raises(CriteriaNotMet) as caught:
        require_criteria(site.db, CRITERIA, alpha.repo_hash)
    assert str(caught.value) == (
        f"{alpha.repo_hash} cannot become puppet-passed-ci: failed: scenario001 [scenario001 https://ci/7];"
        " no vote: scenario002 (or scenario002-ipv6, scenario002-el9)"
    )
    assert caught.value.http_status == 409


# -- components --------------------------------------------------------------------------------------------


@pytest.fixture
def components(tmp_path, rpms):
    made = Site(tmp_path, rpms, use_components=True)
    yield made
    made.db.close()


def _dlrn_aggregate(repos: Path, label: str) -> tuple[str, str]:
    """DLRN's aggregate_repo_files, restated: sorted components' <label>/delorean.repo, each + '\\n'; md5."""
    text = ""
    for component in sorted(p.name for p in (repos / "component").iterdir()):
        repo_file = repos / "component" / component / label / "delorean.repo"
        if repo_file.exists():
            text += repo_file.read_text() + "\n"
    return text, hashlib.md5(text.encode()).hexdigest()


def test_component_batch_moves_each_component_and_recomputes_the_aggregate(components):
    site = components
    alpha = site.build("alpha", component="common")
    beta = site.build("beta", component="network")
    result = promote_batch(
        site.db,
        site.layout,
        [
            PromoteItem("tripleo-ci-testing", alpha.commit_hash, alpha.distro_hash),
            PromoteItem("tripleo-ci-testing", beta.commit_hash, beta.distro_hash),
        ],
        user="ops",
    )
    # DLRN's relative link inside the component directory: no component/<c>/ prefix.
    assert (
        site.link("component/common/tripleo-ci-testing")
        == f"{alpha.commit_hash[:2]}/{alpha.commit_hash[2:4]}/{alpha.repo_hash}"
    )
    assert site.link("component/network/tripleo-ci-testing").endswith(beta.repo_hash)
    text, digest = _dlrn_aggregate(site.repos, "tripleo-ci-testing")
    assert result.aggregate_hashes == {"tripleo-ci-testing": digest}
    label_dir = site.repos / "tripleo-ci-testing"
    hashed = f"{digest[:2]}/{digest[2:4]}/{digest}"
    assert (label_dir / hashed / "delorean.repo").read_text() == text
    assert (label_dir / hashed / "delorean.repo.md5").read_text() == digest
    for name in ("delorean.repo", "delorean.repo.md5", "versions.csv"):
        assert os.readlink(label_dir / name) == f"{hashed}/{name}"
    csv_lines = (label_dir / "versions.csv").read_text().splitlines()
    assert csv_lines[0] == layout_mod.VERSIONS_HEADER and len(csv_lines) == 3
    # As DLRN: every row names its component; the batch's last row carries the aggregate hash.
    rows = list(reversed(site.db.promotions()))
    assert [(r.component, r.aggregate_hash) for r in rows] == [("common", None), ("network", digest)]
    assert result.dlrn()["aggregate_hash"] == digest and result.dlrn()["component"] == "network"
    # Votes on the aggregate are accepted once a promotion produced it.
    vote = record_vote(
        site.db, Vote("periodic-integration", True, aggregate_hash=digest, timestamp=3), layout=site.layout
    )
    assert vote.changed and vote.ref_hash == digest
    assert _dangling(site.repos) == []


def test_a_component_promotion_recomputes_the_aggregate_and_previous(components):
    site = components
    alpha = site.build("alpha", component="common")
    beta = site.build("beta", component="network")
    promote(site.db, site.layout, alpha.commit_hash, alpha.distro_hash, "l")
    first = promote(site.db, site.layout, beta.commit_hash, beta.distro_hash, "l")
    _text, digest = _dlrn_aggregate(site.repos, "l")
    assert first.moves[0].aggregate_hash == digest == first.dlrn()["aggregate_hash"]
    gamma = site.build("gamma", component="common")
    second = promote(site.db, site.layout, gamma.commit_hash, gamma.distro_hash, "l")
    _text, new_digest = _dlrn_aggregate(site.repos, "l")
    assert second.aggregate_hashes["l"] == new_digest != digest
    # previous-l in the common component keeps alpha, and previous-l's own aggregate follows.
    assert site.link("component/common/previous-l").endswith(alpha.repo_hash)
    _text, previous_digest = _dlrn_aggregate(site.repos, "previous-l")
    assert second.aggregate_hashes["previous-l"] == previous_digest
    assert os.readlink(site.repos / "previous-l" / "delorean.repo").startswith(previous_digest[:2])


def test_a_failed_batch_rolls_back_every_link(components):
    site = components
    alpha = site.build("alpha", component="common")
    beta = site.build("beta", component="network")
    promote_batch(
        site.db,
        site.layout,
        [
            PromoteItem("l", alpha.commit_hash, alpha.distro_hash),
            PromoteItem("l", beta.commit_hash, beta.distro_hash),
        ],
    )
    alpha2, beta2 = site.build("alpha", component="common"), site.build("beta", component="network")
    before = {rel: site.link(rel) for rel in ("component/common/l", "component/network/l", "l/delorean.repo",
                                              "l/delorean.repo.md5", "l/versions.csv")}  # fmt: skip
    rows = _rows(site.db)

    def block_second_link(step):
        # After the first link moved, something puts a real directory where the second link goes.
        if step == "link component/common/l":
            os.unlink(site.repos / "component/network/l")
            (site.repos / "component/network/l").mkdir()

    with pytest.raises(InputError, match=r"component/network/l is a real file or directory"):
        promote_batch(
            site.db,
            site.layout,
            [
                PromoteItem("l", alpha2.commit_hash, alpha2.distro_hash),
                PromoteItem("l", beta2.commit_hash, beta2.distro_hash),
            ],
            on_step=block_second_link,
        )
    (site.repos / "component/network/l").rmdir()
    os.symlink(before["component/network/l"], site.repos / "component/network/l")
    assert {rel: site.link(rel) for rel in before} == before
    assert site.link("component/common/previous-l") is None
    assert _rows(site.db) == rows and not journal.journal_path(site.layout).exists()


def test_a_batch_is_checked_whole_before_anything_moves(components):
    site = components
    alpha = site.build("alpha", component="common")
    beta = site.build("beta", component="network")
    before = site.snapshot()
    first = PromoteItem("l", alpha.commit_hash, alpha.distro_hash)
    bad = [
        [first, PromoteItem("current", beta.commit_hash, beta.distro_hash)],
        [first, PromoteItem("l", "f" * 40, beta.distro_hash)],
        [first, first],
    ]
    for items, error in zip(bad, (ForbiddenLabel, UnknownHash, InvalidRequest), strict=True):
        with pytest.raises(error):
            promote_batch(site.db, site.layout, items)
    after = site.snapshot()
    after["tree"].pop(str(site.repos / ".publish.lock"), None)
    before["tree"].pop(str(site.repos / ".publish.lock"), None)
    assert after == before


def test_aggregates_are_promoted_by_criteria_as_one_batch(components):
    site = components
    alpha = site.build("alpha", component="common")
    beta = site.build("beta", component="network")
    candidate = promote_batch(
        site.db,
        site.layout,
        [PromoteItem("promoted-components", r.commit_hash, r.distro_hash) for r in (alpha, beta)],
    ).aggregate_hashes["promoted-components"]
    target = Criteria("tripleo-ci-testing", "promoted-components", ("periodic-integration",))
    decision, result = promote_by_criteria(site.db, site.layout, target)
    assert result is None and decision.candidates[0].reason == "no vote: periodic-integration"
    record_vote(site.db, Vote("periodic-integration", True, aggregate_hash=candidate, timestamp=5), layout=site.layout)
    decision, result = promote_by_criteria(site.db, site.layout, target)
    assert decision.chosen.ref_hash == candidate
    # The same component builds make the same .repo text, hence the same aggregate hash.
    assert result.aggregate_hashes == {"tripleo-ci-testing": candidate}
    assert site.link("component/common/tripleo-ci-testing").endswith(alpha.repo_hash)
    decision, result = promote_by_criteria(site.db, site.layout, target)
    assert result is None and decision.current == candidate and decision.candidates == []
    with pytest.raises(InputError, match=r"with components, 'consistent' is per component"):
        decide(site.db, site.layout, Criteria("x", "consistent", ("j",)))
    per_component = Criteria("common-passed", "consistent", ("unit",), component="common")
    site.vote(alpha, "unit", True, timestamp=5)
    decision, result = promote_by_criteria(site.db, site.layout, per_component)
    assert decision.chosen.ref_hash == alpha.repo_hash and site.link("component/common/common-passed")
