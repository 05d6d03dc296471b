"""The DLRN-compatible REST API through a WSGI test client: every route, DLRN's answers, and hostile input."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import http.server
import itertools
import json
import re
import threading
import time
import types
from pathlib import Path

import pytest
from werkzeug.test import Client

from ansible_collections.distroforge.openstack.plugins.module_utils._api.wsgi import create_app
from ansible_collections.distroforge.openstack.plugins.module_utils._promote import promote as promote_module
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.atomic import exclusive_lock
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.layout import FLAG_PURGED

from .apisite import PASSWORD, USER, Site, basic

NOW = int(time.time())
TOP = Path(__file__).resolve().parents[2]


@pytest.fixture
def site(tmp_path, statedb_target):
    return Site(tmp_path, db=statedb_target)


def hashes(record) -> dict:
    return {"commit_hash": record.commit_hash, "distro_hash": record.distro_hash}


# -- health and the HTTP frame -------------------------------------------------------------------


def test_health_says_whether_the_db_has_commits_and_post_checks_credentials(site):
    assert site.get("/api/health") == (200, {"result": "ok, no commits in DB"})
    site.build()
    assert site.get("/api/health") == (200, {"result": "ok"})
    assert site.post("/api/health", None, content_type=None) == (200, {"result": "ok"})
    status, answer = site.post("/api/health", None, auth=None)
    assert status == 401 and "credentials" in answer["message"]
    assert site.post("/api/health", None, auth=(USER, "wrong"))[0] == 401
    assert site.post("/api/health", None, auth=("nobody", PASSWORD))[0] == 401


def test_unauthorized_answers_ask_for_basic_credentials(site):
    response = site.client.post("/api/report_result", json={})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert response.json == {"message": "Unauthorized Access: send the HTTP basic credentials of an API user"}
    # A header that is not basic auth, or garbage base64, is refused the same way.
    for header in ("Bearer abc", "Basic !!!not-base64", "Basic " + "A" * 10):
        assert site.client.post("/api/report_result", json={}, headers={"Authorization": header}).status_code == 401


def test_unknown_paths_and_methods_answer_json(site):
    status, answer = site.get("/api/nothing-here")
    assert status == 404 and "not found" in answer["message"]
    response = site.client.delete("/api/promote")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert "not allowed" in response.json["message"]
    response = site.client.get("/api/report_result")
    assert response.status_code == 405 and response.mimetype == "application/json"


def documented_routes() -> set[tuple[str, str]]:
    """(method, path) of each row of docs/api.md's Routes table: `GET /api/a`, or `GET /api/a`, `/api/b`."""
    text = (TOP / "docs" / "api.md").read_text().split("\n## Routes\n", 1)[1].split("\n## ", 1)[0]
    routes = set()
    for row in re.findall(r"^\| (`(?:GET|POST) [^|]*)\|", text, re.M):
        method = row.strip("`").split()[0]
        routes |= {(method, path) for path in re.findall(r"`(?:[A-Z]+ )?(/[^`]*)`", row)}
    return routes


def test_the_documented_routes_are_the_served_ones(site):
    served = {
        (method, rule.rule) for rule in site.app._map.iter_rules() for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = documented_routes()
    assert ("POST", "/api/recheck_package") in documented and ("GET", "/metrics") in documented
    assert documented == served, (
        f"docs/api.md's Routes table lists {sorted(documented - served)} that are not served and misses "
        f"{sorted(served - documented)}"
    )
    for method, path in served:
        response = site.client.open(path, method=method)
        assert response.status_code not in (404, 405), (method, path)


# -- request bodies -------------------------------------------------------------------------------


def test_posts_need_a_json_body_else_415_or_400(site):
    record = site.build()
    assert site.post("/api/report_result", None, data="job_id=x", content_type="text/plain") == (
        415,
        {"message": "Unsupported Media Type, use JSON"},
    )
    assert site.post("/api/report_result", None, data="{}", content_type=None)[0] == 415
    for bad in ("{", "[1, 2", '{"job_id": }', "\xff\xfe"):
        status, answer = site.post("/api/report_result", None, data=bad)
        assert status == 400 and answer["message"].startswith("malformed JSON body"), bad
    status, answer = site.post("/api/report_result", ["job_id"])
    assert status == 400 and "JSON object" in answer["message"]
    # A charset parameter is still JSON (DLRN 0.26.1 compares the header literally and says 415).
    body = {"job_id": "j", "url": "u", "timestamp": NOW, "success": True, **hashes(record)}
    assert site.post("/api/report_result", body, content_type="application/json; charset=utf-8")[0] == 201


def test_a_10_mb_body_is_refused_with_413_and_nothing_is_written(site):
    record = site.build()
    body = {"job_id": "big", "url": "u", "timestamp": NOW, "success": True, "notes": "x" * 10_000_000, **hashes(record)}
    status, answer = site.post("/api/report_result", body)
    assert status == 413 and "larger than" in answer["message"]
    assert site.db.votes(record.repo_hash) == []


def test_get_parameters_may_come_in_a_json_body_as_old_clients_send_them(site):
    record = site.build()
    site.vote(record, "tempest")
    status, votes = site.request("GET", "/api/repo_status", body=hashes(record), auth=None, query={"success": "true"})
    assert status == 200 and [vote["job_id"] for vote in votes] == ["tempest"]
    status, answer = site.request("GET", "/api/repo_status", data="{oops", auth=None)
    assert status == 400 and answer["message"].startswith("malformed JSON body")


# -- votes ---------------------------------------------------------------------------------------


def test_report_result_records_a_vote_in_dlrn_shape(site):
    record = site.build()
    answer = site.vote(record, "tempest-full", timestamp=NOW - 60)
    assert answer == {
        "commit_hash": record.commit_hash,
        "distro_hash": record.distro_hash,
        "extended_hash": None,
        "aggregate_hash": None,
        "timestamp": NOW - 60,
        "job_id": "tempest-full",
        "success": True,
        "in_progress": False,
        "url": "https://ci.example/tempest-full",
        "notes": "",
        "user": USER,
        "component": None,
    }
    status, votes = site.get("/api/repo_status", **hashes(record))
    assert status == 200 and votes == [{key: answer[key] for key in votes[0]}]
    assert set(votes[0]) == {
        "timestamp",
        "commit_hash",
        "distro_hash",
        "extended_hash",
        "job_id",
        "success",
        "in_progress",
        "url",
        "notes",
        "user",
        "component",
    }


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"job_id": None}, 400, "job_id"),
        ({"timestamp": "yesterday"}, 400, "timestamp"),
        ({"timestamp": -5}, 400, "timestamp"),
        ({"success": "maybe"}, 400, "success"),
        ({"success": None}, 400, "success"),
        ({"success": 1}, 400, "success"),
        ({"url": 5}, 400, "url"),
        ({"notes": ["x"]}, 400, "notes"),
        ({"colour": "blue"}, 400, "unknown parameter(s) colour"),
        ({"aggregate_hash": "a" * 32}, 400, "cannot be combined"),
        ({"distro_hash": None}, 400, "distro_hash must be provided"),
        ({"commit_hash": None}, 400, "commit_hash must be provided"),
        ({"commit_hash": None, "distro_hash": None}, 400, "Missing parameters"),
        ({"commit_hash": "f" * 40}, 400, ""),
        ({"extended_hash": "abc"}, 400, "extended"),
        ({"job_id": "consistent"}, 400, "consistent"),
    ],
)
def test_report_result_refuses_bad_votes_with_a_message(site, change, status, words):
    record = site.build()
    body = {"job_id": "j", "url": "https://ci", "timestamp": NOW, "success": "true", **hashes(record)}
    body.update(change)
    body = {key: value for key, value in body.items() if value is not None or key in ("success", "job_id")}
    got, answer = site.post("/api/report_result", body)
    assert got == status and words in answer["message"], answer
    assert site.db.votes(record.repo_hash) == []


@pytest.mark.parametrize("missing", ["job_id", "url", "timestamp", "success"])
def test_report_result_names_a_missing_required_field(site, missing):
    record = site.build()
    body = {"job_id": "j", "url": "https://ci", "timestamp": NOW, "success": "true", **hashes(record)}
    del body[missing]
    assert site.post("/api/report_result", body) == (400, {"message": f"Missing parameters: {missing} is required"})


def test_boolean_success_and_string_timestamps_are_accepted(site):
    # DLRN 0.26.1 answers a JSON boolean success with a 500 (strtobool(True)); the CLI sends strings.
    record = site.build()
    for success, expected in ((True, True), (False, False), ("Yes", True), ("0", False)):
        body = {"job_id": f"j{success}", "url": "u", "timestamp": str(NOW), "success": success, **hashes(record)}
        status, answer = site.post("/api/report_result", body)
        assert (status, answer["success"], answer["timestamp"]) == (201, expected, NOW)


def test_a_purged_build_gets_no_vote(site):
    record = site.build()
    with site.db.writer() as conn:
        conn.execute("UPDATE commits SET flags = flags | ? WHERE id = ?", (FLAG_PURGED, record.id))
    body = {"job_id": "j", "url": "u", "timestamp": NOW, "success": "true", **hashes(record)}
    status, answer = site.post("/api/report_result", body)
    assert status == 410 and "purged" in answer["message"]


def test_every_report_is_recorded_as_dlrn_does(site):
    record = site.build()
    site.vote(record, "tempest", timestamp=NOW)
    site.vote(record, "tempest", timestamp=NOW)
    assert len(site.db.votes(record.repo_hash)) == 2


def test_repo_status_filters_and_refuses(site):
    record = site.build()
    site.vote(record, "a", True, NOW - 3)
    site.vote(record, "b", False, NOW - 2)
    assert [v["job_id"] for v in site.get("/api/repo_status", **hashes(record), success="true")[1]] == ["a"]
    assert [v["job_id"] for v in site.get("/api/repo_status", **hashes(record), success="False")[1]] == ["b"]
    assert [v["job_id"] for v in site.get("/api/repo_status", **hashes(record))[1]] == ["a", "b"]
    assert site.get("/api/repo_status", commit_hash=record.commit_hash) == (400, {"message": "Missing parameters"})
    assert site.get("/api/repo_status", commit_hash="0" * 40, distro_hash="1" * 40) == (
        400,
        {"message": "commit_hash+distro_hash+extended_hash combination not found"},
    )
    assert site.get("/api/repo_status", **hashes(record), success="perhaps")[0] == 400
    status, answer = site.get("/api/repo_status", **hashes(record), sucess="true")
    assert status == 400 and "unknown parameter(s) sucess" in answer["message"]
    # A failed build has no repo status, as in DLRN.
    failed = site.build(status="FAILED")
    assert site.get("/api/repo_status", **hashes(failed))[0] == 400


def test_agg_status_lists_votes_on_an_aggregate(site):
    record = site.build()
    aggregate = hashlib.md5(b"joined repo files").hexdigest()
    site.db.record_promotion(record.repo_hash, "tripleo-ci", "ci", NOW, aggregate_hash=aggregate)
    body = {"job_id": "periodic", "url": "https://ci", "timestamp": NOW, "success": "false"}
    status, answer = site.post("/api/report_result", {**body, "aggregate_hash": aggregate})
    assert status == 201 and answer["aggregate_hash"] == aggregate and answer["commit_hash"] is None
    assert site.post("/api/report_result", {**body, "aggregate_hash": "0" * 32})[0] == 400
    status, votes = site.get("/api/agg_status", aggregate_hash=aggregate)
    assert status == 200 and votes == [
        {
            "timestamp": NOW,
            "aggregate_hash": aggregate,
            "job_id": "periodic",
            "success": False,
            "in_progress": False,
            "url": "https://ci",
            "notes": "",
            "user": USER,
        }
    ]
    assert site.get("/api/agg_status", aggregate_hash=aggregate, success="true") == (200, [])
    assert site.get("/api/agg_status") == (400, {"message": "Missing parameters"})


# -- last_tested_repo -------------------------------------------------------------------------------


def test_last_tested_repo_follows_dlrn_rules(site):
    old, mid, new = site.build(), site.build(), site.build()
    site.vote(old, "tempest", True, NOW - 5 * 3600)
    site.vote(mid, "puppet", False, NOW - 600)
    site.vote(new, "consistent-only", True, NOW - 60)

    def last(**query):
        status, answer = site.get("/api/last_tested_repo", **query)
        return answer["commit_hash"] if status == 200 else (status, answer["message"])

    assert last(max_age=0) == new.commit_hash
    assert last(max_age=0, job_id="tempest") == old.commit_hash
    assert last(max_age=1, job_id="tempest") == new.commit_hash  # no tempest vote in the hour: any CI's
    assert last(max_age=0, success="false") == mid.commit_hash
    assert last(max_age=1, success="true", job_id="puppet") == new.commit_hash
    assert last(max_age=0, sequential_mode="true", previous_job_id="puppet") == mid.commit_hash
    assert last(max_age=0, sequential_mode="true", previous_job_id="nobody") == (400, "No vote found")
    assert last(max_age=0, sequential_mode="true") == (400, "Missing parameter previous_job_id")
    assert last() == (400, "Missing parameters")
    assert last(max_age="a day")[0] == 400
    assert last(max_age=0, sequential_mode="sometimes")[0] == 400
    assert last(max_age=-2) == (400, "No vote found")
    assert site.get("/api/last_tested_repo", max_age=0, job_id="tempest")[0] == 200
    answer = site.get("/api/last_tested_repo", max_age=0, job_id="tempest")[1]
    assert answer == {
        "commit_hash": old.commit_hash,
        "distro_hash": old.distro_hash,
        "extended_hash": None,
        "timestamp": NOW - 5 * 3600,
        "job_id": "tempest",
        "success": True,
        "in_progress": False,
        "user": USER,
        "component": None,
    }


def test_last_tested_repo_skips_consistent_first_and_filters_components(tmp_path, statedb_target):
    site = Site(tmp_path, use_components=True, db=statedb_target)
    tooling, compute = site.build("a", component="tooling"), site.build("b", component="compute")
    site.vote(tooling, "tempest", True, NOW - 100)
    site.db.record_vote(compute.repo_hash, "consistent", True, timestamp=NOW - 10)
    status, answer = site.get("/api/last_tested_repo", max_age=0)
    assert (status, answer["commit_hash"], answer["component"]) == (200, tooling.commit_hash, "tooling")
    assert site.get("/api/last_tested_repo", max_age=0, component="compute")[1]["job_id"] == "consistent"
    assert site.get("/api/last_tested_repo", max_age=0, component="network") == (400, {"message": "No vote found"})


def test_post_last_tested_repo_adds_an_in_progress_vote(site):
    record = site.build()
    site.vote(record, "puppet", True, NOW - 60)
    body = {"max_age": 24, "reporting_job_id": "tempest", "job_id": "puppet", "success": "true"}
    status, answer = site.post("/api/last_tested_repo", body)
    assert status == 201
    assert {key: answer[key] for key in ("commit_hash", "job_id", "success", "in_progress", "user")} == {
        "commit_hash": record.commit_hash,
        "job_id": "tempest",
        "success": False,
        "in_progress": True,
        "user": USER,
    }
    votes = site.get("/api/repo_status", **hashes(record))[1]
    assert [(v["job_id"], v["in_progress"], v["url"], v["notes"]) for v in votes] == [
        ("puppet", False, "https://ci.example/puppet", ""),
        ("tempest", True, "", ""),
    ]
    assert site.post("/api/last_tested_repo", {"max_age": 24})[0] == 400
    assert site.post("/api/last_tested_repo", {"max_age": 24, "reporting_job_id": "x"}, auth=None)[0] == 401
    assert site.post("/api/last_tested_repo", {"reporting_job_id": "x", "max_age": 0, "job": "y"})[0] == 400
    status, answer = site.post("/api/last_tested_repo", {"max_age": 24, "reporting_job_id": "x", "job_id": "nobody"})
    assert status == 201 and answer["job_id"] == "x"


# -- promotions -------------------------------------------------------------------------------------


def test_promote_moves_a_relative_label_link_and_records_it(site):
    first, second = site.build(), site.build()
    body = {**hashes(first), "promote_name": "puppet-passed-ci"}
    status, answer = site.post("/api/promote", body)
    assert status == 201
    assert answer == {
        "commit_hash": first.commit_hash,
        "distro_hash": first.distro_hash,
        "extended_hash": None,
        "repo_hash": first.repo_hash,
        "repo_url": f"{site.config.baseurl}/{first.repo_path}",
        "promote_name": "puppet-passed-ci",
        "component": None,
        "timestamp": answer["timestamp"],
        "user": USER,
        "aggregate_hash": None,
    }
    assert site.label("puppet-passed-ci") == first.repo_path
    assert site.post("/api/promote", {**hashes(second), "promote_name": "puppet-passed-ci"})[0] == 201
    assert site.label("puppet-passed-ci") == second.repo_path
    # The promoter keeps previous-<label> itself through the API, as with DLRN.
    assert site.post("/api/promote", {**hashes(first), "promote_name": "previous-puppet-passed-ci"})[0] == 201
    # The same promotion again is recorded again (DLRN adds a row per request).
    assert site.post("/api/promote", {**hashes(second), "promote_name": "puppet-passed-ci"})[0] == 201
    status, rows = site.get("/api/promotions", promote_name="puppet-passed-ci")
    assert [row["commit_hash"] for row in rows] == [second.commit_hash, second.commit_hash, first.commit_hash]


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("current", 403),
        ("consistent", 403),
        ("../escape", 403),
        ("a/b", 403),
        (".hidden", 403),
        ("component", 403),
        ("x" * 300, 403),
        ("", 403),
        (5, 403),
    ],
)
def test_promote_refuses_reserved_and_path_names(site, name, status):
    record = site.build()
    got, answer = site.post("/api/promote", {**hashes(record), "promote_name": name})
    assert got == status and answer["message"], answer
    assert sorted(p.name for p in site.layout.repos_dir.iterdir() if p.is_symlink()) == []


def test_promote_refuses_unknown_purged_and_unpublished_builds(site):
    published = site.build()
    unpublished = site.build(publish=False)
    failed = site.build(status="FAILED")
    cases = [
        ({"commit_hash": "0" * 40, "distro_hash": "1" * 40}, 400),
        (hashes(unpublished), 400),
        (hashes(failed), 400),
        ({"commit_hash": published.commit_hash}, 400),
        ({**hashes(published), "extended_hash": "abc"}, 400),
        ({**hashes(published), "priority": 1}, 400),
    ]
    for body, status in cases:
        got, answer = site.post("/api/promote", {"promote_name": "ci", **body})
        assert got == status and answer["message"], (body, answer)
    with site.db.writer() as conn:
        conn.execute("UPDATE commits SET flags = flags | ? WHERE id = ?", (FLAG_PURGED, published.id))
    assert site.post("/api/promote", {**hashes(published), "promote_name": "ci"})[0] == 410
    assert site.label("ci") is None and site.db.promotions() == []


def test_promote_batch_is_all_or_nothing(site):
    a, b = site.build("a"), site.build("b")
    assert site.post("/api/promote", {**hashes(a), "promote_name": "one"})[0] == 201
    rows_before = len(site.db.promotions())
    batch = [
        {**hashes(b), "promote_name": "one"},
        {"commit_hash": "0" * 40, "distro_hash": "1" * 40, "promote_name": "two"},
    ]
    status, answer = site.post("/api/promote-batch", batch)
    assert status == 400 and answer["message"]
    assert site.label("one") == a.repo_path and site.label("two") is None
    assert len(site.db.promotions()) == rows_before
    batch[1] = {**hashes(a), "promote_name": "two"}
    status, answer = site.post("/api/promote-batch", batch)
    assert status == 201 and answer["promote_name"] == "two" and answer["commit_hash"] == a.commit_hash
    assert (site.label("one"), site.label("two")) == (b.repo_path, a.repo_path)
    for body in ([], {}, [["x"]], [{"commit_hash": a.commit_hash}], "text"):
        status, answer = site.post("/api/promote-batch", body)
        assert status == 400 and answer["message"], body


def test_promote_batch_with_components_recomputes_the_aggregate(tmp_path, statedb_target):
    site = Site(tmp_path, use_components=True, db=statedb_target)
    tooling, compute = site.build("a", component="tooling"), site.build("b", component="compute")
    batch = [{**hashes(tooling), "promote_name": "tested"}, {**hashes(compute), "promote_name": "tested"}]
    status, answer = site.post("/api/promote-batch", batch)
    assert status == 201
    joined = (site.layout.repos_dir / "tested" / "delorean.repo").read_text()
    assert answer["aggregate_hash"] == hashlib.md5(joined.encode()).hexdigest()
    assert "[delorean-component-compute]" in joined and "[delorean-component-tooling]" in joined
    assert site.label("tested", "tooling") == tooling.repo_path
    rows = site.get("/api/promotions", aggregate_hash=answer["aggregate_hash"])[1]
    assert [row["component"] for row in rows] == ["compute"]
    assert rows[0]["repo_url"] == f"{site.config.baseurl}/component/compute/{compute.repo_path}"
    assert [row["component"] for row in site.get("/api/promotions", component="tooling")[1]] == ["tooling"]


def test_concurrent_promotions_of_one_label_serialize_and_agree(tmp_path, statedb_target):
    site = Site(tmp_path, db=statedb_target)
    builds = [site.build(f"p{i}") for i in range(6)]

    # Waiting is what the turns are about: a loaded machine must not turn them into 503s.
    config = dataclasses.replace(site.config, lock_timeout=120.0)

    # Each thread has its own app, as gunicorn workers are separate processes. They are made here:
    # Python 3.11.2's compiler (Werkzeug compiles its routes) is not safe to run in several threads at once.
    clients = [Client(create_app(config)) for _record in builds]

    def promote(pair):
        client, record = pair
        body = {**hashes(record), "promote_name": "race"}
        response = client.post("/api/promote", json=body, headers=basic(USER, PASSWORD))
        return response.status_code, response.json["message"] if response.status_code != 201 else ""

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(promote, zip(clients, builds, strict=True)))
    assert results == [(201, "")] * 6
    rows = site.db.promotions("race")
    assert len(rows) == 6
    # The link and the newest row name the same build: no promotion was half-applied.
    assert site.label("race").endswith(rows[0].ref_hash)


def test_promotions_queued_on_the_lock_record_rows_in_the_order_links_move(tmp_path, monkeypatch, statedb_target):
    """A promotion's time is taken once it holds the lock: waiting behind others must not date it before them."""
    site = Site(tmp_path, db=statedb_target)
    builds = [site.build(f"q{i}") for i in range(8)]
    config = dataclasses.replace(site.config, lock_timeout=120.0)
    ticks = itertools.count(1_800_000_000)
    monkeypatch.setattr(promote_module, "time", types.SimpleNamespace(time=lambda: next(ticks)))
    real_write = promote_module.journal.write

    def slow_write(*args):
        time.sleep(0.05)  # the others queue on the lock meanwhile
        return real_write(*args)

    monkeypatch.setattr(promote_module.journal, "write", slow_write)

    clients = [Client(create_app(config)) for _record in builds]  # made in one thread: see above

    def promote(pair):
        client, record = pair
        body = {**hashes(record), "promote_name": "queue"}
        response = client.post("/api/promote", json=body, headers=basic(USER, PASSWORD))
        return response.status_code, response.json["message"] if response.status_code != 201 else ""

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(promote, zip(clients, builds, strict=True)))
    assert results == [(201, "")] * 8
    rows = site.db.promotions("queue")
    assert [row.id for row in rows] == sorted((row.id for row in rows), reverse=True)
    assert site.label("queue").endswith(rows[0].ref_hash)


def test_a_promotion_waiting_too_long_for_the_lock_answers_503(site):
    record = site.build()
    config = dataclasses.replace(site.config, lock_timeout=0.3)
    client = Client(create_app(config))
    with exclusive_lock(site.layout.lock, 5, "a publisher"):
        response = client.post(
            "/api/promote", json={**hashes(record), "promote_name": "busy"}, headers=basic(USER, PASSWORD)
        )
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "try again" in response.json["message"]
    assert site.label("busy") is None and site.db.promotions() == []


def test_concurrent_votes_are_all_recorded(tmp_path, statedb_target):
    site = Site(tmp_path, db=statedb_target)
    record = site.build()
    config = dataclasses.replace(site.config, lock_timeout=120.0)

    clients = [Client(create_app(config)) for _index in range(16)]  # made in one thread: see above

    def vote(index):
        client = clients[index]
        body = {"job_id": f"job{index}", "url": "u", "timestamp": NOW, "success": "true", **hashes(record)}
        return client.post("/api/report_result", json=body, headers=basic(USER, PASSWORD)).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert list(pool.map(vote, range(16))) == [201] * 16
    assert len(site.db.votes(record.repo_hash)) == 16


def test_promotions_filters_and_pages(site):
    builds = [site.build() for _index in range(3)]
    for index in range(105):
        record = builds[index % 3]
        site.db.record_promotion(record.repo_hash, f"label{index % 2}", "ci", NOW + index, commit_id=record.id)
    status, rows = site.get("/api/promotions")
    assert status == 200 and len(rows) == 100 and rows[0]["timestamp"] == NOW + 104
    assert len(site.get("/api/promotions", limit=500)[1]) == 100
    assert [r["timestamp"] for r in site.get("/api/promotions", offset=100)[1]] == [NOW + i for i in range(4, -1, -1)]
    assert site.get("/api/promotions", limit=0) == (200, [])
    assert {r["promote_name"] for r in site.get("/api/promotions", promote_name="label1")[1]} == {"label1"}
    rows = site.get("/api/promotions", **hashes(builds[1]), limit=3)[1]
    assert [r["repo_hash"] for r in rows] == [builds[1].repo_hash] * 3
    for query, words in (
        ({"commit_hash": builds[0].commit_hash}, "Both commit_hash and distro_hash"),
        ({"limit": "many"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"commit_hash": "0" * 40, "distro_hash": "1" * 40}, "not found"),
        ({"name": "x"}, "unknown parameter"),
    ):
        status, answer = site.get("/api/promotions", **query)
        assert status == 400 and words in answer["message"], query


# -- builds ---------------------------------------------------------------------------------------


def test_metrics_builds_counts_between_dates(site):
    for status in ("SUCCESS", "SUCCESS", "FAILED"):
        site.build("nova", status=status)
    site.build("glance", status="FAILED")
    # add_build dates its builds in November 2023.
    query = {"start_date": "2023-11-01", "end_date": "2023-12-01"}
    assert site.get("/api/metrics/builds", **query) == (200, {"succeeded": 2, "failed": 2, "total": 4})
    assert site.get("/api/metrics/builds", **query, package_name="glance")[1] == {
        "succeeded": 0,
        "failed": 1,
        "total": 1,
    }
    assert site.get("/api/metrics/builds", start_date="2024-01-01", end_date="2024-02-01")[1]["total"] == 0
    assert site.get("/api/metrics/builds", start_date="2023-11-01") == (400, {"message": "Missing parameters"})
    status, answer = site.get("/api/metrics/builds", start_date="01/11/2023", end_date="2023-12-01")
    assert status == 400 and answer["message"].startswith("Invalid date format, it must be YYYY-mm-dd")


def test_prometheus_metrics_count_builds_per_status(site):
    site.build(status="SUCCESS")
    site.build(status="FAILED")
    response = site.client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert f'dlrn_builds_succeeded_total{{baseurl="{site.config.baseurl}"}} 1.0' in text
    assert f'dlrn_builds_failed_total{{baseurl="{site.config.baseurl}"}} 1.0' in text
    assert f'dlrn_builds_total{{baseurl="{site.config.baseurl}"}} 2.0' in text
    assert "# TYPE dlrn_builds_retry_total counter" in text


def test_recheck_package_rebuilds_the_last_failed_build(site):
    site.build("nova", status="SUCCESS")
    failed = site.build("nova", status="FAILED")
    assert site.post("/api/recheck_package", {"package_name": "nova"}) == (201, {"result": "ok"})
    # builders take it again (RETRY is pending) without waiting for a poll
    assert site.db.get(failed.id).status == "RETRY" and failed.id in [c.id for c in site.db.pending()]
    status, answer = site.post("/api/recheck_package", {"package_name": "nova"})
    assert status == 409 and "successful" in answer["message"]
    assert site.post("/api/recheck_package", {"package_name": "glance"})[0] == 400
    site.build("glance", status="FAILED")
    assert site.request("POST", "/api/recheck_package", query={"package_name": "glance"}, content_type=None)[0] == 201
    assert site.post("/api/recheck_package", {"package_name": "glance"}, auth=None)[0] == 401
    assert site.post("/api/recheck_package", {"package": "glance"})[0] == 400


# -- remote import --------------------------------------------------------------------------------


@pytest.fixture
def remote_repo():
    """A loopback HTTP server serving one build's commit.yaml, as another DLRN publishes it."""
    files = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"not found")

        def log_message(self, *args):
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()


def commit_yaml(**values: str) -> bytes:
    base = {
        "artifacts": "repos/ab/cd/abcd_ef/python-remote-1.0-1.noarch.rpm,repos/ab/cd/abcd_ef/remote.src.rpm",
        "commit_branch": "master",
        "commit_hash": "ab" * 20,
        "component": "None",
        "distro_hash": "ef" * 20,
        "dt_build": "1700000500",
        "dt_commit": "1700000000.0",
        "dt_distro": "1700000100",
        "notes": "OK",
        "project_name": "python-remote",
        "status": "SUCCESS",
    }
    base.update(values)
    return (
        "commits:\n"
        + "".join(f"{'-' if i == 0 else ' '} {k}: {json.dumps(v)}\n" for i, (k, v) in enumerate(sorted(base.items())))
    ).encode()


def test_remote_import_records_the_remote_build(site, remote_repo):
    url, files = remote_repo
    files["/ab/cd/build/commit.yaml"] = commit_yaml()
    status, answer = site.post("/api/remote/import", {"repo_url": f"{url}/ab/cd/build"})
    assert (status, answer) == (201, {"repo_url": f"{url}/ab/cd/build"})
    (record,) = site.db.commits(project="python-remote")
    assert (record.status, record.commit_hash, record.dt_commit, record.artifacts) == (
        "SUCCESS",
        "ab" * 20,
        1700000000,
        ["python-remote-1.0-1.noarch.rpm", "remote.src.rpm"],
    )
    # An older build of the same package is skipped, as DLRN does.
    files["/old/commit.yaml"] = commit_yaml(commit_hash="cd" * 20, dt_commit="1600000000", dt_distro="1600000000")
    assert site.post("/api/remote/import", {"repo_url": f"{url}/old"})[0] == 201
    assert len(site.db.commits(project="python-remote")) == 1


def test_remote_import_refuses_bad_urls_and_documents(site, remote_repo):
    url, files = remote_repo
    files["/garbage/commit.yaml"] = b"\x00\xff not yaml"
    files["/nolist/commit.yaml"] = b"commits: 5\n"
    files["/status/commit.yaml"] = commit_yaml(status="BUILDING")
    for repo_url, status in (
        ("file:///etc", 400),
        ("ftp://example/x", 400),
        ("not a url", 400),
        (f"{url}/missing", 400),
        (f"{url}/garbage", 400),
        (f"{url}/nolist", 400),
        (f"{url}/status", 400),
        ("http://127.0.0.1:9/nothing-listens", 502),
    ):
        got, answer = site.post("/api/remote/import", {"repo_url": repo_url})
        assert got == status and "remote/import" in answer["message"], (repo_url, answer)
    assert site.post("/api/remote/import", {})[0] == 400
    assert site.db.commits() == []


# -- civotes pages --------------------------------------------------------------------------------


def test_civotes_pages_render_votes_escaped(site):
    record = site.build()
    site.vote(record, "tempest", True, NOW - 10)
    site.post(
        "/api/report_result",
        {
            "job_id": "<script>alert(1)</script>",
            "url": "javascript:alert(1)",
            "timestamp": NOW,
            "success": "false",
            "notes": "<b>bold</b>",
            **hashes(record),
        },
    )
    status, html = site.get("/api/civotes.html")
    assert status == 200 and f"{record.commit_hash}_{record.distro_hash[:8]}" in html
    assert ">1</a>" in html  # one success and one failure on this page
    status, html = site.get("/api/civotes_detail.html", **hashes(record))
    assert status == 200 and "https://ci.example/tempest" in html
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;bold" in html
    assert 'href="javascript:' not in html
    assert "tempest" in site.get("/api/civotes_detail.html", ci_name="tempest")[1]
    assert site.get("/api/civotes_detail.html")[0] == 400
    assert site.get("/api/civotes.html", offset="x")[0] == 400


def test_civotes_agg_pages(site):
    record = site.build()
    aggregate = "c" * 32
    site.db.record_promotion(record.repo_hash, "tripleo-ci", "ci", NOW, aggregate_hash=aggregate)
    site.post(
        "/api/report_result",
        {"job_id": "agg-job", "url": "u", "timestamp": NOW, "success": "true", "aggregate_hash": aggregate},
    )
    status, html = site.get("/api/civotes_agg.html")
    assert status == 200 and aggregate in html
    status, html = site.get("/api/civotes_agg_detail.html", ref_hash=aggregate)
    assert status == 200 and "agg-job" in html
    assert site.get("/api/civotes_agg_detail.html")[0] == 400
