"""The run page (runs/<run id>/index.html): what it shows, and that hostile manifest values stay text."""

from __future__ import annotations

import html.parser
import json
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._runs import manifest, page

KS = ("3db1d55076c17a4aad91dfb11b915ed08e52c79b", "1ef8b25faf2d4e035f9b206c55ec5decdf39466f")
REPO_HASH = f"{KS[0]}_{KS[1][:8]}"
REPO_PATH = f"3d/b1/{REPO_HASH}"
HEADER = (
    "Project,Source Repo,Source Sha,Dist Repo,Dist Sha,Status,Last Success Timestamp,Component,Extended Sha,Pkg NVR"
)
RUN_ID = "20261204T010203Z"
PLAYS = [
    {"name": "Poll, build, record and publish", "status": "completed", "started": "2026-12-04T01:02:03.5Z",
     "ended": "2026-12-04T01:04:44.5Z"},
    {"name": "Deploy and test the hash on a fresh node", "status": "completed",
     "started": "2026-12-04T01:04:45Z", "ended": "2026-12-04T01:12:05Z"},
    {"name": "Write the run manifest and summarise", "status": "running", "started": "2026-12-04T01:12:06Z",
     "ended": None},
]  # fmt: skip


def raw_manifest(run_dir: Path, **changes) -> dict:
    report = run_dir / "artifacts" / "node" / "tempest" / "results.html"
    data = {
        "format": 2,
        "run_id": RUN_ID,
        "release": "zed",
        "backend": "dpkg",
        "repo_hash": REPO_HASH,
        "repo_path": REPO_PATH,
        "repo_url": f"http://192.0.2.1:8088/repos/{REPO_PATH}",
        "packages": [HEADER, f"openstack-keystone,x,{KS[0]},y,{KS[1]},SUCCESS,1,keystone,None,keystone_2:22.0.2-1"],
        "built_this_run": ["keystone"],
        "deploy": {
            "status": "passed",
            "scenario": "scenario001",
            "phases": [
                {"name": "deploy", "status": "passed", "duration": 160.4, "changed_resources": 122, "message": "ok"},
                {"name": "idempotency", "status": "passed", "duration": 58.0, "changed_resources": 0},
            ],
        },
        "tempest": {
            "total": 151,
            "passed": 129,
            "failed": 0,
            "skipped": 22,
            "flaky": 1,
            "success": True,
            "reports": {"html": str(report), "json": "/etc/passwd"},
        },
        "verdict": "passed",
        "votes": [{"job_id": "ci-job", "success": True, "timestamp": 1, "url": "http://ci.example/job/1"}],
        "labels": [{"label": "puppet-passed-ci", "repo_hash": REPO_HASH, "moved": True}],
    }
    data.update(changes)
    return data


def write_run(tmp_path: Path, **changes) -> tuple[Path, manifest.Manifest]:
    run_dir = tmp_path / "runs" / RUN_ID
    (run_dir / "artifacts" / "node" / "tempest").mkdir(parents=True)
    (run_dir / "artifacts" / "index.html").write_text("<html></html>")
    (run_dir / "artifacts" / "node" / "index.html").write_text("<html></html>")
    (run_dir / "artifacts" / "node" / "tempest" / "results.html").write_text("<html></html>")
    path = run_dir / "manifest.json"
    path.write_text(json.dumps(raw_manifest(run_dir, **changes)))
    return run_dir, manifest.load(path)


class Parsed(html.parser.HTMLParser):
    """The page as a browser's parser sees it: elements, attributes, text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    @property
    def hrefs(self) -> list[str]:
        return [attrs["href"] or "" for tag, attrs in self.tags if tag == "a"]


def test_the_page_shows_verdict_hash_packages_phases_counts_stages_and_links(tmp_path):
    run_dir, run = write_run(tmp_path)
    text = page.render(
        run,
        run_dir,
        ara_url="/ara/",
        playbooks=page.playbooks_from([{"id": 7, "path": "/x/playbooks/pipeline.yml", "status": "running"}]),
        stages=page.stages_from(PLAYS),
    )
    parsed = Parsed(text)
    words = " ".join(" ".join(parsed.text).split())
    assert 'data-verdict="passed"' in text and "PASSED" in words
    assert REPO_HASH in words and "keystone_2:22.0.2-1" in words
    assert "deploy passed 2m 40s 122" in words and "idempotency passed 58.0s 0" in words
    assert '<td class="n" data-count="ran">129</td>' in text and '<td class="n" data-count="skipped">22</td>' in text
    # Stage durations from ARA's plays; the play still running has none, so no total either.
    assert "Poll, build, record and publish completed 2m 41s" in words
    assert "Deploy and test the hash on a fresh node completed 7m 20s" in words
    assert "Write the run manifest and summarise running running" in words and "total" not in words
    assert parsed.hrefs == [
        f"http://192.0.2.1:8088/repos/{REPO_PATH}",
        "/ara/playbooks/7.html",
        "artifacts/index.html",
        "artifacts/node/index.html",
        "artifacts/",
        "artifacts/node/tempest/results.html",
        "manifest.json",
        "http://ci.example/job/1",
    ]
    # A report outside the run's directory is named, not linked.
    assert "Tempest json: not under this run" in words


def test_without_ara_the_page_says_so_and_still_renders(tmp_path):
    run_dir, run = write_run(tmp_path, verdict="failed", reasons=["no tests ran"])
    text = page.render(run, run_dir)
    words = " ".join(" ".join(Parsed(text).text).split())
    assert 'data-verdict="failed"' in text and "no tests ran" in words
    assert "ARA: not recorded" in words and "No stage timings" in words


HOSTILE = [
    '<script>alert("x")</script>',
    '"><img src=x onerror=alert(1)>',
    "</td></tr></table><script>document.write(1)</script>",
    "{{ 7*7 }}{% raw %}",
    "javascript:alert(1)",
    "' onmouseover='alert(1)",
    "<!--",
    "]]><svg onload=alert(1)>",
]


@pytest.mark.parametrize("evil", HOSTILE)
def test_hostile_manifest_values_stay_text(tmp_path, evil):
    run_dir, run = write_run(
        tmp_path,
        release=evil,
        backend=evil,
        verdict="failed",
        reasons=[evil],
        packages=[HEADER, f'"{evil}",x,{KS[0]},y,{KS[1]},"{evil}",1,"{evil}",None,"{evil}"'],
        built_this_run=[evil],
        build_failed=[evil],
        tested_hash_is_older=True,
        tested_hash_note=evil,
        deploy={"status": evil, "scenario": evil, "message": evil,
                "phases": [{"name": evil, "status": evil, "duration": evil, "message": evil}]},
        tempest={"total": 1, "failed": 1, "failed_phases": [evil], "reason": evil,
                 "reports": {evil: evil, "html": "../../../etc/passwd"}},
        votes=[{"job_id": evil, "success": False, "timestamp": 1, "url": evil, "notes": evil, "user": evil},
               {"job_id": "j", "success": False, "timestamp": 1, "url": "javascript:alert(1)"}],
        labels=[{"label": evil, "repo_hash": evil, "moved": False, "reason": evil}],
        repo_url="javascript:alert(document.cookie)",
    )  # fmt: skip
    text = page.render(
        run,
        run_dir,
        ara_url="javascript:alert(1)",
        playbooks=page.playbooks_from([{"id": 3, "path": evil, "status": evil}]),
        stages=page.stages_from([{"name": evil, "status": evil, "started": None}]),
    )
    parsed = Parsed(text)
    assert [tag for tag, _attrs in parsed.tags if tag in ("script", "img", "svg", "iframe", "object")] == []
    assert not [attrs for _tag, attrs in parsed.tags if any(name.startswith("on") for name in attrs)]
    assert all(href.startswith(("http://", "https://", "/", "artifacts/", "manifest.json")) for href in parsed.hrefs)
    assert not [href for href in parsed.hrefs if "passwd" in href or ".." in href]
    # Every hostile value is shown, as the text it is (the parser undoes the escaping).
    assert "".join(parsed.text).count(evil) >= 10
    assert "49" not in "".join(parsed.text)  # no template evaluation of a value


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("ara_playbooks", [{"id": "1; DROP"}], r"field 'ara_playbooks\[0\]\.id' must be a playbook id"),
        ("ara_playbooks", ["7"], r"field 'ara_playbooks\[0\]' must be an object"),
        ("ara_playbooks", [{"id": True}], r"field 'ara_playbooks\[0\]\.id' must be a playbook id"),
        ("stages", [{"name": "a", "started": "yesterday"}], r"field 'stages\[0\]\.started' is not an ISO 8601 time"),
        ("stages", [{"name": "a", "ended": 5}], r"field 'stages\[0\]\.ended' must be an ISO 8601 time"),
    ],
)
def test_bad_ara_inputs_fail_in_one_line(field, value, message):
    read = page.playbooks_from if field == "ara_playbooks" else page.stages_from
    with pytest.raises(InputError, match=message) as exc:
        read(value)
    assert "\n" not in str(exc.value) and "give the" in str(exc.value)


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("/ara/", True),
        ("http://127.0.0.1:8088/ara/", True),
        ("https://ara.example/", True),
        ("//evil.example/", False),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("data:text/html,<script>", False),
        ("http:/no-host", False),
        ("/ara/\nSet-Cookie: x", False),
        ("", False),
    ],
)
def test_only_http_urls_and_paths_on_this_server_become_links(url, safe):
    assert (page.safe_url(url) is not None) is safe


def test_durations_read_as_people_write_them():
    assert [page.duration(s) for s in (None, 4.24, 59.96, 161, 3600 + 125)] == [
        "running",
        "4.2s",
        "60.0s",
        "2m 41s",
        "1h 02m",
    ]


def test_a_planted_symlink_out_of_the_run_is_not_linked(tmp_path):
    secret = tmp_path / "state.db"
    secret.write_text("secret")
    run_dir, _run = write_run(tmp_path)
    planted = run_dir / "artifacts" / "node" / "tempest" / "results.json"
    planted.symlink_to(secret)
    (run_dir / "artifacts" / "evil").symlink_to(tmp_path)
    _run_dir, run = write_run(tmp_path / "again")
    assert page.local_link(run_dir, str(planted)) is None
    assert page.local_link(run_dir, "artifacts/node/tempest/results.html") == "artifacts/node/tempest/results.html"
    assert [link.href for link in page.logs(run_dir)] == [
        "artifacts/index.html",
        "artifacts/node/index.html",
        "artifacts/",
    ]
    assert "state.db" not in page.render(run, run_dir)
