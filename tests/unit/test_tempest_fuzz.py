"""Property tests (hypothesis) of the subunit parser and the writers, bounded to a few seconds.

1. On any valid stream python-subunit's own writer produces, our events equal python-subunit's,
   the one-pass fold equals the plain fold of python-subunit's events, and the bulk writers
   (JSON, JUnit cases, HTML rows) write what their one-test-at-a-time references write.
2. On a real stream (python -m subunit.run) damaged at random (flips, insertions, deletions,
   truncation), nothing raises, damaged regions are ordered and inside the file, every
   packet the damage did not touch is read, and the one-pass fold equals the plain fold of
   the event parser (same records, same damaged regions and reasons).
"""

from __future__ import annotations

import datetime
import io
import json
import zlib

import pytest
import subunit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.distroforge.openstack.plugins.module_utils._tempest import results
from ansible_collections.distroforge.openstack.plugins.module_utils._tempest.outputs import _json_durations
from ansible_collections.distroforge.openstack.plugins.module_utils._tempest.results import build_report, duration_texts
from ansible_collections.distroforge.openstack.plugins.module_utils._tempest.subunit_parse import (
    fold,
    fold_events,
    iter_events,
    parse,
)

from .tempest_streams import make_many_stream
from .test_tempest_results import assert_writers_match_references, our_events, python_subunit_events

# python-subunit refuses NUL in strings and cannot encode surrogates; nothing real holds them.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
UTC = datetime.UTC
STATUSES = [None, "exists", "inprogress", "success", "uxsuccess", "skip", "fail", "xfail"]

packet = st.fixed_dictionaries(
    {
        "test_id": st.none() | TEXT,
        "test_status": st.sampled_from(STATUSES),
        "test_tags": st.none() | st.sets(TEXT.filter(bool), max_size=3),
        "runnable": st.booleans(),
        "file": st.none() | st.tuples(TEXT, st.binary(max_size=300)),
        "eof": st.booleans(),
        "mime_type": st.none() | TEXT.filter(bool),
        "route_code": st.none() | TEXT,
        "timestamp": st.none()
        | st.datetimes(
            min_value=datetime.datetime(1970, 1, 2), max_value=datetime.datetime(2100, 1, 1), timezones=st.just(UTC)
        ),
    }
)


def write(packets: list[dict]) -> bytes:
    buffer = io.BytesIO()
    writer = subunit.StreamResultToBytes(buffer)
    for drawn in packets:
        fields = dict(drawn)
        file = fields.pop("file")
        if file is not None:
            fields["file_name"], fields["file_bytes"] = file
        writer.status(**fields)
    return buffer.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(packet, min_size=1, max_size=8))
def test_same_events_as_python_subunit_on_any_valid_stream(packets):
    data = write(packets)
    theirs = python_subunit_events(data)
    assert our_events(data) == theirs
    # The one-pass fold the module uses gives the records python-subunit's parser leads to.
    corruption = []
    ours = fold(data, corruption)
    assert corruption == []
    assert rounded(ours) == rounded(fold_events((None, *event) for event in theirs))
    assert_writers_match_references(build_report([("random", data)]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.none() | st.floats(0, 2**32) | st.integers(0, 2**32).map(lambda n: n / 2000), max_size=20))
def test_json_durations_are_what_json_writes(durations):
    """JSON durations made from the shared ``%.3f`` texts equal ``json.dumps(round(x, 3))`` (halfway cases too)."""
    tests = [results.TestResult("a.B.test", "a.B", "test", (), "passed", duration, 1, ()) for duration in durations]
    expected = ["null" if d is None else json.dumps(round(d, 3)) for d in durations]
    assert _json_durations(tests, duration_texts(tests)) == expected


def rounded(folded: tuple) -> tuple:
    """A fold with its timestamps at python-subunit's precision (microseconds) and bytes as bytes."""
    packets, first, last, records = folded

    def stamp(value):
        return None if value is None else round(value, 6)

    return (
        packets,
        stamp(first),
        stamp(last),
        [
            [
                test_id,
                status,
                tags,
                stamp(start),
                stamp(end),
                files and {k: [bytes(c) for c in v] for k, v in files.items()},
            ]
            for test_id, status, tags, start, end, files in records
        ],
    )


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> tuple[bytes, list[int], list[tuple[int, int]]]:
    """A real stream (python -m subunit.run on 40 generated tests: failures with chunked tracebacks, skips)."""
    data = make_many_stream(tmp_path_factory.mktemp("fuzz"), 40).read_bytes()
    starts = [event.offset for event in parse(data)[0]]
    return data, starts, list(zip(starts, [*starts[1:], len(data)], strict=True))


def _check_regions(data: bytes, events, corruption) -> None:
    last = 0
    for bad in corruption:
        assert bad.offset >= 0 and bad.offset + bad.length <= len(data)
        assert bad.offset >= last, "regions are ordered and do not overlap"
        last = bad.offset + bad.length
        assert bad.reason
    for event in events:
        assert not any(bad.offset <= event.offset < bad.offset + bad.length for bad in corruption)


# Positions are drawn large and taken modulo the stream's length (known only at run time).
POSITION = st.integers(0, 2**20)
edit = st.tuples(st.sampled_from(["flip", "insert", "delete"]), POSITION, st.binary(min_size=1, max_size=8))
FIXTURE_OK = [HealthCheck.function_scoped_fixture]


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE_OK)
@given(edits=st.lists(edit, min_size=1, max_size=4), keep=POSITION)
def test_damaged_streams_never_raise(real, edits, keep):
    data = bytearray(real[0])
    keep = 1 + keep % len(data)
    for kind, drawn, payload in edits:
        position = drawn % max(len(data), 1)
        if kind == "flip":
            data[position] ^= payload[0] or 0xFF
        elif kind == "insert":
            data[position:position] = payload
        else:
            del data[position : position + len(payload)]
    data = bytes(data[:keep])
    events, corruption = parse(data)
    _check_regions(data, events, corruption)
    folded_corruption = []
    assert fold(data, folded_corruption) == fold_events(iter_events(data, [])), "one-pass fold = plain fold"
    assert folded_corruption == corruption
    summary = build_report([("fuzzed", data)]).summary()  # the whole pipeline, no traceback either
    assert summary["total"] >= 0


@settings(max_examples=200, deadline=None, suppress_health_check=FIXTURE_OK)
@given(position=POSITION, mask=st.integers(1, 255))
def test_one_damaged_byte_costs_exactly_its_packet(real, position, mask):
    original, _starts, bounds = real
    position %= len(original)
    data = bytearray(original)
    data[position] ^= mask
    events, corruption = parse(bytes(data))
    start, end = next((s, e) for s, e in bounds if s <= position < e)
    # CRC32 catches every error within 32 bits, so the packet is dropped, and only it.
    assert [event.offset for event in events] == [s for s, _end in bounds if s != start]
    assert [(bad.offset, bad.length) for bad in corruption] == [(start, end - start)]


@settings(max_examples=100, deadline=None, suppress_health_check=FIXTURE_OK)
@given(keep=POSITION)
def test_truncation_keeps_every_whole_packet(real, keep):
    original, starts, bounds = real
    keep %= len(original) + 1
    events, corruption = parse(original[:keep])
    assert [event.offset for event in events] == [s for s, e in bounds if e <= keep]
    if keep in starts or keep == len(original):
        assert corruption == []
    else:
        start = max(s for s in starts if s < keep)
        assert [(bad.offset, bad.length) for bad in corruption] == [(start, keep - start)]


def short_packet(status: int, test_id: bytes, nanoseconds: bytes | None = b"\xc0\x00\x00\x07") -> bytes:
    """One CRC-valid packet under 64 bytes: a test id, with a timestamp unless ``nanoseconds`` is None."""
    body = b"" if nanoseconds is None else (1_700_000_000).to_bytes(4, "big") + nanoseconds
    body += bytes([len(test_id)]) + test_id
    flags = 0x2000 | 0x0800 | 0x0100 | (0 if nanoseconds is None else 0x0200) | status
    packet = b"\xb3" + flags.to_bytes(2, "big") + bytes([4 + len(body) + 4]) + body
    return packet + zlib.crc32(packet).to_bytes(4, "big")


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (short_packet(3, b"a.B.test_\x00nul"), "string contains a NUL byte"),
        (short_packet(3, b"a.B.test_\xff"), "string is not UTF-8"),
        (short_packet(1, b"a.B.test_\x00listed", None), "string contains a NUL byte"),
        (short_packet(3, "a.B.test_é".encode()), None),  # valid, but not ASCII
        (short_packet(2, b"a.B.test_ns", b"\x05"), None),  # nanoseconds in their 1-byte form
        (short_packet(2, b"a.B.test_ns", b"\x45\x01"), None),  # ... and their 2-byte form
        (short_packet(6, b"a.B.test_no_stamp", None), None),
        # A start and the next packet, which the fast path folds together when it is the same test's end.
        (short_packet(2, b"a.B.test_x1") + short_packet(3, b"a.B.test_x1"), None),
        (short_packet(2, b"a.B.test_x1") + short_packet(3, b"a.B.test_x2"), None),
        (short_packet(2, b"a.B.test_x1") + short_packet(2, b"a.B.test_x1"), None),
        (short_packet(2, b"a.B.test_x1") + short_packet(7, b"a.B.test_x1", b"\x05"), None),
    ],
    ids=[
        "nul",
        "not-utf8",
        "listed-nul",
        "not-ascii",
        "ns-1-byte",
        "ns-2-bytes",
        "no-timestamp",
        "start-end",
        "start-other-end",
        "start-start",
        "start-end-short-ns",
    ],
)
def test_packets_the_fast_path_hands_over(real, packet, reason):
    """Short packets the fold's fast path hands over or folds in pairs: same records and reasons as the reference."""
    data = real[0]
    middle = real[2][len(real[2]) // 2][0]  # between two packets of the real stream
    damaged = data[:middle] + packet + data[middle:]
    corruption = []
    assert fold(damaged, corruption) == fold_events(iter_events(damaged, [])), "one-pass fold = plain fold"
    expected = [] if reason is None else [(middle, len(packet), reason)]
    assert [(bad.offset, bad.length, bad.reason) for bad in corruption] == expected
