"""reproduce_plan / buildinfo_compare: reading a run's manifest and judging a rebuild."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import threading
from functools import partial
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._reproduce import (
    compare,
    package_rows,
    plan,
    rewrite_url,
    select_rows,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._runs import manifest as run_manifest

HEADER = (
    "Project,Source Repo,Source Sha,Dist Repo,Dist Sha,Status,Last Success Timestamp,Component,Extended Sha,Pkg NVR"
)
KS = ("3db1d55076c17a4aad91dfb11b915ed08e52c79b", "1ef8b25faf2d4e035f9b206c55ec5decdf39466f")
KSM = ("361fac47135c7336bc8f8b0b1e573c6e141a5ac9", "c4a2a97f8e1dc7c251802a9e03b676e24303dbef")
BROKEN = ("aa" * 20, "bb" * 20)


def buildinfo(project: str, sha: tuple[str, str], outputs: dict[str, str]) -> dict:
    return {
        "backend": "dpkg",
        "project": project,
        "name": f"python-{project}",
        "nvr": f"python-{project}_1.0-1",
        "inputs": {
            "upstream": f"file:///ci/example/upstream/{project}",
            "distgit": f"file:///ci/example/distgit/{project}-distgit",
            "commit_hash": sha[0],
            "distro_hash": sha[1],
        },
        "settings": {"rpm_nodeps": None, "rpm_dist": None, "sbuild_chroot": None},
        "outputs": [{"name": name, "sha256": digest, "size": 1} for name, digest in outputs.items()],
        "toolchain": {"dpkg-buildpackage": "1.21.23", "python3": "Python 3.11.2"},
    }


@pytest.fixture
def run(tmp_path):
    """A published run: repos/ with two builds' buildinfo.json and the manifest naming them."""
    repos = tmp_path / "repos"
    for project, sha in (("keystone", KS), ("keystonemiddleware", KSM)):
        build = repos / sha[0][:2] / sha[0][2:4] / f"{sha[0]}_{sha[1][:8]}"
        build.mkdir(parents=True)
        info = buildinfo(project, sha, {f"python3-{project}_1.0-1_all.deb": "1" * 64, f"{project}.buildinfo": "2" * 64})
        (build / "buildinfo.json").write_text(json.dumps(info))
    manifest = {
        "format": 1,
        "run_id": "20261126T085136Z",
        "release": "zed",
        "backend": "dpkg",
        "repo_hash": f"{KSM[0]}_{KSM[1][:8]}",
        "repo_path": f"36/1f/{KSM[0]}_{KSM[1][:8]}",
        "repo_url": f"http://10.89.42.1:8088/repos/36/1f/{KSM[0]}_{KSM[1][:8]}",
        "repos_dir": str(repos),
        "packages": [
            HEADER,
            f"keystone,None,{KS[0]},None,{KS[1]},SUCCESS,1795681910,keystone,None,keystone_2:22.0.2-1",
            f"broken,None,{BROKEN[0]},None,{BROKEN[1]},FAILED,0,common,None,broken_1-1",
            f"keystonemiddleware,None,{KSM[0]},None,{KSM[1]},SUCCESS,1795681910,common,None,python-keystonemiddleware_10.1.1-1",
        ],
        "deploy": {"status": "passed", "scenario": "scenario001"},
        "tempest": {
            "total": 151,
            "passed": 129,
            "failed": 0,
            "skipped": 22,
            "flaky": 0,
            "selection": {"include": ["^tempest\\.api\\.identity\\."], "exclude": [], "skips": [], "concurrency": 2},
        },
        "verdict": "passed",
    }
    path = tmp_path / "runs" / "20261126T085136Z" / "manifest.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(manifest))
    return path, manifest, repos


def test_plan_rebuilds_every_successful_package_from_its_recorded_commits(run):
    path, _manifest, repos = run
    result = plan(str(path), rewrites={"file:///ci/example": "file:///home/me/example"})
    assert [r["job"]["project"] for r in result["rebuilds"]] == ["keystone", "keystonemiddleware"]
    job = result["rebuilds"][1]["job"]
    assert (job["commit_hash"], job["distro_hash"]) == KSM
    assert job["upstream"] == "file:///home/me/example/upstream/keystonemiddleware"
    assert result["rebuilds"][1]["backend"] == "dpkg"
    assert result["rebuilds"][1]["recorded"]["outputs"][0]["sha256"] == "1" * 64
    # one package_build call for both: same backend and settings
    assert [[job["project"] for job in batch["jobs"]] for batch in result["batches"]] == [
        ["keystone", "keystonemiddleware"]
    ]
    assert result["repos"] == str(repos)
    assert result["repo_base_url"] == "http://10.89.42.1:8088/repos"
    assert result["tempest"]["selection"]["include"] == ["^tempest\\.api\\.identity\\."]
    assert result["tempest"]["recorded"]["passed"] == 129


def test_plan_reads_buildinfo_over_http_when_the_repos_are_elsewhere(run):
    path, _manifest, repos = run
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(repos.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/repos"
        result = plan(str(path), packages=["keystone"], repos=url)
    finally:
        server.shutdown()
    assert [r["job"]["commit_hash"] for r in result["rebuilds"]] == [KS[0]]


def test_plan_rejects_an_unknown_package_naming_the_choices(run):
    path = run[0]
    with pytest.raises(InputError, match=r"packages: nova not in .*choose from broken, keystone, keystonemiddleware"):
        plan(str(path), packages=["nova"])


def test_a_missing_buildinfo_names_the_file_and_the_option(run):
    path = run[0]
    with pytest.raises(InputError, match=r"aa/aa/.*buildinfo.json: cannot read .*distroforge_reproduce_repos"):
        plan(str(path), packages=["broken"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"manifest.json: not JSON \(.* at line 1 column 2\)"),
        ("[]", r"manifest.json: a manifest is a JSON object, found list"),
        (json.dumps({"format": 1}), r"manifest.json: field 'run_id' is missing"),
        (json.dumps({"format": 7}), r"field 'format' is 7, newer than this collection reads \(1, 2\)"),
    ],
)
def test_a_bad_manifest_fails_the_plan_in_one_line(tmp_path, content, message):
    # the manifest is read by _runs.manifest (its own tests try every bad input); the plan passes its errors on
    path = tmp_path / "manifest.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        plan(str(path))


def test_no_manifest_at_all(tmp_path):
    with pytest.raises(InputError, match=r"no such manifest; give the runs/<run id>/manifest.json"):
        plan(str(tmp_path / "nope.json"))


def test_a_format_2_manifest_plans_like_its_format_1_original(run, tmp_path):
    path, _manifest, _repos = run
    again = tmp_path / "format2.json"
    run_manifest.write(again, run_manifest.load(path))
    assert json.loads(again.read_text())["format"] == 2
    assert plan(str(again)) == plan(str(path))


def test_packages_need_the_versions_csv_columns(run):
    path = run[0]
    manifest = run_manifest.load(path)
    columns = ["Project,Source Sha,Status,Component,Pkg NVR", "a,b,c,d,e"]
    with pytest.raises(InputError, match=r"lacks the versions.csv column\(s\) Dist Sha"):
        package_rows(dataclasses.replace(manifest, packages=columns), str(path))


def test_component_runs_find_builds_under_their_component(run):
    path = run[0]
    manifest = run_manifest.load(path)
    rows = package_rows(dataclasses.replace(manifest, repo_path="component/common/36/1f/x"), str(path))
    assert rows[2]["build_dir"] == f"component/common/36/1f/{KSM[0]}_{KSM[1][:8]}"
    assert select_rows(rows, [], str(path))[0]["project"] == "keystone"


def test_rewrite_takes_the_longest_prefix():
    rewrites = {"file:///ci": "file:///a", "file:///ci/example": "file:///b"}
    assert rewrite_url("file:///ci/example/upstream/x", rewrites) == "file:///b/upstream/x"
    assert rewrite_url("https://opendev.org/x", rewrites) == "https://opendev.org/x"


def outputs(**digests):
    return {"outputs": [{"name": n.replace("_", "."), "sha256": d} for n, d in digests.items()]}


def test_identical_packages_with_different_build_metadata_are_identical():
    recorded = {**outputs(a_deb="1", a_buildinfo="2", a_changes="3"), "toolchain": {"dpkg": "1.21"}}
    rebuilt = {**outputs(a_deb="1", a_buildinfo="9", a_changes="8"), "toolchain": {"dpkg": "1.22"}}
    result = compare(rebuilt, recorded)
    assert result["identical"] is True
    assert result["metadata_differ"] == ["a.buildinfo", "a.changes"]
    assert result["toolchain_changes"] == {"dpkg": {"recorded": "1.21", "rebuilt": "1.22"}}


def test_a_changed_missing_or_extra_package_is_not_identical():
    recorded = outputs(a_rpm="1", b_rpm="2", a_src_rpm="3")
    result = compare(outputs(a_rpm="1", b_rpm="X", c_rpm="4"), recorded)
    assert result["identical"] is False
    assert result["differ"] == ["a.src.rpm", "b.rpm", "c.rpm"]


def test_nothing_recorded_is_never_identical():
    assert compare(outputs(a_deb="1"), {"outputs": []})["identical"] is False


def test_a_later_wave_is_rebuilt_against_the_recorded_earlier_wave_package(run):
    path, _manifest, repos = run
    deb = b"the keystonemiddleware .deb keystone was built against"
    ksm_dir = repos / "36" / "1f" / f"{KSM[0]}_{KSM[1][:8]}"
    (ksm_dir / "python3-ksm_1_all.deb").write_bytes(deb)
    ks_info = repos / "3d" / "b1" / f"{KS[0]}_{KS[1][:8]}" / "buildinfo.json"
    info = json.loads(ks_info.read_text())
    info["inputs"]["build_against"] = [{"name": "python3-ksm_1_all.deb", "sha256": hashlib.sha256(deb).hexdigest()}]
    ks_info.write_text(json.dumps(info))
    result = plan(str(path))
    assert result["rebuilds"][0]["extra_packages"] == [str(ksm_dir / "python3-ksm_1_all.deb")]
    assert result["rebuilds"][1]["extra_packages"] == []
    # different inputs, different package_build calls
    assert [[job["project"] for job in batch["jobs"]] for batch in result["batches"]] == [
        ["keystone"],
        ["keystonemiddleware"],
    ]

    # Over HTTP the package is fetched into download_dir.
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(repos.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/repos"
        against = path.parent / "against"
        dry = plan(str(path), packages=["keystone"], repos=url, download_dir=str(against), check_mode=True)
        assert not against.exists()  # check mode saves nothing
        fetched = plan(str(path), packages=["keystone"], repos=url, download_dir=str(against))
    finally:
        server.shutdown()
    assert Path(fetched["rebuilds"][0]["extra_packages"][0]).read_bytes() == deb
    assert dry["rebuilds"][0]["extra_packages"] == fetched["rebuilds"][0]["extra_packages"]

    # A package with another sha256 is not the input the build had.
    (ksm_dir / "python3-ksm_1_all.deb").write_bytes(b"rebuilt later, different")
    with pytest.raises(
        InputError, match=r"python3-ksm_1_all.deb \(sha256 .*\), which keystone was built against, is only with"
    ):
        plan(str(path), packages=["keystone"])


def test_the_recorded_key_fingerprints_reach_the_test_half(run, tmp_path):
    path = run[0]
    fingerprint = "6A1F0E8B0DAD5C2F2F0B4B8E4A3C7A26C6E1D3F1"
    signed = tmp_path / "signed.json"
    run_manifest.write(signed, dataclasses.replace(run_manifest.load(path), key_fingerprints=[fingerprint]))
    assert run_manifest.load(signed).key_fingerprints == [fingerprint]
    assert plan(str(signed))["key_fingerprints"] == [fingerprint]
    # a run recorded before fingerprints were: the test half reads the key from the run's own repos/
    assert plan(str(path))["key_fingerprints"] == []


def test_the_repositories_beside_the_tested_one_are_configured_again(run, tmp_path):
    path = run[0]
    deps = run_manifest.DepsRepo(
        name="zed-libs", base_url="http://10.89.42.1:8096/repos", label="current", key_fingerprints=["AB" * 20]
    )
    with_deps = tmp_path / "with-deps.json"
    run_manifest.write(with_deps, dataclasses.replace(run_manifest.load(path), deps_repos=[deps]))
    # in the words test_hash.yml hands to repo_configure
    assert plan(str(with_deps))["deps_repos"] == [
        {
            "repo_configure_name": "zed-libs",
            "repo_configure_base_url": "http://10.89.42.1:8096/repos",
            "repo_configure_label": "current",
            "repo_configure_hash": "",
            "repo_configure_key_fingerprints": ["AB" * 20],
        }
    ]
    assert plan(str(path))["deps_repos"] == []
