"""The whole pipeline on a reduced example distro, from a clean state.

Keystone alone (from its PyPI sdists, with our packaging) is polled, built,
published signed, served, installed by hash on a fresh podman node, deployed
with Puppet scenario001 and tested with Tempest's identity smoke tests; then
the run is reproduced from its manifest (a bit-identical rebuild) and a
second build finds nothing new. About 8-10 minutes on the CI machines.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
import testinfra
from unit.ansible_run import TOP, run_playbook
from unit.ara_records import ara_env

EXAMPLE = TOP / "build" / "example" / "rdoinfo"
PORT = 8090  # not make run's 8088: both may run on one machine
NODE = "df-e2e-node"
SMOKE = r"^tempest\.api\.identity\..*\bsmoke\b"
# Planted secrets: Puppet writes them into openrc, clouds.yaml and keystone's
# configuration and database; none may reach the collected logs.
ADMIN_PASSWORD = "e2eAdminSecret" + os.urandom(6).hex()
DEMO_PASSWORD = "e2eDemoSecret" + os.urandom(6).hex()


def plain(output: str) -> str:
    """Ansible's output as one line of text: colours (a developer's terminal) and the callback's line folds gone."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", output).split())


def reduced_pkgdb(root: Path) -> Path:
    """The example's rdoinfo with only keystone tagged for zed."""
    if not (EXAMPLE / "rdo.yml").exists():
        pytest.fail("the example distro is missing: run `make example` (make e2e does)")
    (root / "tags").mkdir(parents=True)
    shutil.copy(EXAMPLE / "rdo.yml", root / "rdo.yml")
    (root / "tags" / "zed.yml").write_text("packages:\n- project: keystone\n  tags:\n    zed:\n")
    entry = root / "rdo-e2e.yml"
    entry.write_text("import:\n- rdo.yml\n- tags/zed.yml\n")
    return entry


@pytest.fixture(scope="module")
def workdir():
    # /var/tmp, not /tmp: nginx serves it to the node, and pytest re-privatises /tmp/pytest-of-root.
    path = Path(tempfile.mkdtemp(prefix="distroforge-e2e-", dir="/var/tmp"))
    os.chmod(path, 0o755)
    yield path
    nginx = path / "repo_serve" / "nginx.conf"
    if nginx.exists():
        subprocess.run(["/usr/sbin/nginx", "-c", str(nginx), "-s", "quit"], check=False, capture_output=True)
    for pidfile in [*path.glob("api/*.pid"), *path.glob("ara_serve/*.pid")]:  # the REST API's and ARA's gunicorn
        subprocess.run(["pkill", "--signal", "TERM", "--pidfile", str(pidfile)], check=False, capture_output=True)
    subprocess.run(["podman", "rm", "-f", "-t", "0", NODE], check=False, capture_output=True)
    if os.environ.get("DISTROFORGE_E2E_KEEP") != "1":
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def pipeline(workdir):
    pkgdb = reduced_pkgdb(workdir / "rdoinfo")
    extra = {
        "distroforge_workdir": str(workdir),
        "distroforge_pkgdb": str(pkgdb),
        "distroforge_repo_port": PORT,
        "distroforge_pipeline_node": NODE,
        # kept for the checks on the node below; the fixture removes it
        "distroforge_keep_nodes": True,
        "tempest_run_scenario": "",
        "tempest_run_include_regex": [SMOKE],
        "deploy_puppet_admin_password": ADMIN_PASSWORD,
        "deploy_puppet_demo_password": DEMO_PASSWORD,
    }
    # Recorded in ARA as `make run` records it.
    recording = ara_env(workdir)
    assert recording, "ara is not installed in the venv: run `make`"
    with mock.patch.dict(os.environ, recording):
        proc = run_playbook(TOP / "playbooks" / "pipeline.yml", extra, timeout=2400)
    (workdir / "pipeline.log").write_text(proc.stdout)
    manifests = sorted(workdir.glob("runs/*/manifest.json"))
    assert len(manifests) == 1, manifests
    return SimpleNamespace(
        extra=extra, proc=proc, manifest_path=manifests[0], manifest=json.loads(manifests[0].read_text())
    )


def test_the_hash_passes_with_our_keystone_on_the_node(pipeline):
    proc, manifest = pipeline.proc, pipeline.manifest
    assert manifest["verdict"] == "passed", manifest
    # written by run_manifest (format 2): its own build made it, so the hash tested is this run's
    assert (manifest["format"], manifest["reasons"], manifest["tested_hash_is_older"]) == (2, [], False), manifest
    assert manifest["built_this_run"] == ["keystone"] and manifest["build_failed"] == []
    # versions.csv's last column is the source package and version: keystone_<epoch:version-release>.
    nvr = next(
        line.rsplit(",", 1)[1] for line in manifest["packages"] if line.rsplit(",", 1)[1].startswith("keystone_")
    )
    our_version = nvr.removeprefix("keystone_")
    # The node runs the keystone we built (pinned above Debian's 2:22.0.2-0+deb12u*).
    assert manifest["deploy"]["keystone_version"] == our_version
    assert "deb12" not in our_version
    phases = {phase["name"]: phase for phase in manifest["deploy"]["phases"]}
    assert phases["deploy"]["status"] == "passed"
    assert phases["idempotency"]["changed_resources"] == 0, phases["idempotency"]
    summary = plain(proc.stdout)  # the callback folds long lines
    assert f"verdict for {manifest['repo_hash']}: PASSED" in summary
    assert (
        f"ansible-playbook distroforge.openstack.reproduce -e distroforge_manifest={pipeline.manifest_path}" in summary
    )


@pytest.fixture(scope="module")
def node(pipeline):
    """The deployed test node, as testinfra sees it."""
    return testinfra.get_host(f"podman://{NODE}")


def test_keystone_answers_and_issues_tokens_on_the_node(node):
    address = node.run("hostname -I").stdout.split()[0]
    script = f"import urllib.request; print(urllib.request.urlopen('http://{address}:5000/v3').read().decode())"
    reply = node.run(f'python3 -c "{script}"')
    assert reply.rc == 0, reply.stderr
    assert json.loads(reply.stdout)["version"]["id"].startswith("v3.")
    assert node.file("/root/openrc").mode == 0o600
    token = node.run(". /root/openrc && openstack token issue -c expires -f value")
    assert token.rc == 0 and token.stdout.strip(), token.stderr
    role = node.run(
        ". /root/openrc && openstack role assignment list --user demo --project demo --names -c Role -f value"
    )
    assert role.rc == 0 and "member" in role.stdout.split(), role.stderr


def test_the_node_trusts_our_repository_by_its_key_only(node, pipeline, workdir):
    source = node.file("/etc/apt/sources.list.d/distroforge.list").content_string
    assert "signed-by=/etc/apt/keyrings/distroforge.asc" in source and "trusted=yes" not in source
    assert "Pin-Priority: 1001" in node.file("/etc/apt/preferences.d/distroforge.pref").content_string
    # the installed key is the one the repo server signs with (its fingerprint reached the node
    # over Ansible's channel, not with the key)
    assert (
        node.file("/etc/apt/keyrings/distroforge.asc").content
        == (workdir / "repos" / "RPM-GPG-KEY-delorean").read_bytes()
    )
    assert pipeline.manifest["key_fingerprints"], pipeline.manifest
    policy = node.run("apt-cache policy python3-keystone").stdout
    assert " 1001" in policy and "***" in policy, policy


def test_the_second_apply_left_nothing_to_change_on_the_node(node):
    text = node.file("/var/log/puppet/distroforge/idempotency-last_run_summary.yaml").content_string
    changed = re.search(r"(?m)^resources:\n(?:\s+.*\n)*?\s+changed: (\d+)", text)
    assert changed and changed.group(1) == "0", text


def test_tempest_ran_the_smoke_tests_and_wrote_every_report(pipeline):
    manifest = pipeline.manifest
    tempest = manifest["tempest"]
    assert tempest["total"] > 0 and tempest["failed"] == 0, tempest
    assert tempest["selection"]["include"] == [SMOKE]
    junit = ET.parse(tempest["reports"]["junit"]).getroot()
    cases = junit.findall(".//testcase")
    assert any(case.get("name") == "idempotency" for case in cases)
    assert sum(1 for case in cases if "tempest.api.identity" in (case.get("classname") or "")) == tempest["total"]
    results = json.loads(Path(tempest["reports"]["json"]).read_text())
    # only smoke tests ran: Tempest marks them in the id's attribute list (classes Tempest
    # skips as a whole, such as the disabled v2 API, report a setUpClass id instead)
    ran = [test["test_id"] for test in results["tests"] if test["outcome"] != "skipped"]
    assert ran and all("smoke" in test_id for test_id in ran), ran
    html = Path(tempest["reports"]["html"]).read_text()
    assert "tempest.api.identity" in html
    assert results["summary"]["passed"] == tempest["passed"]


def test_the_collected_logs_never_carry_the_planted_secrets(pipeline):
    artifacts = pipeline.manifest_path.parent / "artifacts"
    files = [path for path in artifacts.rglob("*") if path.is_file()]
    assert any(path.name.startswith("keystone.conf") for path in files), "keystone.conf was not collected"
    masked = 0
    for path in files:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        assert ADMIN_PASSWORD.encode() not in data, path
        assert DEMO_PASSWORD.encode() not in data, path
        masked += data.count(b"***")
    assert masked > 0, "nothing was masked: were the configurations collected?"
    assert (artifacts / "index.html").is_file()


def crawl(base: str) -> dict[str, bytes]:
    """Every file the repo server lists under ``base`` (nginx autoindex pages), by URL."""
    seen: dict[str, bytes] = {}
    pending = [base]
    while pending:
        url = pending.pop()
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read()
        seen[url] = body
        if url.endswith("/"):
            for href in re.findall(rb'href="([^"?]+)"', body):
                if href.startswith(b"..") or href.startswith(b"/") or b"://" in href:
                    continue
                pending.append(url + urllib.parse.unquote(href.decode()))
    return seen


def test_nothing_served_carries_a_planted_secret_or_the_server_state(pipeline, workdir):
    served = {}
    for location in ("repos/", "runs/"):
        served.update(crawl(f"http://127.0.0.1:{PORT}/{location}"))
    assert any(url.endswith("/manifest.json") for url in served), "the run manifest is not served"
    assert any(url.endswith("/status_report.html") for url in served), "the status page is not served"
    for url, body in served.items():
        data = gzip.decompress(body) if url.endswith(".gz") else body
        assert ADMIN_PASSWORD.encode() not in data, url
        assert DEMO_PASSWORD.encode() not in data, url
    # the console output of the run neither
    assert ADMIN_PASSWORD not in pipeline.proc.stdout and DEMO_PASSWORD not in pipeline.proc.stdout
    for private in ("state.db", "gnupg/", "repo_serve/nginx.conf", "repo_serve/access.log"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/{private}", timeout=30)
        assert refused.value.code == 404, private
    # and at rest they are the owner's alone
    assert stat.S_IMODE((workdir / "state.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((workdir / "gnupg").stat().st_mode) == 0o700


def test_the_run_page_names_the_verdict_and_links_to_the_run_in_ara(pipeline):
    base = f"http://127.0.0.1:{PORT}"
    manifest = pipeline.manifest
    page = pipeline.manifest_path.parent / "index.html"
    assert page.is_file(), "no run page"
    with urllib.request.urlopen(f"{base}/runs/{manifest['run_id']}/", timeout=30) as response:
        text = response.read().decode()
    assert f'data-verdict="{manifest["verdict"]}"' in text and manifest["repo_hash"] in text
    assert f'data-count="passed">{manifest["tempest"]["passed"]}<' in text
    # Stage times from ARA's plays of the run.
    stage = "<td>Serve the repositories and record what this run tests</td><td>completed</td>"
    assert re.search(re.escape(stage) + r'\s*<td class="n">\d[^<]*</td>', text), text
    (ara_link,) = re.findall(r'<a href="(/ara/playbooks/(\d+)\.html)">', text)
    with urllib.request.urlopen(base + ara_link[0], timeout=30) as response:
        assert "pipeline.yml" in response.read().decode()
    assert f"run page: {page}" in plain(pipeline.proc.stdout)
    # Nothing ARA recorded of the run carries a planted secret.
    results = f"{base}/ara/api/v1/results?playbook={ara_link[1]}&limit=1000"
    with urllib.request.urlopen(results, timeout=30) as response:
        listed = json.load(response)["results"]
    assert listed
    for result in listed:
        with urllib.request.urlopen(f"{base}/ara/api/v1/results/{result['id']}", timeout=30) as response:
            body = response.read()
        assert ADMIN_PASSWORD.encode() not in body and DEMO_PASSWORD.encode() not in body, result["id"]


def test_the_run_rebuilds_bit_identically_from_its_manifest(pipeline, workdir):
    manifest_path = pipeline.manifest_path
    out = workdir / "reproduce"
    proc = run_playbook(
        TOP / "playbooks" / "reproduce.yml",
        {
            "distroforge_manifest": str(manifest_path),
            "distroforge_reproduce": "build",
            "distroforge_reproduce_dir": str(out),
        },
        timeout=900,
    )
    report = json.loads((out / "reproduce.json").read_text())
    assert [build["project"] for build in report["build"]] == ["keystone"]
    assert report["build"][0]["comparison"]["identical"] is True, report["build"][0]
    assert "all bit-identical" in proc.stdout


def test_the_run_voted_and_promoted_its_hash(pipeline):
    manifest, summary = pipeline.manifest, plain(pipeline.proc.stdout)
    votes = [vote for vote in manifest["votes"] if vote["job_id"] == "distroforge-pipeline-scenario001"]
    assert len(votes) == 1 and votes[0]["success"] is True, manifest["votes"]
    assert votes[0]["user"] == "distroforge-pipeline"  # voted through the REST API as the pipeline's user
    assert votes[0]["url"].endswith(f"/runs/{manifest['run_id']}/")
    (label,) = [label for label in manifest["labels"] if label["label"] == "puppet-passed-ci"]
    assert label["moved"] is True and label["repo_hash"] == manifest["repo_hash"], label
    assert f"promoted: puppet-passed-ci -> {manifest['repo_hash']}" in summary
    link = Path(manifest["repos_dir"]) / "puppet-passed-ci"
    assert link.is_symlink() and link.resolve().name == manifest["repo_hash"]


def test_the_rest_api_answers_what_the_run_did(pipeline):
    """DLRN's client question, "which repo did this job last test?", through the repo server's nginx."""
    query = urllib.parse.urlencode({"job_id": "distroforge-pipeline-scenario001", "success": "true", "max_age": 0})
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/api/last_tested_repo?{query}", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    commit_hash, distgit8 = pipeline.manifest["repo_hash"].split("_")
    assert answer["commit_hash"] == commit_hash and answer["distro_hash"].startswith(distgit8), answer


def test_a_second_run_with_nothing_new_does_not_test_again(pipeline, workdir):
    proc = run_playbook(TOP / "playbooks" / "pipeline.yml", pipeline.extra, timeout=600)
    summary = plain(proc.stdout)
    assert f"{pipeline.manifest['repo_hash']} was tested by distroforge-pipeline-scenario001 at" in summary
    assert "PASSED" in summary and "-e distroforge_retest=true tests it again" in summary
    assert len(list(workdir.glob("runs/*/manifest.json"))) == 1, "a run that tested nothing wrote a manifest"
    assert "Deploy the scenario with Puppet" not in proc.stdout


def test_a_second_build_with_no_new_commit_builds_and_changes_nothing(pipeline):
    proc = run_playbook(TOP / "playbooks" / "build.yml", pipeline.extra, timeout=600)
    recap = proc.stdout.rsplit("PLAY RECAP", 1)[1]
    assert "changed=0" in recap and "failed=0" in recap, recap
