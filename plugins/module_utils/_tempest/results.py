"""One result per test from a first Tempest run and its reruns.

Within one stream, events are folded the way testtools' ``StreamToDict``
(and so ``subunit-stats``) does it: per (test id, route code), the last
status wins and a test is complete at its first final status; a test still
``inprogress`` when its stream ends counts as failed.  Across streams the
last attempt wins, and a test whose last attempt passed after an earlier
failure is *flaky*, not failed.  On one stream the counts equal
``subunit-stats``: its "passed" is our passed + xfail + uxsuccess.
"""

from __future__ import annotations

import heapq
import re
from collections import deque
from collections.abc import Iterable, Sequence
from itertools import islice, repeat
from operator import itemgetter

from .._common.errors import InputError
from .._runs.verdict import test_reasons
from .subunit_parse import Corruption, fold

OUTCOMES = ("failed", "uxsuccess", "flaky", "xfail", "skipped", "passed")
# "failures first": the order of the HTML page, the JSON test list and JUnit.
OUTCOME_RANK = {outcome: rank for rank, outcome in enumerate(OUTCOMES)}
PHASE_STATUSES = ("passed", "failed", "skipped")
# changed_resources: what deploy_puppet's phases carry (Puppet resources changed by that apply).
_PHASE_KEYS = frozenset(("name", "status", "duration", "message", "details", "changed_resources"))

_FAILED_STATUSES = frozenset(("fail", "inprogress", "unknown"))
_STATUS_OUTCOME = {
    "success": "passed",
    "fail": "failed",
    "inprogress": "failed",
    "unknown": "failed",
    "skip": "skipped",
    "xfail": "xfail",
    "uxsuccess": "uxsuccess",
}
# unittest reports a failing class or module fixture as one pseudo-test,
# e.g. "setUpClass (tempest.api.identity.admin.v3.test_users.UsersV3TestJSON)".
_FIXTURE = re.compile(r"^(setUpClass|tearDownClass|setUpModule|tearDownModule) \((.+)\)$")
_FIXTURE_PREFIXES = ("setUp", "tearDown")
# Anything but printable ASCII without " & ' < > and backslash.
_NEEDS_ESCAPE = re.compile(r"[^ !#-%(-;=?-\[\]-~]")
EXCERPT_LINES = 15
EXCERPT_CHARS = 2000
MESSAGE_CHARS = 300
# A test's attachments are kept up to this size (head and tail) in reports.
DETAILS_HEAD = 16 * 1024
DETAILS_TAIL = 48 * 1024


def split_test_id(test_id: str) -> tuple[str, str, tuple[str, ...]]:
    """Return (classname, name, attributes) of a test id.

    Tempest ids end with an attribute list, ``...Test.test_x[id-<uuid>,smoke]``:
    it is dropped from classname and name and returned apart (search still
    sees it through the id).  Fixture failures get the class (or module)
    as classname and the fixture as name.
    """
    if test_id.startswith(_FIXTURE_PREFIXES):
        fixture = _FIXTURE.match(test_id)
        if fixture:
            return fixture.group(2), fixture.group(1), ()
    base, attrs = test_id, ()
    if test_id.endswith("]"):
        start = test_id.rfind("[")
        if start > 0:
            base = test_id[:start]
            attrs = tuple(filter(None, test_id[start + 1 : -1].split(",")))
    if "(" not in base:
        classname, _dot, name = base.rpartition(".")
        return classname, name, attrs
    # A scenario suffix "(name)" may hold dots: split before it.
    dot = base.rfind(".", 0, base.find("("))
    if dot < 0:
        return "", base, attrs
    return base[:dot], base[dot + 1 :], attrs


def _may_hold_fixtures(joined: str) -> bool:
    """Whether test ids joined on newlines may hold a fixture id (``setUpClass (...)``)."""
    return joined.startswith(_FIXTURE_PREFIXES) or "\nsetUp" in joined or "\ntearDown" in joined


def split_test_ids(test_ids: list[str], joined: str | None = None) -> list[tuple[str, str, tuple[str, ...]]]:
    """:func:`split_test_id` of many ids (``joined``: them joined on newlines, if at hand).

    Ids without ``[``, ``(`` or a fixture prefix (nearly every run but Tempest's) split in bulk.
    """
    if joined is None:
        joined = "\n".join(test_ids)
    if "(" in joined or "]" in joined or _may_hold_fixtures(joined):
        return list(map(split_test_id, test_ids))
    return [(classname, name, ()) for classname, _dot, name in map(str.rpartition, test_ids, repeat("."))]


def plain_text(values: list[str]) -> bool:
    """Whether JSON strings, XML attributes and HTML all carry these strings as they are.

    True for printable ASCII without ``"``, ``&``, ``'``, ``<``, ``>`` and backslash:
    nearly every test id.  Then the writers skip their escaping passes.
    """
    return _NEEDS_ESCAPE.search("".join(values)) is None


def duration_texts(tests: list[TestResult]) -> list[str]:
    """Each test's duration with three decimals, ``0.000`` when unknown (JUnit's time, HTML's sort key)."""
    return [f"{test.duration or 0.0:.3f}" for test in tests]


class Attempt:
    """One run of a test in one stream (a plain class: there is one per test and run)."""

    __slots__ = ("end", "files", "start", "status", "stream", "tags", "test_id")

    def __init__(self, record: list) -> None:
        # A fold record plus the stream's index: [test id, status, tags, start, end, files, stream].
        self.test_id, self.status, self.tags, self.start, self.end, self.files, self.stream = record

    @property
    def duration(self) -> float | None:
        """Seconds between the first and the last timestamp of the test."""
        if self.start is None or self.end is None:
            return None
        return max(0.0, self.end - self.start)

    def text(self, name: str) -> str:
        """One attachment as text (chunks joined), or ""."""
        if not self.files or name not in self.files:
            return ""
        return b"".join(self.files[name]).decode("utf-8", "replace")


# Plain classes with __slots__ rather than dataclasses: importing dataclasses
# (and inspect with it) costs a cold process ~7 ms, and there is one
# TestResult per test.


class StreamRead:
    """What one source file held."""

    __slots__ = ("corruption", "first", "last", "packets", "path", "size", "tests")

    def __init__(self, path: str, size: int) -> None:
        self.path = path
        self.size = size
        self.packets = 0
        self.tests = 0
        self.first: float | None = None
        self.last: float | None = None
        self.corruption: list[Corruption] = []

    @property
    def duration(self) -> float:
        """Wall time of the run from its first to its last timestamp."""
        if self.first is None or self.last is None:
            return 0.0
        return self.last - self.first


class TestResult:
    """The verdict on one test across all streams."""

    __slots__ = ("attempts", "attrs", "classname", "details", "duration", "excerpt", "message", "name", "outcome")
    __slots__ += ("tags", "test_id")

    def __init__(  # noqa: PLR0917 - one field each, in the order of the JSON keys
        self,
        test_id: str,
        classname: str,
        name: str,
        attrs: tuple[str, ...],
        outcome: str,
        duration: float | None,
        attempts: int,
        tags: tuple[str, ...] = (),
        message: str = "",
        excerpt: str = "",
        details: str = "",
    ) -> None:
        self.test_id = test_id
        self.classname = classname
        self.name = name
        self.attrs = attrs
        self.outcome = outcome
        self.duration = duration
        self.attempts = attempts
        self.tags = tags
        self.message = message
        self.excerpt = excerpt
        self.details = details

    def as_dict(self) -> dict:
        """JSON-ready dict; keys that would hold nothing (no attributes, one attempt) are left out.

        Kept lean on purpose: the JSON of a 15,000-test run is mostly this.
        """
        out = {
            "test_id": self.test_id,
            "classname": self.classname,
            "name": self.name,
            "outcome": self.outcome,
            "duration": None if self.duration is None else round(self.duration, 3),
        }
        if self.attrs:
            out["attrs"] = list(self.attrs)
        if self.attempts > 1:
            out["attempts"] = self.attempts
        if self.tags:
            out["tags"] = list(self.tags)
        if self.message:
            out["message"] = self.message
        if self.details:
            out["details"] = self.details
        return out


class Phase:
    """A pipeline step reported next to the tests (deploy, idempotency, ...)."""

    __slots__ = ("details", "duration", "message", "name", "status")

    def __init__(
        self, name: str, status: str, duration: float | None = None, message: str = "", details: str = ""
    ) -> None:
        self.name = name
        self.status = status
        self.duration = duration
        self.message = message
        self.details = details

    def as_dict(self) -> dict:
        """The phase as the summary lists it."""
        return {
            "name": self.name,
            "status": self.status,
            "duration": self.duration,
            "message": self.message,
            "details": self.details,
        }


class Report:
    """Everything the outputs are made from: tests failures first (``OUTCOMES`` order), then by id."""

    __slots__ = ("_counts", "_plain", "_summary", "_times", "phases", "slowest_count", "streams", "tests")

    def __init__(
        self, tests: list[TestResult], phases: list[Phase], streams: list[StreamRead], slowest_count: int = 10
    ) -> None:
        self.tests = tests
        self.phases = phases
        self.streams = streams
        self.slowest_count = slowest_count
        self._counts: dict[str, int] | None = None
        self._summary: dict | None = None
        self._plain: bool | None = None
        self._times: list[str] | None = None

    # What the three writers share, computed once for all of them.

    def plain_ids(self) -> bool:
        """Whether every test id (and so every classname, name and attribute) needs no escaping anywhere."""
        if self._plain is None:
            self._plain = plain_text([test.test_id for test in self.tests])
        return self._plain

    def times(self) -> list[str]:
        """Each test's duration as JUnit and the HTML sort key write it (see :func:`duration_texts`)."""
        if self._times is None:
            self._times = duration_texts(self.tests)
        return self._times

    def counts(self) -> dict[str, int]:
        """Number of tests per outcome, every outcome present (computed once)."""
        if self._counts is None:
            counts = dict.fromkeys(OUTCOMES, 0)
            for test in self.tests:
                counts[test.outcome] += 1
            self._counts = counts
        return dict(self._counts)

    def corruption(self) -> list[dict]:
        """Damaged regions of every stream, with the file they are in."""
        return [
            {"file": stream.path, "offset": bad.offset, "length": bad.length, "reason": bad.reason}
            for stream in self.streams
            for bad in stream.corruption
        ]

    def summary(self) -> dict:
        """The module's ``summary``: counts, verdict, slowest tests and failures (computed once)."""
        if self._summary is None:
            self._summary = self._make_summary()
        return self._summary

    def _make_summary(self) -> dict:
        counts = self.counts()
        tests = self.tests
        # Only tests that did not pass carry a failure, a flaky entry or a message:
        # they come before the passed ones, so the scans below stop early.
        unusual = tests[: len(tests) - counts["passed"]] if tests and tests[-1].outcome == "passed" else tests
        durations = [-1.0 if test.duration is None else test.duration for test in tests]
        slowest = [
            tests[index]
            for index in heapq.nlargest(self.slowest_count, range(len(tests)), key=durations.__getitem__)
            if durations[index] >= 0
        ]
        failed_phases = [phase.name for phase in self.phases if phase.status == "failed"]
        corrupt = any(stream.corruption for stream in self.streams)
        # The collection's one rule: a run whose every test was skipped, or that selected
        # none, does not pass, nor one whose stream is damaged (the missing part may hold failures).
        reasons = test_reasons(
            total=len(tests),
            skipped=counts["skipped"],
            failed=counts["failed"],
            uxsuccess=counts["uxsuccess"],
            corrupt=corrupt,
            failed_phases=failed_phases,
        )
        return {
            "total": len(tests),
            **{outcome: counts[outcome] for outcome in ("passed", "failed", "skipped", "flaky", "xfail", "uxsuccess")},
            "duration": round(sum(stream.duration for stream in self.streams), 3),
            "success": not reasons,
            "reasons": reasons,
            "corrupt": corrupt,
            "failed_phases": failed_phases,
            "phases": [phase.as_dict() for phase in self.phases],
            "slowest": [{"test_id": test.test_id, "duration": round(test.duration or 0.0, 3)} for test in slowest],
            "failures": [
                {
                    "test_id": test.test_id,
                    "classname": test.classname,
                    "name": test.name,
                    "outcome": test.outcome,
                    "attempts": test.attempts,
                    "message": test.message,
                    "excerpt": test.excerpt,
                }
                for test in unusual
                if test.outcome in ("failed", "uxsuccess")
            ],
            "flaky_tests": [
                {"test_id": test.test_id, "attempts": test.attempts, "message": test.message}
                for test in unusual
                if test.outcome == "flaky"
            ],
        }


def _read(data: bytes, index: int, path: str) -> tuple[StreamRead, list[list]]:
    """Fold one stream; its records get the stream's index appended."""
    stream = StreamRead(path, len(data))
    if not data:
        stream.corruption.append(Corruption(0, 0, "empty file: no subunit v2 packet"))
        return stream, []
    stream.packets, stream.first, stream.last, records = fold(data, stream.corruption)
    stream.tests = len(records)
    deque(map(list.append, records, repeat(index)), 0)  # record.append(index) for each, in C
    if stream.packets == 0 and stream.corruption:
        bad = stream.corruption[0]
        stream.corruption[0] = Corruption(bad.offset, bad.length, f"not a subunit v2 stream ({bad.reason})")
    return stream, records


def read_stream(data: bytes, index: int, path: str) -> tuple[StreamRead, list[Attempt]]:
    """Fold one stream's events into finished attempts (``StreamToDict`` rules)."""
    stream, records = _read(data, index, path)
    return stream, [Attempt(record) for record in records]


def _cut(text: str) -> str:
    if len(text) <= DETAILS_HEAD + DETAILS_TAIL:
        return text
    skipped = len(text) - DETAILS_HEAD - DETAILS_TAIL
    return f"{text[:DETAILS_HEAD]}\n[... {skipped} characters cut ...]\n{text[-DETAILS_TAIL:]}"


def _details(attempt: Attempt) -> str:
    """Traceback first, then the other attachments under a header each."""
    if not attempt.files:
        return ""
    parts = []
    if "traceback" in attempt.files:
        parts.append(attempt.text("traceback").rstrip("\n"))
    for name in attempt.files:
        if name not in ("traceback", "reason"):
            parts.append(f"--- {name} ---\n{attempt.text(name).rstrip()}")
    return _cut("\n".join(parts))


def _message(details: str) -> str:
    """The telling line of a traceback: its last non-empty line."""
    for line in reversed(details.splitlines()):
        if line.strip() and not line.startswith("--- "):
            return line.strip()[:MESSAGE_CHARS]
    return ""


def _excerpt(text: str) -> str:
    lines = text.splitlines()[-EXCERPT_LINES:]
    return "\n".join(lines)[-EXCERPT_CHARS:]


def _result(attempts: list[Attempt], fixture_rescued: bool) -> TestResult:
    final = attempts[-1]
    classname, name, attrs = split_test_id(final.test_id)
    outcome = _STATUS_OUTCOME[final.status]
    earlier_failure = next((a for a in reversed(attempts[:-1]) if a.status in _FAILED_STATUSES), None)
    if outcome == "passed" and earlier_failure is not None:
        outcome = "flaky"
    elif outcome == "failed" and fixture_rescued:
        outcome, earlier_failure = "flaky", final
    result = TestResult(
        test_id=final.test_id,
        classname=classname,
        name=name,
        attrs=attrs,
        outcome=outcome,
        duration=final.duration,
        attempts=len(attempts),
        tags=tuple(sorted(final.tags)) if final.tags else (),
    )
    if outcome in ("failed", "flaky"):
        source = final if outcome == "failed" else earlier_failure
        result.details = _details(source) if source else ""
        if source is not None and source.status != "fail" and not result.details:
            result.details = "the test did not finish: its stream ended without a final status"
        # The traceback tells what broke; other attachments (logs) only add context.
        telling = (source.text("traceback") if source else "") or result.details
        result.message = _message(telling)
        result.excerpt = _excerpt(telling)
    elif outcome == "uxsuccess":
        result.message = "unexpected success: the test is marked as an expected failure but passed"
        result.details = _details(final)
        result.excerpt = result.message
    elif outcome == "skipped":
        result.message = final.text("reason").strip()[:MESSAGE_CHARS]
    return result


def _rescued_fixtures(by_id: dict[str, list[list]]) -> set:
    """Fixture failures whose class (or module) ran tests in a later stream.

    A rerun of a class whose ``setUpClass`` failed reports the class's tests,
    never the fixture id again; if they ran, the fixture failure was flaky.
    """
    failed_fixtures = [
        test_id
        for test_id, records in by_id.items()
        if test_id.startswith(_FIXTURE_PREFIXES) and _FIXTURE.match(test_id) and records[-1][1] in _FAILED_STATUSES
    ]
    if not failed_fixtures:
        return set()
    ran_in: dict[str, int] = {}
    for test_id, records in by_id.items():
        last = records[-1]
        if last[1] in _FAILED_STATUSES or test_id.startswith(_FIXTURE_PREFIXES):
            continue
        classname = split_test_id(test_id)[0]
        for owner in (classname, classname.rpartition(".")[0]):
            ran_in[owner] = max(ran_in.get(owner, -1), last[6])
    return {test_id for test_id in failed_fixtures if ran_in.get(split_test_id(test_id)[0], -1) > by_id[test_id][-1][6]}


def build_report(sources: Sequence[tuple[str, bytes]], phases: Iterable[Phase] = (), slowest: int = 10) -> Report:
    """Make the report from ``(path, bytes)`` streams, first run first."""
    streams = []
    records: list[list] = []
    for index, (path, data) in enumerate(sources):
        stream, read = _read(data, index, path)
        streams.append(stream)
        records += read
    # In id order, so each bucket comes out sorted; the sort is stable, so the
    # attempts of a test stay in stream order (first run first).
    records.sort(key=itemgetter(0))
    test_ids = [record[0] for record in records]
    groups: list[list[list]] | None = None
    if any(map(str.__eq__, test_ids, islice(test_ids, 1, None))):
        # Some test ran more than once (a rerun, two route codes): one group of attempts per id.
        grouped: dict[str, list[list]] = {}
        for record in records:
            grouped.setdefault(record[0], []).append(record)
        test_ids, groups = list(grouped), list(grouped.values())
        records = [group[0] for group in groups]
    joined = "\n".join(test_ids)
    rescued = (
        _rescued_fixtures(dict(zip(test_ids, groups or [[record] for record in records], strict=True)))
        if _may_hold_fixtures(joined)
        else set()
    )
    buckets: dict[str, list[TestResult]] = {outcome: [] for outcome in OUTCOMES}
    passed = buckets["passed"].append
    for position, (record, (classname, name, attrs)) in enumerate(
        zip(records, split_test_ids(test_ids, joined), strict=True)
    ):
        if record[1] == "success" and (groups is None or len(groups[position]) == 1):
            # Nearly every test: one attempt that passed (inlined: it runs 15,000 times on a big run).
            start, end = record[3], record[4]
            if start is not None and end is not None:
                end -= start
                duration = end if end > 0.0 else 0.0  # max(0.0, end - start) without the call
            else:
                duration = None
            passed(
                TestResult(
                    record[0],
                    classname,
                    name,
                    attrs,
                    "passed",
                    duration,
                    1,
                    tuple(sorted(record[2])) if record[2] else (),
                )
            )
            continue
        attempts = [Attempt(record)] if groups is None else [Attempt(attempt) for attempt in groups[position]]
        test = _result(attempts, record[0] in rescued)
        buckets[test.outcome].append(test)
    tests = []
    for outcome in OUTCOMES:
        tests.extend(buckets[outcome])
    return Report(tests, list(phases), streams, slowest)


def load_phases(raw: Iterable[dict] | None) -> list[Phase]:
    """Check the ``phases`` option (a list of dicts) and make records of it."""
    phases = []
    for number, item in enumerate(raw or (), start=1):
        if not isinstance(item, dict):
            raise InputError(f"phases[{number}]: give a dict with name and status, got {item!r}")
        unknown = sorted(set(item) - _PHASE_KEYS)
        if unknown:
            raise InputError(f"phases[{number}]: unknown key {unknown[0]!r}; use {', '.join(sorted(_PHASE_KEYS))}")
        name = str(item.get("name") or "").strip()
        if not name:
            raise InputError(f"phases[{number}]: give each phase a name (for example deploy or idempotency)")
        status = item.get("status")
        if status not in PHASE_STATUSES:
            raise InputError(
                f"phases[{number}] ({name}): status must be one of {', '.join(PHASE_STATUSES)}, got {status!r}"
            )
        duration = item.get("duration")
        try:
            duration = None if duration in (None, "") else float(duration)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"phases[{number}] ({name}): duration must be seconds as a number, got {duration!r}"
            ) from exc
        message = str(item.get("message") or "")
        if item.get("changed_resources") is not None:
            message = f"{message} ({item['changed_resources']} resources changed)".strip()
        phases.append(Phase(name, status, duration, message, str(item.get("details") or "")))
    return phases


def read_sources(paths: Sequence[str]) -> list[tuple[str, bytes]]:
    """Read the subunit files; a missing or unreadable one is the user's to fix."""
    if not paths:
        raise InputError("src: give at least one subunit v2 file (the first Tempest run, then its reruns)")
    sources = []
    for path in paths:
        try:
            with open(path, "rb") as stream:
                sources.append((str(path), stream.read()))
        except FileNotFoundError as exc:
            raise InputError(f"src: {path} does not exist; point src at the subunit file tempest/stestr wrote") from exc
        except IsADirectoryError as exc:
            raise InputError(f"src: {path} is a directory; give the subunit file inside it") from exc
        except OSError as exc:
            raise InputError(f"src: cannot read {path}: {exc.strerror}") from exc
    return sources
