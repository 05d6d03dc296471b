"""Hostile subunit streams: parsing stays linear in time and memory whatever the damage.

A stream whose every packet's length is bogus used to make the parser re-check megabytes at each
next 0xB3 byte (an 11 MB stream took minutes).  Here an 11 MB real stream (``python -m subunit.run``
of many tests, copied to size: the costliest realistic clean stream per byte, 50-byte packets) is
damaged in every way of :mod:`subunit_damage` and must parse within twice the clean stream's time,
measured in the same test.  Times are CPU seconds of this process (``time.process_time``: the
machines are shared, wall time would count the neighbours' work), the best of 3 on each side.

Denser adversaries (a bogus header every 6 bytes or before every packet, attachments where one byte
in 8 is 0xB3) make the parser look at more candidate packets per byte than a realistic clean stream
has packets: they are held to 3x a clean stream made of the smallest valid packets,
the costliest valid stream per byte, so a damaged stream never costs much more than a valid one
of its size could.  The old parser fails both tests by orders of magnitude.

Resynchronising through the windowed CRC must not change a result: on small damaged streams the
parser is compared, event for event and region for region, with the plain rule it replaced
(try every next 0xB3 byte with the full checks).
"""

from __future__ import annotations

import io
import random
import time
import tracemalloc
import zlib
from collections.abc import Callable

import pytest
import subunit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.distroforge.openstack.plugins.module_utils._tempest import subunit_parse
from ansible_collections.distroforge.openstack.plugins.module_utils._tempest.subunit_parse import (
    _Resync,
    fold,
    fold_events,
    iter_events,
    parse,
)

from . import subunit_damage as damage
from .tempest_streams import make_many_stream

SIZE = 11_000_000
DENSE_SIZE = 3_000_000
ROUNDS = 3


def cpu_seconds(data: bytes, bound: float | None = None) -> float:
    """The best of ROUNDS parses (CPU seconds); stops early once under ``bound``, which the best cannot undo."""
    best = float("inf")
    for _round in range(ROUNDS):
        started = time.process_time()
        fold(data, [])
        best = min(best, time.process_time() - started)
        if bound is not None and best <= bound:
            break
    return best


def peak_bytes(data: bytes) -> int:
    """tracemalloc's peak while parsing, shift tables included (their cache is emptied first)."""
    subunit_parse._grid_shift.cache_clear()
    subunit_parse._grid_columns.cache_clear()
    tracemalloc.start()
    try:
        fold(data, [])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> bytes:
    return make_many_stream(tmp_path_factory.mktemp("hostile"), 1500).read_bytes()


@pytest.fixture(scope="module")
def clean(real) -> tuple[bytes, list[int], float]:
    """The real stream copied to SIZE, its packet offsets and its parse time."""
    data, starts = damage.tiled(real, SIZE)
    corruption = []
    assert fold(data, corruption)[0] == len(starts) and corruption == []
    return data, starts, cpu_seconds(data)


HOSTILE: dict[str, Callable[[bytes, list[int]], bytes]] = {
    **damage.DAMAGED,
    "attachments where 1 byte in 48 is 0xB3, every length bogus": lambda data, _starts: damage.signature_attachments(
        len(data), 48
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_damaged_stream_parses_within_twice_the_clean_time(clean, name):
    data, starts, clean_seconds = clean
    hostile = HOSTILE[name](data, starts)
    assert abs(len(hostile) - len(data)) < 100_000
    corruption = []
    fold(hostile, corruption)
    assert corruption, "the stream is damaged"
    seconds = cpu_seconds(hostile, bound=2 * clean_seconds)
    assert seconds <= 2 * clean_seconds, (
        f"{name}: {seconds:.2f} s for {len(hostile) / 1e6:.1f} MB, clean stream {clean_seconds:.2f} s "
        f"({seconds / clean_seconds:.1f}x)"
    )


DENSE: dict[str, Callable[[bytes, int], bytes]] = {
    "a bogus header every 6 bytes": lambda _real, size: damage.dense_headers(size),
    "attachments where 1 byte in 8 is 0xB3, every length bogus": lambda _real, size: damage.signature_attachments(
        size, 8
    ),
    "a bogus header before every valid packet": lambda real, size: damage.fake_headers(*damage.tiled(real, size)),
    "a bogus header before every packet, every length bogus": lambda real, size: damage.fake_headers_huge(
        *damage.tiled(real, size)
    ),
}


@pytest.fixture(scope="module")
def costliest() -> float:
    """The parse time of a clean stream of the smallest valid packets, DENSE_SIZE bytes."""
    return cpu_seconds(damage.smallest_packets(DENSE_SIZE))


@pytest.mark.parametrize("name", list(DENSE))
def test_denser_adversaries_cost_about_what_a_valid_stream_can(real, costliest, name):
    hostile = DENSE[name](real, DENSE_SIZE)
    seconds = cpu_seconds(hostile, bound=3 * costliest)
    assert seconds <= 3 * costliest, (
        f"{name}: {seconds:.2f} s, smallest packets {costliest:.2f} s ({seconds / costliest:.1f}x)"
    )


@pytest.mark.parametrize(
    ("make", "size"),
    [(damage.lengths_huge, 6_000_000), (damage.fake_headers_huge, DENSE_SIZE)],
    ids=["every length ~4 MiB, 6 MB", "a bogus header before every packet, every length bogus"],
)
def test_resynchronising_memory_stays_bounded(real, make, size):
    """Running CRCs (4 bytes a KiB) and shift tables (0.5 MB at most): a fraction of the stream.

    (Streams of valid packets hold their test records, and one record per damaged region: what
    the report lists.  Tracing allocations slows parsing down tenfold, hence two streams only.)
    """
    hostile = make(*damage.tiled(real, size))
    peak = peak_bytes(hostile)
    assert peak <= len(hostile) // 4, f"peak {peak / 1e6:.2f} MB for {len(hostile) / 1e6:.1f} MB"


# --- the same results as the plain rule ------------------------------------------------------------


def plain_next_packet(self: _Resync, pos: int) -> int:
    """The rule the resynchronisation replaced: the next 0xB3 byte, which the main loop then checks fully."""
    found = self.data.find(b"\xb3", pos)
    return len(self.data) if found < 0 else found


def plain_results(data: bytes, monkeypatch) -> tuple:
    """parse() and fold() with the plain rule, and every CRC hashed directly."""
    corruption: list = []
    with monkeypatch.context() as patch:
        patch.setattr(_Resync, "next_packet", plain_next_packet)
        patch.setattr(_Resync, "long_crc", lambda self, start, stop, _stored: zlib.crc32(self.data[start:stop]))
        return parse(data), fold(data, corruption), corruption


@pytest.fixture(scope="module")
def small_real(real) -> tuple[bytes, list[int]]:
    """The first packets of the real stream (~30 kB), and a big valid attachment packet to find again."""
    events = parse(real)[0]
    cut = next(event.offset for event in events if event.offset > 30_000)
    return real[:cut], [event.offset for event in events if event.offset < cut]


def attachment_packet(rng: random.Random, size: int) -> bytes:
    """A valid packet with a binary attachment of ``size`` bytes, a quarter of them 0xB3 (python-subunit's writer)."""
    buffer = io.BytesIO()
    payload = bytes(0xB3 if rng.randrange(4) == 0 else rng.randrange(256) for _byte in range(size))
    subunit.StreamResultToBytes(buffer).status(
        test_id="demo.test_big.TestBig.test_attachment", file_name="dump.bin", file_bytes=payload, eof=True
    )
    return buffer.getvalue()


DAMAGE = st.sampled_from(
    ["huge length", "long length", "random header", "fake header", "0xB3 run", "big packet", "flip"]
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(DAMAGE, st.integers(0, 2**20), st.integers(0, 2**32)), min_size=1, max_size=6))
def test_same_results_as_trying_every_signature_byte(small_real, monkeypatch, edits):
    data, starts = small_real
    data = bytearray(data)
    for kind, where, seed in edits:
        rng = random.Random(seed)
        start = starts[where % len(starts)] if kind != "flip" else where % len(data)
        if kind == "huge length":  # a 3-byte length reaching anywhere up to 4 MiB
            data[start + 3 : start + 6] = damage._three_byte_length(rng.randrange(0x400000))
        elif kind == "long length":  # one that stays inside the stream, so its CRC is computed
            data[start + 3 : start + 6] = damage._three_byte_length(rng.randrange(4096, max(4097, len(data) - start)))
        elif kind == "random header":
            data[start + 1 : start + 6] = rng.randbytes(5)
        elif kind == "fake header":
            data[start:start] = bytes([0xB3, 0x20 | rng.randrange(16), rng.randrange(256)]) + rng.randbytes(3)
        elif kind == "0xB3 run":
            data[start:start] = b"\xb3" * rng.randrange(1, 64)
        elif kind == "big packet":  # a valid long packet, found again by the windowed CRC
            data[start:start] = attachment_packet(rng, rng.randrange(4096, 40_000))
        else:
            data[start] ^= rng.randrange(1, 256)
    data = bytes(data)
    expected_parse, expected_fold, expected_corruption = plain_results(data, monkeypatch)
    assert parse(data) == expected_parse
    corruption = []
    assert fold(data, corruption) == expected_fold
    assert corruption == expected_corruption
    assert fold(data, []) == fold_events(iter_events(data, []))


def test_long_valid_packets_found_after_long_bogus_ones(small_real, monkeypatch):
    """Bogus headers claiming most of the stream before every packet, valid 5-40 kB packets among them.

    The main loop's first checks of the bogus headers soon hash more than the stream holds and go
    windowed; the valid long packets are then read, and found again after damage, through windows.
    """
    data, starts = small_real
    rng = random.Random(3)
    pieces = []
    for number, (start, end) in enumerate(zip(starts, [*starts[1:], len(data)], strict=True)):
        claimed = rng.randrange(4096, len(data))
        pieces.append(bytes([0xB3, 0x20, rng.randrange(256)]) + damage._three_byte_length(claimed))
        if number % 5 == 0:
            pieces.append(attachment_packet(rng, rng.randrange(5000, 40_000)))
        pieces.append(data[start:end])
    hostile = b"".join(pieces)
    plain_parse, plain_fold, _corruption = plain_results(hostile, monkeypatch)
    accepted = []
    window_crc = _Resync.window_crc

    def spy(self: _Resync, start: int, stop: int) -> int:
        value = window_crc(self, start, stop)
        if value == int.from_bytes(self.data[stop : stop + 4], "big"):
            accepted.append(start)
        return value

    monkeypatch.setattr(_Resync, "window_crc", spy)
    events, corruption = parse(hostile)
    big = [event.offset for event in events if event.file_name == "dump.bin"]
    assert len(big) == (len(starts) + 4) // 5 and set(big) <= set(accepted)
    assert len(corruption) == len(starts)
    assert (events, corruption) == plain_parse
    assert fold(hostile, []) == plain_fold


@settings(max_examples=150, deadline=None)
@given(data=st.binary(min_size=2048, max_size=20_000), cut=st.tuples(st.integers(0, 2**20), st.integers(0, 2**20)))
def test_window_crc_is_zlib_crc32(data, cut):
    start = cut[0] % (len(data) - 2048 + 1)
    stop = start + 2048 + cut[1] % (len(data) - start - 2048 + 1)
    assert _Resync(data).window_crc(start, stop) == zlib.crc32(data[start:stop])


def test_window_crc_over_megabytes():
    rng = random.Random(5)
    data = rng.randbytes(9 << 20)
    frames = _Resync(data)
    for _window in range(40):
        start = rng.randrange(1 << 20)
        stop = start + rng.randrange(2048, 0x3FFFFF)
        assert frames.window_crc(start, stop) == zlib.crc32(data[start:stop])
