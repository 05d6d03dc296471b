"""The run manifest and the verdict rule (_runs): schema, atomic write, reading every format, honest verdicts."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from pathlib import Path

import jsonschema
import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.distroforge.openstack.plugins.filter.run_verdict import run_verdict, tempest_verdict
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._runs import manifest, verdict

KS = ("3db1d55076c17a4aad91dfb11b915ed08e52c79b", "1ef8b25faf2d4e035f9b206c55ec5decdf39466f")
REPO_HASH = f"{KS[0]}_{KS[1][:8]}"
REPO_PATH = f"3d/b1/{REPO_HASH}"
HEADER = (
    "Project,Source Repo,Source Sha,Dist Repo,Dist Sha,Status,Last Success Timestamp,Component,Extended Sha,Pkg NVR"
)
PACKAGES = [HEADER, f"keystone,None,{KS[0]},None,{KS[1]},SUCCESS,1795681910,keystone,None,keystone_2:22.0.2-1"]
DEPLOY_PASSED = {"status": "passed", "scenario": "scenario001", "keystone_version": "2:22.0.2-1", "phases": []}
DEPLOY_FAILED = {"status": "failed", "scenario": "scenario001", "message": "puppet apply failed", "phases": []}
# tempest_run_summary as older tempest_results made it: its `success` counted a skipped test as a test.
TEMPEST_PASSES = {"total": 12, "passed": 10, "failed": 0, "skipped": 2, "flaky": 1, "success": True}
TEMPEST_FAILS = {"total": 12, "passed": 9, "failed": 1, "skipped": 2, "flaky": 0, "success": False}
TEMPEST_ALL_SKIPPED = {"total": 5, "passed": 0, "failed": 0, "skipped": 5, "flaky": 0, "success": True}
TEMPEST_NOTHING = {"total": 0, "failed": 0, "flaky": 0, "success": False, "corrupt": False, "failed_phases": []}
BUILT = {"project": "keystone", "status": "SUCCESS", "id": 7, "dt_commit": 100}
BUILD_FAILED = {"project": "keystone", "status": "FAILED", "id": 7, "dt_commit": 100}


PASSED_RUN = object()  # the default: the deploy and Tempest passed


def make(tmp_path: Path, *, deploy=PASSED_RUN, tempest=PASSED_RUN, builds=(BUILT,), **extra) -> manifest.Manifest:
    return manifest.build(
        tmp_path / "runs" / "20261126T085136Z" / "manifest.json",
        run_id="20261126T085136Z",
        release="zed",
        backend="dpkg",
        repo_path=REPO_PATH,
        repo_base_url="http://10.89.42.1:8088/repos",
        packages=PACKAGES,
        pkgdb="/srv/rdoinfo/rdo.yml",
        workdir=str(tmp_path),
        repos_dir=str(tmp_path / "repos"),
        build_results=builds,
        deploy=DEPLOY_PASSED if deploy is PASSED_RUN else deploy,
        tempest=TEMPEST_PASSES if tempest is PASSED_RUN else tempest,
        tempest_selection={"include": ["^tempest\\.api\\.identity\\."], "exclude": [], "skips": []},
        steps_not_built=["vote"],
        **extra,
    )


def last_line(run: manifest.Manifest, tmp_path: Path) -> str:
    return manifest.summary_lines(run, tmp_path / "manifest.json")[-1]


# -- the verdict rule ---------------------------------------------------------------------------

DEPLOYS = {"deploy passed": DEPLOY_PASSED, "deploy failed": DEPLOY_FAILED}
TEMPESTS = {"0 ran": TEMPEST_ALL_SKIPPED, "a test failed": TEMPEST_FAILS, "tests passed": TEMPEST_PASSES}
BUILDS = {"own build passed": (BUILT,), "own build failed": (BUILD_FAILED,)}


@pytest.mark.parametrize("build_name", list(BUILDS))
@pytest.mark.parametrize("tempest_name", list(TEMPESTS))
@pytest.mark.parametrize("deploy_name", list(DEPLOYS))
def test_verdict_truth_table(tmp_path, deploy_name, tempest_name, build_name):
    run = make(tmp_path, deploy=DEPLOYS[deploy_name], tempest=TEMPESTS[tempest_name], builds=BUILDS[build_name])
    hash_passed = deploy_name == "deploy passed" and tempest_name == "tests passed"
    own_failed = build_name == "own build failed"
    outcome = run.outcome
    assert run.verdict == ("passed" if hash_passed else "failed")
    assert (not run.reasons) == hash_passed, run.reasons
    assert run.tested_hash_is_older is own_failed
    assert outcome.run_passed is (hash_passed and not own_failed)
    if deploy_name == "deploy failed":
        assert "deploy failed: puppet apply failed" in run.reasons
    if tempest_name == "0 ran":
        assert "no tests ran (5 skipped)" in run.reasons
    if tempest_name == "a test failed":
        assert "1 test(s) failed" in run.reasons
    line = last_line(run, tmp_path)
    if own_failed:
        note = f"the build of keystone failed in this run; tested {REPO_HASH}, the last good repository, instead"
        assert run.tested_hash_note == note
        assert run.build_failed == ["keystone"]
        # never a bare PASSED (nor FAILED) for the older hash
        assert f"verdict for {REPO_HASH}:" not in line
        assert line.startswith(f"verdict: {note}: it {run.verdict.upper()}")
    else:
        assert run.tested_hash_note is None
        assert line.startswith(f"verdict for {REPO_HASH}: {run.verdict.upper()}")
    # the same outcome whichever adapter asks: the manifest written, and the filter reproduce.yml uses
    assert run_verdict(DEPLOYS[deploy_name], TEMPESTS[tempest_name])["verdict"] == run.verdict
    # and the Tempest half the tempest_run role, tempest.yml and the bisect judge with
    tempest_passed = tempest_verdict(TEMPESTS[tempest_name])["verdict"] == "passed"
    assert tempest_passed is (tempest_name == "tests passed")


@pytest.mark.parametrize(
    ("tempest", "failure", "reason"),
    [
        (TEMPEST_NOTHING | {"reason": "no subunit stream: Tempest did not start;"}, None, "no tests ran (no subunit"),
        ({}, None, "no tests ran"),
        ({}, "Could not find the admin credentials", "the Tempest step failed: Could not find the admin credentials"),
        (TEMPEST_PASSES | {"success": False, "timed_out": True}, None, "Tempest timed out"),
        (TEMPEST_PASSES | {"success": False, "corrupt": True}, None, "a subunit stream is damaged"),
        (TEMPEST_PASSES | {"success": False, "failed_phases": ["idempotency"]}, None, "failed phase(s): idempotency"),
        (TEMPEST_PASSES | {"failed": 0, "uxsuccess": 1, "success": False}, None, "1 test(s) failed"),
        (TEMPEST_PASSES | {"success": False, "reason": "rerun lost;"}, None, "rerun lost"),
        # counts that contradict a green flag still fail
        (TEMPEST_PASSES | {"failed": 2}, None, "2 test(s) failed"),
    ],
)
def test_every_way_tempest_can_fail_is_a_failure_with_its_reason(tmp_path, tempest, failure, reason):
    run = make(tmp_path, tempest=tempest, tempest_failure=failure)
    assert run.verdict == "failed"
    assert any(item.startswith(reason) for item in run.reasons), run.reasons


def test_zero_tests_is_not_a_pass_even_when_tempest_flags_success(tmp_path):
    # The old rule (deploy passed and tempest_run_summary.success) passed this run.
    run = make(tmp_path, tempest=TEMPEST_ALL_SKIPPED)
    assert TEMPEST_ALL_SKIPPED["success"] is True
    assert run.verdict == "failed"
    assert run.reasons == ["no tests ran (5 skipped)"]
    assert (
        last_line(run, tmp_path) == f"verdict for {REPO_HASH}: FAILED (no tests ran (5 skipped)); not built yet: vote"
    )


def test_every_skipped_test_is_no_test_run_for_every_adapter():
    """The rule on counts alone (what tempest_results' success is made of) and the filters agree."""
    assert verdict.test_reasons(total=5, skipped=5) == ["no tests ran (5 skipped)"]
    assert verdict.test_reasons(total=0) == ["no tests ran"]
    assert verdict.test_reasons(total=0, reason="no subunit stream: Tempest did not start;") == [
        "no tests ran (no subunit stream: Tempest did not start)"
    ]
    assert verdict.test_reasons(total=6, skipped=5) == []
    assert verdict.test_reasons(total=6, skipped=5, failed=1) == ["1 test(s) failed"]
    assert tempest_verdict(TEMPEST_ALL_SKIPPED) == {"verdict": "failed", "reasons": ["no tests ran (5 skipped)"]}
    assert tempest_verdict(TEMPEST_PASSES) == {"verdict": "passed", "reasons": []}
    assert tempest_verdict(TEMPEST_PASSES | {"timed_out": True}) == {
        "verdict": "failed",
        "reasons": ["Tempest timed out"],
    }
    assert tempest_verdict({}, "Could not find the admin credentials") == {
        "verdict": "failed",
        "reasons": ["the Tempest step failed: Could not find the admin credentials", "no tests ran"],
    }


def test_tempest_verdict_fails_in_one_line_naming_the_field():
    with pytest.raises(AnsibleFilterError, match=r"^tempest_verdict: field 'tempest.total' must be"):
        tempest_verdict({"total": "many"})


@pytest.mark.parametrize(
    ("rows", "failed"),
    [
        ([], []),
        ([BUILT], []),
        ([BUILD_FAILED], ["keystone"]),
        ([BUILT | {"status": "RETRY"}], ["keystone"]),
        # two commits of one project in one run: its newest commit decides
        ([BUILD_FAILED | {"id": 1, "dt_commit": 50}, BUILT], []),
        ([BUILT | {"id": 1, "dt_commit": 50}, BUILD_FAILED], ["keystone"]),
        ([BUILT, BUILD_FAILED | {"project": "nova", "id": 8}, BUILD_FAILED | {"project": "glance", "id": 9}],
         ["nova", "glance"]),
        ([{"status": "FAILED"}], []),  # no project: not a build of this run
    ],
)  # fmt: skip
def test_build_failures_of_this_run(rows, failed):
    assert verdict.build_failures(rows) == failed


def test_a_run_with_several_failed_builds_names_them_all(tmp_path):
    rows = [BUILT | {"project": "glance"}, BUILD_FAILED, BUILD_FAILED | {"project": "nova", "id": 9}]
    run = make(tmp_path, builds=rows)
    assert run.built_this_run == ["glance", "keystone", "nova"]
    assert run.tested_hash_note.startswith("the build of keystone, nova failed in this run;")
    assert manifest.summary_lines(run, tmp_path / "m.json")[0] == "built this run: glance; build failed: keystone, nova"


# -- writing and reading ------------------------------------------------------------------------


def test_round_trip_write_then_load_gives_the_same_manifest(tmp_path):
    run = make(tmp_path, builds=(BUILT, BUILD_FAILED | {"project": "nova", "id": 8}), tempest_failure=None)
    run = dataclasses.replace(
        run, votes=[manifest.Vote(job_id="weirdo-scenario001", success=True, timestamp=1795681910, user="ci")]
    )
    path = tmp_path / "runs" / run.run_id / "manifest.json"
    assert manifest.write(path, run) is True
    again = manifest.load(path)
    assert again == run
    assert again.migrated_from is None
    assert manifest.render(again) == path.read_text(encoding="utf-8")
    assert [p.name for p in path.parent.iterdir()] == ["manifest.json"]  # nothing left aside
    assert "votes: weirdo-scenario001 success" in manifest.summary_lines(again, path)


def test_writing_the_same_manifest_again_changes_nothing_and_a_new_one_replaces_by_rename(tmp_path):
    run = make(tmp_path)
    path = tmp_path / "manifest.json"
    manifest.write(path, run)
    before = path.stat()
    assert manifest.write(path, run) is False
    assert path.stat().st_ino == before.st_ino and path.stat().st_mtime_ns == before.st_mtime_ns
    assert manifest.write(path, dataclasses.replace(run, steps_not_built=[])) is True
    # a new inode: the file was renamed into place, never rewritten where a reader may be reading it
    assert path.stat().st_ino != before.st_ino
    assert manifest.load(path).steps_not_built == []


def test_fields_this_collection_does_not_know_survive_a_read_and_a_write(tmp_path):
    document = manifest.as_dict(make(tmp_path))
    document["promotions"] = [{"label": "puppet-passed-ci", "timestamp": 1}]
    document["deploy"]["duration"] = 312
    document["tempest"]["workers"] = 2
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(document))
    run = manifest.load(path)
    assert run.extra == {"promotions": [{"label": "puppet-passed-ci", "timestamp": 1}]}
    assert json.loads(manifest.render(run)) == document


def test_the_manifest_keeps_the_fields_its_readers_use(tmp_path):
    document = manifest.as_dict(make(tmp_path))
    for field in ("repo_hash", "repo_path", "repo_url", "packages", "built_this_run", "deploy", "tempest", "verdict"):
        assert field in document
    assert document["format"] == 2
    assert document["repo_url"] == f"http://10.89.42.1:8088/repos/{REPO_PATH}"
    assert document["deploy"]["keystone_version"] == "2:22.0.2-1"
    assert document["tempest"]["selection"]["include"] == ["^tempest\\.api\\.identity\\."]
    path = tmp_path / "runs" / "20261126T085136Z" / "manifest.json"
    command = f"ansible-playbook distroforge.openstack.reproduce -e distroforge_manifest={path}"
    assert document["reproduce"]["rebuild"] == f"{command} -e distroforge_reproduce=build"


def test_summary_lines_of_a_passing_run(tmp_path):
    run = make(tmp_path)
    path = tmp_path / "runs" / run.run_id / "manifest.json"
    assert manifest.summary_lines(run, path) == [
        "built this run: keystone",
        f"repository tested: {REPO_HASH} (http://10.89.42.1:8088/repos/{REPO_PATH})",
        "deploy: passed, keystone 2:22.0.2-1 on the node",
        "tempest: 10 ran, 10 passed, 0 failed, 2 skipped, 1 flaky; report none",
        f"run page: {path.parent}/index.html (verdict, versions, phases, counts, stages; links to ARA, logs, reports)",
        f"logs and reports: {path.parent}/artifacts/index.html",
        f"status page: {tmp_path}/repos/status_report.html",
        f"run manifest: {path}",
        f"reproduce it: ansible-playbook distroforge.openstack.reproduce -e distroforge_manifest={path}"
        "  (-e distroforge_reproduce=build or =test for one half)",
        f"verdict for {REPO_HASH}: PASSED; not built yet: vote",
    ]


DEPS = {
    "repo_configure_name": "zed-libs",
    "repo_configure_base_url": "http://10.89.42.1:8096/repos",
    "repo_configure_label": "current",
    "repo_configure_key_fingerprints": "0123456789ABCDEF0123456789ABCDEF01234567",
}


def test_the_repositories_beside_the_tested_one_are_recorded_and_summarised(tmp_path):
    run = make(tmp_path, deps_repos=[DEPS])
    assert run.deps_repos == [
        manifest.DepsRepo(
            name="zed-libs",
            base_url="http://10.89.42.1:8096/repos",
            label="current",
            key_fingerprints=["0123456789ABCDEF0123456789ABCDEF01234567"],
        )
    ]
    path = tmp_path / "runs" / run.run_id / "manifest.json"
    manifest.write(path, run)
    assert manifest.load(path) == run
    assert "beside it on the node: zed-libs (http://10.89.42.1:8096/repos/current)" in manifest.summary_lines(run, path)
    assert make(tmp_path).deps_repos == []  # none: the field is empty, older manifests read the same


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"repo_configure_hash": "abc_12345678"}, "field 'deps_repos[0]' needs exactly one of label and hash"),
        ({"repo_configure_label": ""}, "field 'deps_repos[0]' needs exactly one of label and hash"),
        ({"repo_configure_key_fingerprints": []}, "field 'deps_repos[0].key_fingerprints' is empty"),
        ({"repo_configure_base_url": ""}, "field 'deps_repos[0].base_url' is missing"),
    ],
)
def test_a_bad_repository_beside_the_tested_one_is_one_line(tmp_path, change, message):
    with pytest.raises(InputError) as err:
        make(tmp_path, deps_repos=[DEPS | change])
    assert message in str(err.value) and "\n" not in str(err.value)
    assert "distroforge_test_deps_repos" in str(err.value)


# -- format 1 -----------------------------------------------------------------------------------


def format_1(verdict_word: str = "passed", **changes) -> dict:
    """A manifest as pipeline.yml's Jinja wrote it (format 1)."""
    document = {
        "format": 1,
        "run_id": "20261126T085136Z",
        "pkgdb": "/srv/rdoinfo/rdo.yml",
        "workdir": "/srv/run",
        "repos_dir": "/srv/run/repos",
        "release": "zed",
        "backend": "dpkg",
        "repo_hash": REPO_HASH,
        "repo_path": REPO_PATH,
        "repo_url": f"http://10.89.42.1:8088/repos/{REPO_PATH}",
        "packages": PACKAGES,
        "built_this_run": ["keystone"],
        "deploy": DEPLOY_PASSED,
        "tempest": {
            "total": 151,
            "passed": 129,
            "failed": 0,
            "skipped": 22,
            "flaky": 0,
            "reports": {"html": "/srv/run/runs/20261126T085136Z/artifacts/n/tempest/results.html"},
            "failure": None,
            "selection": {"include": [], "exclude": [], "skips": [], "concurrency": 2, "install": "package"},
        },
        "verdict": verdict_word,
        "steps_not_built": ["vote"],
        "reproduce": {"rebuild": "ansible-playbook ... build", "retest": "ansible-playbook ... test"},
    }
    document.update(changes)
    return document


def test_a_format_1_manifest_is_read_as_format_2(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(format_1(), indent=4, sort_keys=True))
    run = manifest.load(path)
    assert run.format == 2 and run.migrated_from == 1
    assert (run.repo_hash, run.repo_path, run.verdict) == (REPO_HASH, REPO_PATH, "passed")
    assert run.repo_base_url == "http://10.89.42.1:8088/repos"
    assert run.tempest.total == 151 and run.tempest.ran == 129 and run.tempest.success is True
    assert run.deploy.keystone_version == "2:22.0.2-1"
    assert run.build_failed == [] and run.tested_hash_is_older is False and run.reasons == []
    assert run.extra == {}
    # written again it is a format 2 manifest that reads back the same
    again = tmp_path / "again.json"
    manifest.write(again, run)
    assert json.loads(again.read_text())["format"] == 2
    assert manifest.load(again) == run


def test_a_failed_format_1_run_keeps_its_verdict_and_gets_its_reasons(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(format_1("failed", deploy=DEPLOY_FAILED)))
    run = manifest.load(path)
    assert run.verdict == "failed"
    assert run.reasons[0] == "deploy failed: puppet apply failed"
    path.write_text(json.dumps(format_1("failed")))  # deploy passed, counts fine: only the verdict knew
    assert manifest.load(path).reasons == ["Tempest did not pass"]


def test_a_format_1_run_that_passed_with_0_tests_keeps_its_recorded_verdict(tmp_path):
    # History is not rewritten: reproduce.yml compares a re-run with what the run recorded.
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(format_1(tempest=format_1()["tempest"] | {"total": 3, "passed": 0, "skipped": 3})))
    assert manifest.load(path).verdict == "passed"


# -- bad input: one line naming the file, the field and the fix ---------------------------------


def good() -> dict:
    run = manifest.build(
        "/srv/run/runs/1/manifest.json",
        run_id="1",
        release="zed",
        backend="dpkg",
        repo_path=REPO_PATH,
        repo_base_url="http://10.89.42.1:8088/repos",
        packages=PACKAGES,
        deploy=DEPLOY_PASSED,
        tempest=TEMPEST_PASSES | {"reports": {"html": "r.html"}},
        build_results=[BUILT],
    )
    return manifest.as_dict(dataclasses.replace(run, votes=[manifest.Vote(job_id="ci", success=True, timestamp=1)]))


def changed(path: tuple, value) -> dict:
    document = copy.deepcopy(good())
    target = document
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


DELETE = object()
BAD_FIELDS = [
    (("run_id",), DELETE, r"field 'run_id' is missing; restore the manifest"),
    (("run_id",), 5, r"field 'run_id' must be a string, found number 5;"),
    (("run_id",), "", r"field 'run_id' is empty;"),
    (("packages",), [], r"field 'packages' is empty;"),
    (("packages",), "keystone", r"field 'packages' must be a list, found string \"keystone\";"),
    (("packages", 1), 1, r"field 'packages\[1\]' must be a string, found number 1;"),
    (("tempest", "total"), "12", r"field 'tempest.total' must be an integer, found string \"12\";"),
    (("tempest", "total"), -1, r"field 'tempest.total' must be 0 or more, found number -1;"),
    (("tempest", "total"), 1.5, r"field 'tempest.total' must be an integer, found number 1.5;"),
    (("tempest", "total"), True, r"field 'tempest.total' must be an integer, found boolean true;"),
    (("tempest", "success"), "yes", r"field 'tempest.success' must be true or false, found string \"yes\";"),
    (("tempest", "reports", "html"), 5, r"field 'tempest.reports.html' must be a string, found number 5;"),
    (("tempest", "reports", "a\nb"), 5, r"field 'tempest.reports.\"a\\nb\"' must be a string"),
    (("tempest", "failed_phases"), [None], r"field 'tempest.failed_phases\[0\]' must be a string, found null;"),
    (("tempest",), [], r"field 'tempest' must be an object, found list;"),
    (("deploy",), "passed", r"field 'deploy' must be an object, found string \"passed\";"),
    (("deploy", "status"), DELETE, r"field 'deploy.status' is missing;"),
    (("deploy", "phases"), {"deploy": 1}, r"field 'deploy.phases' must be a list, found object;"),
    (("verdict",), "PASSED", r"field 'verdict' must be 'passed' or 'failed', found string \"PASSED\";"),
    (("verdict",), DELETE, r"field 'verdict' is missing;"),
    (("tested_hash_is_older",), 0, r"field 'tested_hash_is_older' must be true or false, found number 0;"),
    (("votes", 0, "success"), DELETE, r"field 'votes\[0\].success' is missing;"),
    (("votes", 0, "job_id"), "x" * 100, None),  # long is fine
    (("reproduce", "rebuild"), ["a"], r"field 'reproduce.rebuild' must be a string, found list;"),
    (("repo_url",), None, r"field 'repo_url' must be a string, found null;"),
    (("tempest", "total"), 12.0, None),  # JSON's 12.0 is the integer 12
]


def check_one_line(exc: pytest.ExceptionInfo, path: Path) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


@pytest.mark.parametrize(("where", "value", "message"), BAD_FIELDS)
def test_a_bad_field_fails_in_one_line_naming_the_file_field_and_fix(tmp_path, where, value, message):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(changed(where, value)))
    if message is None:
        manifest.load(path)
        return
    with pytest.raises(InputError, match=message) as exc:
        manifest.load(path)
    assert "docs/run_manifest.md" in check_one_line(exc, path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", r"not JSON \(Expecting property name enclosed in double quotes at line 1 column 2\); give the"),
        (b"", r"not JSON \(Expecting value at line 1 column 1\)"),
        (b"\xff\xfe{}", r"not UTF-8 \(byte 0xff at offset 0\); a run manifest is UTF-8 JSON: give the runs/<run id>/"),
        (json.dumps({"a": "\u00e9"}).encode("latin-1").replace(b"\\u00e9", b"\xe9"), r"not UTF-8 \(byte 0xe9 at"),
        (b"[" * 100_000, r"(nested too deeply|not JSON)"),
        (b"[]", r"a manifest is a JSON object, found list; give the runs/<run id>/manifest.json"),
        (b"null", r"a manifest is a JSON object, found null"),
        (b"{}", r"field 'format' is missing; give the runs/<run id>/manifest.json a pipeline run wrote"),
        (b'{"format": "2"}', r"field 'format' must be an integer, found string \"2\""),
        (b'{"format": true}', r"field 'format' must be an integer, found boolean true"),
        (b'{"format": 3}', r"field 'format' is 3, newer than this collection reads \(1, 2\): read it with the newer"),
        (b'{"format": 0}', r"field 'format' is 0; run manifests have format 1 or 2"),
        (b'{"format": 1}', r"field 'run_id' is missing; restore the manifest"),
        (json.dumps(format_1(tempest={"total": "151"})).encode(), r"field 'tempest.total' must be an integer"),
    ],
)
def test_a_file_that_is_not_a_manifest_fails_in_one_line(tmp_path, content, message):
    path = tmp_path / "manifest.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as exc:
        manifest.load(path)
    check_one_line(exc, path)


def test_a_missing_or_unreadable_manifest(tmp_path):
    with pytest.raises(InputError, match=r"nope.json: no such manifest; give the runs/<run id>/manifest.json") as exc:
        manifest.load(tmp_path / "nope.json")
    check_one_line(exc, tmp_path / "nope.json")
    with pytest.raises(InputError, match=r"cannot read the manifest \(Is a directory\)"):
        manifest.load(tmp_path)


def test_a_utf8_bom_is_read(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(good()).encode())
    assert manifest.load(path).run_id == "1"


def test_bad_facts_from_the_pipeline_fail_in_one_line_naming_the_fact(tmp_path):
    with pytest.raises(
        InputError, match=r"^run_manifest: field 'deploy.status' must be a string, found number 1; give"
    ):
        make(tmp_path, deploy={"status": 1})
    with pytest.raises(InputError, match=r"^run_manifest: field 'tempest' must be an object, found string"):
        make(tmp_path, tempest="12 passed")
    with pytest.raises(
        InputError, match=r"^run_manifest: field 'tempest.failed' must be an integer.*tempest_run_summary"
    ):
        make(tmp_path, tempest=TEMPEST_PASSES | {"failed": "none"})


def test_versions_csv_is_read_from_the_tested_repository(tmp_path):
    where = tmp_path / "repos" / REPO_PATH
    with pytest.raises(InputError, match=r"versions.csv: cannot read the tested repository's versions.csv"):
        manifest.versions_lines(tmp_path / "repos", REPO_PATH)
    where.mkdir(parents=True)
    (where / "versions.csv").write_text("")
    with pytest.raises(InputError, match=r"versions.csv: empty; the publisher writes a header"):
        manifest.versions_lines(tmp_path / "repos", REPO_PATH)
    (where / "versions.csv").write_text("\n".join(PACKAGES) + "\n")
    assert manifest.versions_lines(tmp_path / "repos", REPO_PATH) == PACKAGES


def test_an_unwritable_run_directory_fails_in_one_line(tmp_path):
    blocker = tmp_path / "runs"
    blocker.write_text("a file where the runs directory should be")
    with pytest.raises(InputError, match=r"cannot write the run manifest \(.*\); make its directory writable"):
        manifest.write(blocker / "1" / "manifest.json", make(tmp_path))


# -- the hand-written checks agree with jsonschema on the published schema ----------------------

VALIDATOR = jsonschema.Draft202012Validator(manifest.json_schema())


def accepted(tmp_path: Path, document) -> bool:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(document))
    try:
        manifest.load(path)
    except InputError as exc:
        assert "\n" not in str(exc)
        return False
    return True


def test_the_schema_is_a_valid_json_schema_and_accepts_what_is_written(tmp_path):
    jsonschema.Draft202012Validator.check_schema(manifest.json_schema())
    for run in (make(tmp_path), make(tmp_path, builds=[BUILD_FAILED], tempest={})):
        VALIDATOR.validate(manifest.as_dict(run))


@pytest.mark.parametrize(("where", "value", "message"), BAD_FIELDS)
def test_checks_agree_with_jsonschema_on_every_bad_field(tmp_path, where, value, message):
    document = changed(where, value)
    assert VALIDATOR.is_valid(document) is (message is None)
    assert accepted(tmp_path, document) is (message is None)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4,
)


def _paths(document, prefix=()):
    if isinstance(document, dict):
        for key, value in document.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


PATHS = [path for path in _paths(good()) if path[0] != "format"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(PATHS), value=JSON_VALUES | st.just(DELETE))
def test_checks_agree_with_jsonschema_on_random_damage(tmp_path, where, value):
    document = changed(where, value)
    assert accepted(tmp_path, document) is VALIDATOR.is_valid(document), (where, value)


def test_a_failed_rename_leaves_the_old_manifest_whole(tmp_path, monkeypatch):
    path = tmp_path / "manifest.json"
    manifest.write(path, make(tmp_path))
    old = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(InputError, match=r"cannot write the run manifest \(No space left on device\)"):
        manifest.write(path, dataclasses.replace(make(tmp_path), steps_not_built=[]))
    assert path.read_bytes() == old
