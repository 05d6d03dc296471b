"""Side by side with the real DLRN 0.26.1 API: the same requests over the same data, the same answers.

Both servers run under gunicorn on loopback: ours from the working tree,
DLRN's ``dlrn.api:app`` from its own venv (bench/peers.py), over a DB loaded
from our state DB.  Status codes must be equal; successful answers must be
the same JSON, timestamps aside; errors must be JSON ``{"message": ...}``
on our side.  Where DLRN answers a 500 or an HTML page, the deliberate
difference (docs/api.md) is asserted instead.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._api import passwords
from ansible_collections.distroforge.openstack.plugins.module_utils._api.config import ApiConfig
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.layout import FLAG_PURGED
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB

from . import api_peers
from .pkgfactory import add_build

pytestmark = pytest.mark.side_by_side
USER, PASSWORD = "ci", "side-by-side"
NOW = int(time.time())
AGGREGATE = "a1" * 16


def send(url: str, method: str, path: str, *, query=None, body=None, auth=True, data=None, content_type=None):
    """One request; (status, parsed JSON or None, raw text, content type)."""
    if query:
        path += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    headers = {}
    if body is not None:
        data = json.dumps(body).encode()
        content_type = content_type or "application/json"
    if content_type:
        headers["Content-Type"] = content_type
    if auth:
        user, password = (USER, PASSWORD) if auth is True else auth
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, kind, raw = response.status, response.headers.get_content_type(), response.read().decode()
    except urllib.error.HTTPError as exc:
        status, kind, raw = exc.code, exc.headers.get_content_type(), exc.read().decode()
    try:
        parsed = json.loads(raw) if kind == "application/json" else None
    except ValueError:
        parsed = None
    return status, parsed, raw, kind


def without_timestamps(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: without_timestamps(item) for key, item in value.items() if key != "timestamp"}
    if isinstance(value, list):
        return [without_timestamps(item) for item in value]
    return value


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Our API and DLRN's over the same builds, votes, promotions and user; yields their URLs and data."""
    work = tmp_path_factory.mktemp("side-by-side")
    db = StateDB(work / "state.db")
    builds = {name: add_build(db, "nova", seq) for seq, name in enumerate(("n0", "n1", "n2"))}
    builds["k0"] = add_build(db, "keystone", 3)
    builds["purged"] = add_build(db, "glance", 4)
    builds["failed"] = add_build(db, "glance", 5, status="FAILED")
    with db.writer() as conn:
        conn.execute("UPDATE commits SET flags = ? WHERE id = ?", (FLAG_PURGED, builds["purged"].id))
        conn.execute(
            "INSERT INTO users (username, password, dt_updated) VALUES (?, ?, 1)",
            (USER, passwords.hash_password(PASSWORD, log_n=4)),
        )
    for index, (name, job, success, age) in enumerate(
        [
            ("n0", "puppet", True, 7200),
            ("n0", "tempest", False, 7000),
            ("n1", "puppet", True, 5000),
            ("n1", "consistent", True, 4000),
            ("k0", "tempest", True, 3000),
            ("n2", "packstack", False, 300),
        ]
    ):
        db.record_vote(
            builds[name].repo_hash,
            job,
            success,
            url=f"https://ci/{index}",
            notes=f"run {index}",
            timestamp=NOW - age,
            user=USER,
            commit_id=builds[name].id,
        )
    db.record_promotion(builds["n0"].repo_hash, "old-label", USER, NOW - 100, aggregate_hash=AGGREGATE)
    db.record_vote(AGGREGATE, "periodic", False, url="https://ci/agg", timestamp=NOW - 50, aggregate=True, user=USER)
    repos = work / "ours" / "repos"
    config = ApiConfig(db=work / "state.db", repos_dir=repos, baseurl="http://repo.example/repos")
    for record in builds.values():
        if record.status == "SUCCESS":
            directory = config.layout().commit_dir(record.commit_hash, record.distro_hash, None)
            directory.mkdir(parents=True)
            (directory / "delorean.repo").write_text("[delorean]\n")
    db.close()
    loaded = api_peers.load_dlrn(work / "state.db", work / "dlrn", config.baseurl, USER, PASSWORD, rounds=1000)
    with api_peers.ours(config, work / "ours", 1) as mine, api_peers.dlrn(loaded, work / "dlrn", 1) as theirs:
        yield mine.url, theirs.url, builds, Path(loaded["repos"]), repos


def h(record) -> dict:
    return {"commit_hash": record.commit_hash, "distro_hash": record.distro_hash}


def same(servers, method, path, **options):
    """Send to both; assert equal status and, for successes, equal JSON (timestamps aside); our answer."""
    mine_url, theirs_url = servers[0], servers[1]
    mine = send(mine_url, method, path, **options)
    theirs = send(theirs_url, method, path, **options)
    where = f"{method} {path} {options}"
    assert mine[0] == theirs[0], f"{where}: ours {mine[0]} {mine[2][:300]} | DLRN {theirs[0]} {theirs[2][:300]}"
    assert mine[3] == "application/json" and mine[1] is not None, where
    if mine[0] < 400:
        assert without_timestamps(mine[1]) == without_timestamps(theirs[1]), (
            f"{where}\nours {mine[1]}\nDLRN {theirs[1]}"
        )
    else:
        assert set(mine[1]) == {"message"}, where
    return mine


def test_reads_answer_as_dlrn(servers):
    b = servers[2]
    same(servers, "GET", "/api/health", auth=False)
    for query in (
        h(b["n0"]),
        {**h(b["n0"]), "success": "true"},
        {**h(b["n0"]), "success": "False"},
        {"commit_hash": b["n0"].commit_hash},
        {"commit_hash": "0" * 40, "distro_hash": "1" * 40},
        h(b["failed"]),
        h(b["purged"]),
    ):
        same(servers, "GET", "/api/repo_status", query=query, auth=False)
    for query in ({"aggregate_hash": AGGREGATE}, {"aggregate_hash": AGGREGATE, "success": "true"}, {}):
        same(servers, "GET", "/api/agg_status", query=query, auth=False)
    for query in (
        {"max_age": 0},
        {"max_age": 0, "job_id": "tempest"},
        {"max_age": 0, "job_id": "nobody"},
        {"max_age": 0, "success": "false"},
        {"max_age": 0, "success": "true", "job_id": "packstack"},
        {"max_age": 1},
        {"max_age": 0, "sequential_mode": "true", "previous_job_id": "puppet"},
        {"max_age": 0, "sequential_mode": "true", "previous_job_id": "nobody"},
        {"max_age": 0, "sequential_mode": "true"},
        {"job_id": "puppet"},
    ):
        same(servers, "GET", "/api/last_tested_repo", query=query, auth=False)
    for query in (
        {},
        {"promote_name": "old-label"},
        {"aggregate_hash": AGGREGATE},
        h(b["n0"]),
        {"commit_hash": b["n0"].commit_hash},
        {"limit": 1, "offset": 0},
        {"promote_name": "nothing"},
    ):
        same(servers, "GET", "/api/promotions", query=query, auth=False)
    for query in (
        {"start_date": "2023-01-01", "end_date": "2024-01-01"},
        {"start_date": "2023-01-01", "end_date": "2024-01-01", "package_name": "glance"},
        {"start_date": "2023-01-01"},
        {"start_date": "2023-01-01", "end_date": "tomorrow"},
    ):
        same(servers, "GET", "/api/metrics/builds", query=query, auth=False)
    # Old clients send GET parameters as a JSON body.
    same(servers, "GET", "/api/repo_status", body=h(b["k0"]), auth=False)


def test_writes_answer_as_dlrn_and_leave_the_same_state(servers):
    b = servers[2]
    vote = {"job_id": "side", "url": "https://ci/side", "timestamp": NOW - 10, "success": "true"}
    same(servers, "POST", "/api/report_result", body={**vote, **h(b["k0"])})
    same(servers, "POST", "/api/report_result", body={**vote, **h(b["k0"]), "notes": "with notes"})
    same(servers, "POST", "/api/report_result", body={**vote, "aggregate_hash": AGGREGATE})
    for body in (
        {**vote, "commit_hash": b["k0"].commit_hash},
        {**vote, **h(b["k0"]), "aggregate_hash": AGGREGATE},
        {**vote, "commit_hash": "0" * 40, "distro_hash": "1" * 40},
        {**vote, "aggregate_hash": "0" * 32},
        {key: value for key, value in vote.items() if key != "url"},
        {**vote},
    ):
        same(servers, "POST", "/api/report_result", body=body)
    same(servers, "GET", "/api/repo_status", query=h(b["k0"]), auth=False)
    same(servers, "GET", "/api/agg_status", query={"aggregate_hash": AGGREGATE}, auth=False)
    same(servers, "POST", "/api/last_tested_repo", body={"max_age": 0, "reporting_job_id": "next", "job_id": "side"})
    same(servers, "POST", "/api/last_tested_repo", body={"max_age": 0})
    same(servers, "GET", "/api/repo_status", query=h(b["k0"]), auth=False)
    same(servers, "POST", "/api/promote", body={**h(b["n2"]), "promote_name": "pass-ci"})
    same(servers, "POST", "/api/promote", body={**h(b["n1"]), "promote_name": "pass-ci"})
    for body, status in (
        ({**h(b["n2"]), "promote_name": "current"}, 403),
        ({**h(b["n2"]), "promote_name": "consistent"}, 403),
        ({"commit_hash": "0" * 40, "distro_hash": "1" * 40, "promote_name": "x"}, 400),
        ({**h(b["purged"]), "promote_name": "x"}, 410),
        ({"promote_name": "x"}, 400),
    ):
        assert same(servers, "POST", "/api/promote", body=body)[0] == status
    same(servers, "POST", "/api/promote-batch", body=[{**h(b["n0"]), "promote_name": "batch-ci"}])
    same(servers, "POST", "/api/promote-batch", body=[{**h(b["n0"])}])
    same(servers, "GET", "/api/promotions", auth=False)
    same(servers, "GET", "/api/promotions", query={"promote_name": "pass-ci"}, auth=False)
    mine_repos, theirs_repos = servers[4], servers[3]
    for label in ("pass-ci", "batch-ci"):
        assert (mine_repos / label).readlink() == (theirs_repos / label).readlink()
    # Credentials and media type: the same codes (DLRN's 401 body is text, ours JSON).
    assert same(servers, "POST", "/api/report_result", body=vote, auth=(USER, "wrong"))[0] == 401
    assert same(servers, "POST", "/api/report_result", body=vote, auth=("nobody", "x"))[0] == 401
    assert same(servers, "POST", "/api/promote", data=b"x", content_type="text/plain")[0] == 415
    assert same(servers, "POST", "/api/health", auth=False)[0] == 401
    same(servers, "POST", "/api/health")


@pytest.mark.parametrize(
    ("method", "path", "options", "statuses"),
    [
        # Malformed JSON: DLRN's 400 is an HTML page.
        ("POST", "/api/report_result", {"data": b"{oops", "content_type": "application/json"}, (400, 400)),
        # Not an integer: DLRN's int() raises, a 500.
        ("GET", "/api/last_tested_repo", {"query": {"max_age": "week"}, "auth": False}, (500, 400)),
        ("GET", "/api/promotions", {"query": {"limit": "all"}, "auth": False}, (500, 400)),
        # Not a boolean: DLRN's strtobool raises, a 500.
        ("GET", "/api/last_tested_repo", {"query": {"max_age": 0, "success": "maybe"}, "auth": False}, (500, 400)),
        # An unknown path: DLRN's 404 is an HTML page.
        ("GET", "/api/nothing", {"auth": False}, (404, 404)),
        # An empty batch: DLRN fails on a name it never set, a 500.
        ("POST", "/api/promote-batch", {"body": []}, (500, 400)),
    ],
)
def test_deliberate_differences(servers, method, path, options, statuses):
    dlrn_status, our_status = statuses
    mine = send(servers[0], method, path, **options)
    theirs = send(servers[1], method, path, **options)
    assert theirs[0] == dlrn_status and theirs[1] is None, theirs[:3]
    assert mine[0] == our_status and set(mine[1]) == {"message"}, mine[:3]


def test_a_json_boolean_success_is_a_vote_not_a_500(servers):
    body = {"job_id": "bool", "url": "u", "timestamp": NOW - 5, "success": True, **h(servers[2]["k0"])}
    theirs = send(servers[1], "POST", "/api/report_result", body=body)
    assert theirs[0] == 500 and theirs[1] is None  # DLRN: strtobool(True) raises
    mine = send(servers[0], "POST", "/api/report_result", body=body)
    assert mine[0] == 201 and mine[1]["success"] is True
