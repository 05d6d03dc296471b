"""tempest_results on real streams: same events as python-subunit, same counts as subunit-stats,
rerun semantics, JUnit/JSON/HTML (the page in a real headless browser) and damaged streams."""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
import subunit
from testtools import StreamResult, StreamToDict

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._tempest import html_report, junit, outputs
from ansible_collections.distroforge.openstack.plugins.module_utils._tempest.results import (
    Phase,
    build_report,
    load_phases,
    plain_text,
    read_stream,
    split_test_id,
    split_test_ids,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._tempest.subunit_parse import parse

from .tempest_streams import make_all_skipped_stream, make_many_stream, make_suite_streams

BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
TOKENS = "demo_tempest.test_tokens.TokensV3Test"
USERS = "demo_tempest.test_users.UsersV3TestJSON"
PROJECTS = "demo_tempest.test_users.ProjectsTestJSON"


@pytest.fixture(scope="module")
def streams(tmp_path_factory) -> dict[str, Path]:
    """Real streams: stestr run + rerun of the demo suite, subunit.run of it, and 1,500 generated tests."""
    workdir = tmp_path_factory.mktemp("tempest-streams")
    found = make_suite_streams(workdir)
    found["many"] = make_many_stream(workdir / "many", 1500)
    return found


def _sources(*paths: Path) -> list[tuple[str, bytes]]:
    return [(str(path), path.read_bytes()) for path in paths]


class _Recorder(StreamResult):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple] = []

    def status(self, **kwargs) -> None:
        stamp = kwargs["timestamp"]
        payload = kwargs["file_bytes"]
        tags = kwargs["test_tags"]
        self.events.append(
            (
                kwargs["test_id"],
                kwargs["test_status"],
                frozenset(tags) if tags is not None else None,
                kwargs["runnable"],
                kwargs["file_name"],
                None if payload is None else bytes(payload),
                kwargs["eof"],
                kwargs["mime_type"],
                kwargs["route_code"],
                None if stamp is None else round(stamp.timestamp(), 6),
            )
        )


def python_subunit_events(data: bytes) -> list[tuple]:
    """What python-subunit's own v2 parser passes to status(), in order."""
    recorder = _Recorder()
    subunit.ByteStreamToStreamResult(io.BytesIO(data)).run(recorder)
    return recorder.events


def our_events(data: bytes) -> list[tuple]:
    events, corruption = parse(data)
    assert corruption == []
    return [
        (
            e.test_id,
            e.status,
            e.tags,
            e.runnable,
            e.file_name,
            None if e.file_bytes is None else bytes(e.file_bytes),
            e.eof,
            e.mime_type,
            e.route_code,
            None if e.timestamp is None else round(e.timestamp, 6),
        )
        for e in events
    ]


def assert_writers_match_references(report) -> None:
    """The bulk writers produce what the plain one-test-at-a-time code produces.

    JSON: ``json.dumps`` of the whole document; JUnit: ``junit._case`` per test; HTML: ``html_report._row``.
    """
    document = {
        "summary": report.summary(),
        "corruption": report.corruption(),
        "streams": [
            {"file": stream.path, "size": stream.size, "packets": stream.packets, "tests": stream.tests}
            for stream in report.streams
        ],
        "tests": [test.as_dict() for test in report.tests],
    }
    assert "".join(outputs.json_parts(report)) == json.dumps(document, separators=(",", ":")) + "\n"
    assert json.loads("".join(outputs.json_parts(report))) == json.loads(json.dumps(document))
    assert junit._cases(report.tests) == [
        junit._case(test, junit.attr(test.classname), junit.attr(test.name)) + "\n" for test in report.tests
    ]
    assert html_report._rows(report.tests) == [
        html_report._row(test, html.escape(test.classname), html.escape(test.name)) for test in report.tests
    ]
    ET.fromstring(junit.render(report))


def subunit_stats(path: Path) -> dict[str, int]:
    out = subprocess.run(
        [str(BIN / "subunit-stats")], stdin=path.open("rb"), capture_output=True, text=True, check=False
    ).stdout
    found = dict(re.findall(r"^(Total|Passed|Failed|Skipped) tests:\s+(\d+)$", out, re.MULTILINE))
    return {key.lower(): int(value) for key, value in found.items()}


# --- the parser is python-subunit's, only faster --------------------------------------------------


@pytest.mark.parametrize("name", ["run1", "run2", "last", "plain", "many", "run1+run2"])
def test_parser_yields_python_subunit_events_on_real_streams(streams, name):
    data = b"".join(streams[part].read_bytes() for part in name.split("+"))
    theirs = python_subunit_events(data)
    assert len(theirs) > 10
    assert our_events(data) == theirs


def test_real_streams_have_what_the_parser_must_handle(streams):
    """The corpus is not trivial: route codes, worker tags, chunked attachments, skip reasons."""
    events, _corruption = parse(streams["run1"].read_bytes())
    assert {e.route_code for e in events} >= {"0", "1"}
    assert any(e.tags and "worker-1" in e.tags for e in events)
    log_chunks = [e for e in events if e.file_name == "log"]
    assert len(log_chunks) > 1, "the 200 kB log should come in several packets"
    assert sum(len(e.file_bytes) for e in log_chunks) == 200_000
    assert any(e.file_name == "reason" for e in events)
    assert {e.status for e in events} >= {"exists", "inprogress", "success", "fail", "skip", "xfail", "uxsuccess"}


@pytest.mark.parametrize("name", ["run1", "run2", "last", "plain", "many"])
def test_fold_matches_testtools_stream_to_dict(streams, name):
    """Per stream, tests, statuses, tags and attachments equal testtools' StreamToDict (what subunit-stats uses)."""
    data = streams[name].read_bytes()
    theirs = []
    to_dict = StreamToDict(theirs.append)
    to_dict.startTestRun()
    subunit.ByteStreamToStreamResult(io.BytesIO(data)).run(to_dict)
    to_dict.stopTestRun()
    expected = sorted(
        (
            test["id"],
            test["status"],
            frozenset(test["tags"]),
            {name: b"".join(content.iter_bytes()) for name, content in test["details"].items()},
        )
        for test in theirs
        # "exists" is final for StreamToDict, so its records stand alone; subunit-stats's
        # StreamToExtendedDecorator drops those packets, as we do.
        if test["status"] != "exists"
    )
    _stream, attempts = read_stream(data, 0, name)
    ours = sorted(
        (
            a.test_id,
            a.status,
            a.tags or frozenset(),
            {name: b"".join(chunks) for name, chunks in (a.files or {}).items()},
        )
        for a in attempts
    )
    assert ours == expected


@pytest.mark.parametrize("name", ["run1", "run2", "last", "plain", "many"])
def test_counts_equal_subunit_stats(streams, name):
    stats = subunit_stats(streams[name])
    summary = build_report(_sources(streams[name])).summary()
    assert stats["total"] > 0
    assert summary["total"] == stats["total"]
    assert summary["failed"] == stats["failed"]
    assert summary["skipped"] == stats["skipped"]
    # subunit-stats counts expected failures and unexpected successes as passed.
    assert summary["passed"] + summary["xfail"] + summary["uxsuccess"] == stats["passed"]
    assert summary["flaky"] == 0


def test_counts_of_the_demo_suite_are_the_known_ones(streams):
    summary = build_report(_sources(streams["run1"])).summary()
    expected = {"total": 11, "passed": 3, "failed": 5, "skipped": 1, "xfail": 1, "uxsuccess": 1, "flaky": 0}
    assert {key: summary[key] for key in expected} == expected
    assert summary["success"] is False


def test_a_run_whose_every_test_was_skipped_is_not_a_success(tmp_path):
    """Tempest skips every test of a service the cloud lacks: nothing was tested, so nothing passed."""
    stream = make_all_skipped_stream(tmp_path, 5)
    report = build_report(_sources(stream))
    summary = report.summary()
    assert {key: summary[key] for key in ("total", "passed", "failed", "skipped")} == {
        "total": 5,
        "passed": 0,
        "failed": 0,
        "skipped": 5,
    }
    assert summary["success"] is False
    assert summary["reasons"] == ["no tests ran (5 skipped)"]
    assert "FAILED: 5 tests in" in html_report.render(report)
    assert "no tests ran (5 skipped)" in html_report.render(report)
    # one test that ran (in a rerun here) is enough
    buffer = io.BytesIO()
    writer = subunit.StreamResultToBytes(buffer)
    writer.status(test_id="absent_tests.TestPresent.test_here", test_status="inprogress")
    writer.status(test_id="absent_tests.TestPresent.test_here", test_status="success")
    both = build_report([*_sources(stream), ("rerun.subunit", buffer.getvalue())]).summary()
    assert both["success"] is True and both["reasons"] == []


# --- semantics ------------------------------------------------------------------------------------


def test_split_test_id():
    assert split_test_id("tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token[id-6f8e,smoke]") == (
        "tempest.api.identity.v3.test_tokens.TokensV3Test",
        "test_create_token",
        ("id-6f8e", "smoke"),
    )
    assert split_test_id("setUpClass (tempest.api.identity.admin.v3.test_users.UsersV3TestJSON)") == (
        "tempest.api.identity.admin.v3.test_users.UsersV3TestJSON",
        "setUpClass",
        (),
    )
    assert split_test_id("tearDownModule (tempest.scenario.test_x)") == (
        "tempest.scenario.test_x",
        "tearDownModule",
        (),
    )
    assert split_test_id("pkg.Test.test_a(ipv6.only)[id-1]") == ("pkg.Test", "test_a(ipv6.only)", ("id-1",))
    assert split_test_id("lonely") == ("", "lonely", ())
    # The bulk split (taken when no id has brackets, parentheses or a fixture prefix) agrees.
    plain = ["a.B.test_1", "lonely", "a..b", ".a", "a.", "x.setUpClass"]
    assert split_test_ids(plain) == [split_test_id(test_id) for test_id in plain]
    mixed = [*plain, "setUpClass (a.B)", "a.B.test_a(x.y)[id-1]", "a.B[c]d]"]
    assert split_test_ids(mixed) == [split_test_id(test_id) for test_id in mixed]


def test_plain_text_is_what_no_writer_escapes():
    """Ids the writers copy unescaped are exactly those JSON, XML attributes and HTML all leave alone."""
    for code in range(0x300):
        char = chr(code)
        unchanged = json.dumps(char)[1:-1] == char and junit.attr(char) == char and html.escape(char) == char
        assert plain_text(["a.B.test_", char]) == unchanged, repr(char)


def test_rerun_makes_flaky_not_failed(streams):
    report = build_report(_sources(streams["run1"], streams["run2"]))
    by_name = {test.name: test for test in report.tests}
    flaky = by_name["test_create_project_flaky"]
    assert (flaky.outcome, flaky.attempts) == ("flaky", 2)
    assert "409 Conflict" in flaky.message
    # Failed in both streams: failed, with the last traceback.
    expiry = by_name["test_token_expiry_fails"]
    assert (expiry.outcome, expiry.attempts) == ("failed", 2)
    assert expiry.attrs == ("id-9cfa1c4e-0d2a-4f3e-9a54-1d0b2a52c7b1",)
    assert "token expired early" in expiry.excerpt
    # The class whose setUpClass failed ran in the rerun: the fixture failure was flaky.
    setup = by_name["setUpClass"]
    assert (setup.classname, setup.outcome) == (USERS, "flaky")
    assert by_name["test_list_users"].outcome == "passed"
    summary = report.summary()
    assert {key: summary[key] for key in ("total", "failed", "flaky", "passed")} == {
        "total": 13,
        "failed": 3,
        "flaky": 2,
        "passed": 5,
    }
    assert [entry["test_id"].split("[")[0] for entry in summary["failures"]][:1] == [f"{TOKENS}.test_large_log_failure"]
    # Failures first, then flaky, ..., passed last.
    outcomes = [test.outcome for test in report.tests]
    assert outcomes == sorted(outcomes, key=["failed", "uxsuccess", "flaky", "xfail", "skipped", "passed"].index)


def test_setupclass_failure_without_rerun_is_a_failure_of_its_class(streams):
    report = build_report(_sources(streams["run1"]))
    setup = next(test for test in report.tests if test.name == "setUpClass")
    assert (setup.classname, setup.outcome) == (USERS, "failed")
    assert "could not create the test project" in setup.message
    assert f"{USERS}.test_list_users" not in {t.test_id.split("[")[0] for t in report.tests}


def test_failure_message_comes_from_the_traceback_not_the_log(streams):
    report = build_report(_sources(streams["run1"]))
    big = next(test for test in report.tests if test.name == "test_large_log_failure")
    assert big.message == "AssertionError: see the log attachment"
    assert "--- log ---" in big.details
    assert "characters cut" in big.details  # 200 kB of log is cut to head and tail
    skipped = next(test for test in report.tests if test.outcome == "skipped")
    assert skipped.message == "Federation is not enabled in this cloud"


def test_phases_are_checked():
    assert load_phases([{"name": "deploy", "status": "passed", "duration": "12.5"}])[0].duration == 12.5
    with pytest.raises(InputError, match=r"phases\[1\] \(deploy\): status must be one of passed, failed, skipped"):
        load_phases([{"name": "deploy", "status": "ok"}])
    with pytest.raises(InputError, match=r"phases\[1\]: unknown key 'state'; use changed_resources, details, duration"):
        load_phases([{"name": "deploy", "state": "passed"}])
    with pytest.raises(InputError, match=r"phases\[2\]: give each phase a name"):
        load_phases([{"name": "deploy", "status": "passed"}, {"status": "passed"}])


def test_deploy_puppet_phases_are_accepted_as_they_come():
    # deploy_puppet reports changed_resources; the pipeline passes its phases through unchanged
    phases = load_phases(
        [
            {"name": "deploy", "status": "passed", "duration": 131.3, "changed_resources": 122, "details": ""},
            {"name": "idempotency", "status": "passed", "duration": 47.4, "changed_resources": 0, "message": "rc 0"},
        ]
    )
    assert [p.message for p in phases] == ["(122 resources changed)", "rc 0 (0 resources changed)"]


def test_missing_src_is_a_one_line_error(tmp_path):
    with pytest.raises(InputError, match=r"^src: .*missing.subunit does not exist; point src at"):
        outputs.run([str(tmp_path / "missing.subunit")])


def test_missing_output_directory_fails_in_check_mode_too(streams, tmp_path):
    target = tmp_path / "nowhere" / "results.xml"
    for check_mode in (True, False):
        with pytest.raises(InputError, match=r"^junit: directory .*nowhere does not exist; create it before writing"):
            outputs.run([str(streams["run2"])], junit_path=str(target), check_mode=check_mode)


# --- outputs --------------------------------------------------------------------------------------

PHASES = [
    Phase("deploy", "passed", 161.2),
    Phase("idempotency", "failed", 27.4, "second Puppet run changed 1 resource", "Notice: File[keystone.conf] changed"),
]


def test_junit(streams):
    report = build_report(_sources(streams["run1"], streams["run2"]), PHASES)
    root = ET.fromstring(junit.render(report, "tempest-identity"))
    assert root.tag == "testsuites" and root.get("name") == "tempest-identity"
    suites = {suite.get("name"): suite for suite in root}
    assert list(suites) == ["distroforge.phases", "tempest-identity"]
    phases = suites["distroforge.phases"]
    assert (phases.get("tests"), phases.get("failures")) == ("2", "1")
    idem = phases.find("testcase[@name='idempotency']")
    assert idem.get("classname") == "distroforge.phases" and idem.get("time") == "27.400"
    assert idem.find("failure").get("message") == "second Puppet run changed 1 resource"
    tests = suites["tempest-identity"]
    assert (tests.get("tests"), tests.get("failures"), tests.get("skipped")) == ("13", "4", "1")
    cases = {(case.get("classname"), case.get("name")): case for case in tests}
    assert len(cases) == 13
    create = cases[(TOKENS, "test_create_token")]  # attributes [id-...,smoke] stripped
    assert create.find("failure") is None and float(create.get("time")) >= 0
    expiry = cases[(TOKENS, "test_token_expiry_fails")].find("failure")
    assert "token expired early" in expiry.get("message") and "Traceback" in expiry.text
    assert cases[(TOKENS, "test_federation_skipped")].find("skipped").get("message") == (
        "Federation is not enabled in this cloud"
    )
    assert cases[(TOKENS, "test_fixed_bug_uxsuccess")].find("failure").get("type") == "uxsuccess"
    flaky = cases[(PROJECTS, "test_create_project_flaky")]
    assert flaky.find("failure") is None
    assert flaky.find("properties/property[@name='flaky']").get("value") == "true"
    assert "409 Conflict" in flaky.find("system-out").text
    assert (USERS, "setUpClass") in cases
    assert root.get("tests") == "15" and root.get("failures") == "5"


def test_junit_stays_well_formed_with_hostile_text():
    buffer = io.BytesIO()
    writer = subunit.StreamResultToBytes(buffer)
    nasty = 'x.Y.test_<&>"\x01\x1b[31m'
    writer.status(test_id=nasty, test_status="inprogress")
    writer.status(
        test_id=nasty,
        file_name="traceback",
        file_bytes="Error: <b>&\x07\x0b</b>\ud83d".encode("utf-8", "surrogatepass"),
    )
    writer.status(test_id=nasty, test_status="fail", eof=True)
    report = build_report([("nasty", buffer.getvalue())])
    root = ET.fromstring(junit.render(report))
    case = root.find("testsuite/testcase")
    assert case.get("classname") == "x.Y" and case.get("name").startswith('test_<&>"')
    assert "<b>&" in case.find("failure").text
    page = html_report.render(report)
    assert "test_&lt;&amp;&gt;" in page and "<b>&" not in page


def _hostile_stream(tags: set[str]) -> bytes:
    buffer = io.BytesIO()
    writer = subunit.StreamResultToBytes(buffer)
    for test_id in [
        'a.B.test_"q"',
        "a.B.test_\\u0000[id-\\u0000x,é]",
        "a.B.test_é\x7f\x1b[smoke]",
        "plain.Test.test_ok[id-1]",
    ]:
        writer.status(test_id=test_id, test_status="inprogress", test_tags=tags)
        writer.status(test_id=test_id, test_status="success", test_tags=tags)
    return buffer.getvalue()


@pytest.mark.parametrize("tags", [{"worker-0"}, {"back\\slash", "", "not\\u0000a NUL"}, {""}, set()])
def test_bulk_writers_equal_plain_ones(streams, tags):
    """JSON/JUnit/HTML written in bulk equal the one-test-at-a-time references, escapes included."""
    assert_writers_match_references(build_report(_sources(streams["run1"], streams["run2"]), PHASES))
    assert_writers_match_references(build_report(_sources(streams["many"])))
    hostile = build_report([("hostile", _hostile_stream(tags))])
    assert hostile.counts()["passed"] == 4
    assert_writers_match_references(hostile)
    document = json.loads("".join(outputs.json_parts(hostile)))
    assert {test["test_id"] for test in document["tests"]} >= {'a.B.test_"q"', "a.B.test_\\u0000[id-\\u0000x,é]"}
    assert all(test.get("tags", []) == sorted(tags) for test in document["tests"])


def test_json_and_module_result(streams, tmp_path):
    paths = {name: tmp_path / f"results.{name}" for name in ("json", "junit", "html")}
    kwargs = {f"{name}_path": str(path) for name, path in paths.items()}
    src = [str(streams["run1"]), str(streams["run2"])]
    phases = [{"name": "deploy", "status": "passed", "duration": 10}]
    dry = outputs.run(src, phases=phases, check_mode=True, **kwargs)
    assert dry["changed"] is True and dry["changed_files"] == ["json", "junit", "html"]
    assert not any(path.exists() for path in paths.values()), "check mode must not write"
    first = outputs.run(src, phases=phases, **kwargs)
    assert first["changed"] is True
    document = json.loads(paths["json"].read_text())
    assert document["summary"] == first["summary"]
    assert document["summary"]["phases"][0]["name"] == "deploy"
    assert [test["outcome"] for test in document["tests"][:3]] == ["failed"] * 3
    assert document["corruption"] == [] and first["corruption"] == []
    mtimes = {name: path.stat().st_mtime_ns for name, path in paths.items()}
    again = outputs.run(src, phases=phases, **kwargs)
    assert again["changed"] is False and again["changed_files"] == []
    assert {name: path.stat().st_mtime_ns for name, path in paths.items()} == mtimes
    assert not list(tmp_path.glob(".results.*")), "no file left aside"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium) - HTML not checked")
def test_html_in_headless_chromium(streams, tmp_path):
    page = tmp_path / "results.html"
    report = build_report(_sources(streams["run1"], streams["run2"]), PHASES)
    page.write_text(html_report.render(report, "Identity"))
    assert "http://" not in page.read_text() and "https://" not in page.read_text(), "page must be self-contained"

    def dom(query: str = "") -> str:
        profile = tmp_path / f"profile-{len(query)}"
        argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        argv += ["--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}"]
        argv += ["--dump-dom", page.as_uri() + (f"?q={query}" if query else "")]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert "</html>" in proc.stdout, proc.stderr[-2000:]
        return proc.stdout

    def rows(html: str) -> list[tuple[str, bool]]:
        body = html.split('<tbody id="rows">', 1)[1]
        return [(m.group(1), "hidden" in m.group(2)) for m in re.finditer(r'<tr class="(\w+)"([^>]*)>', body)]

    everything = dom()
    shown = rows(everything)
    assert len(shown) == 13 and not any(hidden for _outcome, hidden in shown)
    assert [outcome for outcome, _hidden in shown[:3]] == ["failed"] * 3
    assert everything.index('id="phases"') < everything.index('id="tests"')
    assert '<span id="shown">13</span>' in everything

    # Search by Tempest attribute (smoke), stripped from the name but kept for search.
    smoke = rows(dom("smoke"))
    assert [outcome for outcome, hidden in smoke if not hidden] == ["passed"]
    # Several words must all match; the traceback text is searchable too.
    found = dom("expired%20early")
    assert [outcome for outcome, hidden in rows(found) if not hidden] == ["failed"]
    assert '<span id="shown">1</span>' in found


# --- damaged streams ------------------------------------------------------------------------------


def _packet_bounds(data: bytes) -> list[tuple[int, int]]:
    events, corruption = parse(data)
    assert corruption == []
    starts = [event.offset for event in events]
    return list(zip(starts, [*starts[1:], len(data)], strict=True))


def test_truncated_stream(streams):
    data = streams["run1"].read_bytes()
    bounds = _packet_bounds(data)
    start, end = bounds[20]
    cut = data[: start + (end - start) // 2]
    events, corruption = parse(cut)
    assert [e.offset for e in events] == [s for s, _end in bounds[:20]]
    assert len(corruption) == 1
    assert (corruption[0].offset, corruption[0].length) == (start, len(cut) - start)
    assert corruption[0].reason.startswith("truncated packet")
    report = build_report([("cut", cut)])
    summary = report.summary()
    assert summary["corrupt"] is True and summary["success"] is False
    assert report.corruption()[0]["offset"] == start


def test_bad_crc_drops_only_that_packet(streams):
    data = bytearray(streams["run1"].read_bytes())
    bounds = _packet_bounds(bytes(data))
    start, end = bounds[10]
    data[end - 5] ^= 0xFF
    events, corruption = parse(bytes(data))
    assert [e.offset for e in events] == [s for s, _end in bounds if s != start]
    assert [(c.offset, c.length) for c in corruption] == [(start, end - start)]
    assert corruption[0].reason.startswith("bad CRC")


def test_garbage_between_packets(streams):
    data = streams["run1"].read_bytes()
    bounds = _packet_bounds(data)
    split = bounds[5][0]
    noisy = data[:split] + b"WARNING: some library printed to stdout\n" + data[split:]
    events, corruption = parse(noisy)
    assert len(events) == len(bounds)
    assert [(c.offset, c.length) for c in corruption] == [(split, 40)]
    assert corruption[0].reason == "bytes that are not subunit v2"
    # The counts are still those of the clean stream.
    clean = build_report([("clean", data)]).summary()
    dirty = build_report([("dirty", noisy)]).summary()
    assert {k: dirty[k] for k in ("total", "failed", "passed")} == {k: clean[k] for k in ("total", "failed", "passed")}


def test_damaged_length_field_does_not_swallow_the_rest(streams):
    data = bytearray(streams["run1"].read_bytes())
    bounds = _packet_bounds(bytes(data))
    start, _end = bounds[3]
    data[start + 3] = 0xBF  # a 3-byte length of ~4 MB: python-subunit would read to EOF
    events, corruption = parse(bytes(data))
    assert len(events) == len(bounds) - 1
    assert corruption[0].offset == start


def test_empty_file_and_not_subunit(tmp_path):
    empty = build_report([("empty.subunit", b"")])
    assert empty.corruption() == [
        {"file": "empty.subunit", "offset": 0, "length": 0, "reason": "empty file: no subunit v2 packet"}
    ]
    assert empty.summary()["success"] is False and empty.summary()["total"] == 0
    text = b"<testsuite name='not subunit'>\n" * 20
    report = build_report([("junit.xml", text)])
    (bad,) = report.corruption()
    assert (bad["offset"], bad["length"]) == (0, len(text))
    assert bad["reason"].startswith("not a subunit v2 stream")
    # Everything goes to the outputs without a traceback.
    ET.fromstring(junit.render(report))
    assert "Damaged subunit stream" in html_report.render(report)


def test_crc_valid_packet_with_inconsistent_flags(streams):
    """python-subunit raises struct.error here; we report the packet and read on."""
    flags = 0x2000 | 0x0800  # version 2, "test id present", but no body
    packet = b"\xb3" + flags.to_bytes(2, "big") + bytes([8])
    packet += zlib.crc32(packet).to_bytes(4, "big")
    with pytest.raises(struct.error):
        python_subunit_events(packet)
    data = packet + streams["run2"].read_bytes()
    events, corruption = parse(data)
    assert [(c.offset, c.length, c.reason) for c in corruption] == [(0, 8, "number runs past the end of the packet")]
    assert len(events) == len(parse(streams["run2"].read_bytes())[0])
