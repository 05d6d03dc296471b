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
from dataclasses import asdict, dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from .._common.errors import InputError
from .subunit_parse import Corruption, iter_events

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
_by_id = attrgetter("test_id")
EXCERPT_LINES = 15
EXCERPT_CHARS = 2000
MESSAGE_CHARS = 300
# A test's attachments are kept up to this size (head and tail) in reports.
DETAILS_HEAD = 16 * 1024
DETAILS_TAIL = 48 * 1024


def split_test_id(test_id: str) -> Tuple[str, str, Tuple[str, ...]]:
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
            attrs = tuple(attr for attr in test_id[start + 1 : -1].split(",") if attr)
    # A scenario suffix "(name)" may hold dots: split before it.
    paren = base.find("(")
    head = base if paren < 0 else base[:paren]
    dot = head.rfind(".")
    if dot < 0:
        return "", base, attrs
    return base[:dot], base[dot + 1 :], attrs


class Attempt:
    """One run of a test in one stream (a plain class: there is one per test and run)."""

    __slots__ = ("end", "files", "start", "status", "stream", "tags", "test_id")

    def __init__(self, record: list) -> None:
        # The list read_stream builds: [test id, status, tags, start, end, files, stream].
        self.test_id, self.status, self.tags, self.start, self.end, self.files, self.stream = record

    @property
    def duration(self) -> Optional[float]:
        """Seconds between the first and the last timestamp of the test."""
        if self.start is None or self.end is None:
            return None
        return max(0.0, self.end - self.start)

    def text(self, name: str) -> str:
        """One attachment as text (chunks joined), or ""."""
        if not self.files or name not in self.files:
            return ""
        return b"".join(self.files[name]).decode("utf-8", "replace")


@dataclass
class StreamRead:
    """What one source file held."""

    path: str
    size: int
    packets: int = 0
    tests: int = 0
    first: Optional[float] = None
    last: Optional[float] = None
    corruption: List[Corruption] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Wall time of the run from its first to its last timestamp."""
        if self.first is None or self.last is None:
            return 0.0
        return self.last - self.first


@dataclass
class TestResult:
    """The verdict on one test across all streams."""

    test_id: str
    classname: str
    name: str
    attrs: Tuple[str, ...]
    outcome: str
    duration: Optional[float]
    attempts: int
    tags: Tuple[str, ...] = ()
    message: str = ""
    excerpt: str = ""
    details: str = ""

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


@dataclass
class Phase:
    """A pipeline step reported next to the tests (deploy, idempotency, ...)."""

    name: str
    status: str
    duration: Optional[float] = None
    message: str = ""
    details: str = ""


@dataclass
class Report:
    """Everything the outputs are made from."""

    tests: List[TestResult]
    phases: List[Phase]
    streams: List[StreamRead]
    slowest_count: int = 10
    _summary: Optional[dict] = field(default=None, init=False, repr=False)

    def counts(self) -> Dict[str, int]:
        """Number of tests per outcome, every outcome present."""
        counts = dict.fromkeys(OUTCOMES, 0)
        for test in self.tests:
            counts[test.outcome] += 1
        return counts

    def corruption(self) -> List[dict]:
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
        timed = [test for test in self.tests if test.duration is not None]
        slowest = heapq.nlargest(self.slowest_count, timed, key=lambda test: test.duration)
        failed_phases = [phase.name for phase in self.phases if phase.status == "failed"]
        corrupt = any(stream.corruption for stream in self.streams)
        return {
            "total": len(self.tests),
            **{outcome: counts[outcome] for outcome in ("passed", "failed", "skipped", "flaky", "xfail", "uxsuccess")},
            "duration": round(sum(stream.duration for stream in self.streams), 3),
            # A run that selected no test must not vote green, nor one whose
            # stream is damaged (the missing part may hold failures).
            "success": bool(self.tests)
            and counts["failed"] == 0
            and counts["uxsuccess"] == 0
            and not corrupt
            and not failed_phases,
            "corrupt": corrupt,
            "failed_phases": failed_phases,
            "phases": [asdict(phase) for phase in self.phases],
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
                for test in self.tests
                if test.outcome in ("failed", "uxsuccess")
            ],
            "flaky_tests": [
                {"test_id": test.test_id, "attempts": test.attempts, "message": test.message}
                for test in self.tests
                if test.outcome == "flaky"
            ],
        }


def read_stream(data: bytes, index: int, path: str) -> Tuple[StreamRead, List[Attempt]]:  # noqa: PLR0912 - one hot loop
    """Fold one stream's events into finished attempts (``StreamToDict`` rules)."""
    stream = StreamRead(path=path, size=len(data))
    if not data:
        stream.corruption.append(Corruption(0, 0, "empty file: no subunit v2 packet"))
        return stream, []
    inprogress: Dict[object, list] = {}
    finished: List[list] = []
    packets = 0
    first = last = None
    for _offset, test_id, status, tags, _run, file_name, file_bytes, _eof, _mime, route, stamp in iter_events(
        data, stream.corruption
    ):
        packets += 1
        if stamp is not None:
            if first is None:
                first = stamp
            last = stamp
        # testtools drops packets without a test id and "exists" listings.
        if test_id is None or status == "exists":
            continue
        key = test_id if route is None else (test_id, route)
        record = inprogress.get(key)
        if record is None:
            # [test id, status, tags, start, end, files, stream]
            record = inprogress[key] = [test_id, "unknown", None, stamp, stamp, None, index]
        if status is not None:
            record[1] = status
        if stamp is not None:
            if record[3] is None:
                record[3] = stamp
            record[4] = stamp
        if file_name is not None and file_bytes:
            files = record[5]
            if files is None:
                files = record[5] = {}
            files.setdefault(file_name, []).append(file_bytes)
        if tags is not None:
            record[2] = tags
        if status is not None and status != "inprogress":
            finished.append(inprogress.pop(key))
    # Hung or cut-off tests: reported at the end, as testtools does.
    finished.extend(inprogress.values())
    stream.packets, stream.first, stream.last, stream.tests = packets, first, last, len(finished)
    if packets == 0 and stream.corruption:
        bad = stream.corruption[0]
        stream.corruption[0] = Corruption(bad.offset, bad.length, f"not a subunit v2 stream ({bad.reason})")
    return stream, [Attempt(record) for record in finished]


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


def _result(attempts: List[Attempt], fixture_rescued: bool) -> TestResult:
    final = attempts[-1]
    test_id = final.test_id
    classname, name, attrs = split_test_id(test_id)
    if final.status == "success" and len(attempts) == 1:
        # Nearly every test: nothing more to look at (inlined, it runs 15,000 times on a big run).
        start, end = final.start, final.end
        duration = None if start is None or end is None else max(0.0, end - start)
        tags = tuple(sorted(final.tags)) if final.tags else ()
        return TestResult(test_id, classname, name, attrs, "passed", duration, 1, tags)
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


def _rescued_fixtures(by_id: Dict[str, List[Attempt]]) -> set:
    """Fixture failures whose class (or module) ran tests in a later stream.

    A rerun of a class whose ``setUpClass`` failed reports the class's tests,
    never the fixture id again; if they ran, the fixture failure was flaky.
    """
    failed_fixtures = [
        test_id
        for test_id, attempts in by_id.items()
        if test_id.startswith(_FIXTURE_PREFIXES) and _FIXTURE.match(test_id) and attempts[-1].status in _FAILED_STATUSES
    ]
    if not failed_fixtures:
        return set()
    ran_in: Dict[str, int] = {}
    for attempts in by_id.values():
        last = attempts[-1]
        if last.status in _FAILED_STATUSES or last.test_id.startswith(_FIXTURE_PREFIXES):
            continue
        classname = split_test_id(last.test_id)[0]
        for owner in (classname, classname.rpartition(".")[0]):
            ran_in[owner] = max(ran_in.get(owner, -1), last.stream)
    return {
        test_id for test_id in failed_fixtures if ran_in.get(split_test_id(test_id)[0], -1) > by_id[test_id][-1].stream
    }


def build_report(sources: Sequence[Tuple[str, bytes]], phases: Iterable[Phase] = (), slowest: int = 10) -> Report:
    """Make the report from ``(path, bytes)`` streams, first run first."""
    streams = []
    by_id: Dict[str, List[Attempt]] = {}
    for index, (path, data) in enumerate(sources):
        stream, attempts = read_stream(data, index, path)
        streams.append(stream)
        for attempt in attempts:
            known = by_id.get(attempt.test_id)
            if known is None:
                by_id[attempt.test_id] = [attempt]
            else:
                known.append(attempt)
    rescued = _rescued_fixtures(by_id)
    buckets: Dict[str, List[TestResult]] = {outcome: [] for outcome in OUTCOMES}
    for test_id, attempts in by_id.items():
        test = _result(attempts, test_id in rescued)
        buckets[test.outcome].append(test)
    tests = []
    for outcome in OUTCOMES:
        buckets[outcome].sort(key=_by_id)
        tests.extend(buckets[outcome])
    return Report(tests=tests, phases=list(phases), streams=streams, slowest_count=slowest)


def load_phases(raw: Optional[Iterable[dict]]) -> List[Phase]:
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


def read_sources(paths: Sequence[str]) -> List[Tuple[str, bytes]]:
    """Read the subunit files; a missing or unreadable one is the user's to fix."""
    if not paths:
        raise InputError("src: give at least one subunit v2 file (the first Tempest run, then its reruns)")
    sources = []
    for path in paths:
        try:
            sources.append((str(path), Path(path).read_bytes()))
        except FileNotFoundError as exc:
            raise InputError(f"src: {path} does not exist; point src at the subunit file tempest/stestr wrote") from exc
        except IsADirectoryError as exc:
            raise InputError(f"src: {path} is a directory; give the subunit file inside it") from exc
        except OSError as exc:
            raise InputError(f"src: cannot read {path}: {exc.strerror}") from exc
    return sources
