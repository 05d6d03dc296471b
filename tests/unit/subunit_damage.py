"""Hostile subunit v2 streams for the resynchronisation tests and bench.

Each is made from a real stream (``python -m subunit.run`` of many tests,
see :mod:`tempest_streams`) or from python-subunit's own writer, then damaged
the way a broken or malicious producer would: every packet's length field
bogus (huge, off by a few bytes, random, pointing just past the end), a fake
header claiming megabytes before every packet, runs of signature bytes, binary
attachments full of 0xB3.  Every stream is cut to the requested size.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import subunit

from ansible_collections.distroforge.openstack.plugins.module_utils._tempest.subunit_parse import parse

SIGNATURE = 0xB3
MAX_LENGTH = 0x3FFFFF  # a 3-byte length: the longest packet subunit v2 can describe


def tiled(real: bytes, size: int) -> tuple[bytes, list[int]]:
    """Copies of a clean stream, cut at a packet boundary at or below ``size``, and its packet offsets."""
    starts = [event.offset for event in parse(real)[0]]
    copies = size // len(real) + 1
    offsets = [copy * len(real) + start for copy in range(copies) for start in starts]
    cut = max(offset for offset in offsets if offset <= size)
    return (real * copies)[:cut], [offset for offset in offsets if offset < cut]


def _three_byte_length(length: int) -> bytes:
    return bytes([0x80 | length >> 16, (length >> 8) & 0xFF, length & 0xFF])


def lengths_huge(data: bytes, starts: list[int]) -> bytes:
    """Every packet's length turned into a 3-byte one of ~4 MiB (its next two bytes read as length)."""
    damaged = bytearray(data)
    for start in starts:
        damaged[start + 3] = 0xBF
    return bytes(damaged)


def lengths_off(data: bytes, starts: list[int]) -> bytes:
    """Every packet's length off by 1 to 7 bytes (same encoding, so the rest of the header is intact)."""
    damaged = bytearray(data)
    for number, start in enumerate(starts):
        first, off = damaged[start + 3], 1 + number % 7
        if first < 0x40:  # a 1-byte length: 6 bits
            damaged[start + 3] = (first + off) & 0x3F
        else:  # the low byte of a 2- or 3-byte length
            low = start + 4 if first < 0x80 else start + 5
            damaged[low] = (damaged[low] + off) & 0xFF
    return bytes(damaged)


def lengths_random(data: bytes, starts: list[int], seed: int = 13) -> bytes:
    """Every packet's length field (and the two bytes after it) replaced by random bytes."""
    rng = random.Random(seed)
    damaged = bytearray(data)
    for start in starts:
        damaged[start + 3 : start + 6] = rng.randbytes(3)
    return bytes(damaged)


def lengths_past_end(data: bytes, starts: list[int]) -> bytes:
    """Every packet's length pointing one byte past the end of the stream (or as far as 3 bytes reach)."""
    damaged = bytearray(data)
    for start in starts:
        damaged[start + 3 : start + 6] = _three_byte_length(min(MAX_LENGTH, len(data) - start + 1))
    return bytes(damaged)


def fake_headers(data: bytes, starts: list[int], seed: int = 17) -> bytes:
    """Before every packet, a signature byte, version 2 flags and a random 3-byte length of 64 KiB to 4 MiB.

    The packets themselves are left valid: each fake header is a damaged region of its own.
    """
    rng = random.Random(seed)
    pieces = []
    for start, end in zip(starts, [*starts[1:], len(data)], strict=True):
        flags = bytes([0x20 | rng.randrange(16), rng.randrange(256)])
        pieces += [bytes([SIGNATURE]), flags, _three_byte_length(rng.randrange(0x10000, MAX_LENGTH)), data[start:end]]
    return b"".join(pieces)[: len(data)]


def fake_headers_huge(data: bytes, starts: list[int]) -> bytes:
    """:func:`fake_headers` before packets whose own lengths are ~4 MiB (:func:`lengths_huge`)."""
    return fake_headers(lengths_huge(data, starts), starts)


def signature_runs(data: bytes, starts: list[int], run: int = 4096, every: int = 50) -> bytes:
    """A run of ``run`` signature bytes before every ``every``-th packet."""
    pieces = []
    for number, (start, end) in enumerate(zip(starts, [*starts[1:], len(data)], strict=True)):
        if number % every == 0:
            pieces.append(bytes([SIGNATURE]) * run)
        pieces.append(data[start:end])
    return b"".join(pieces)[: len(data)]


def signature_attachments(size: int, one_in: int, seed: int = 19) -> bytes:
    """Tests with binary attachments (1 to 60 kB) where one byte in ``one_in`` is 0xB3, every length damaged.

    Written by python-subunit; then every packet's length is changed by 1, 256 or 65536 (the low
    bit of its first byte), so resynchronising walks through every attachment.
    """
    rng = random.Random(seed)
    pool = bytes(SIGNATURE if rng.randrange(one_in) == 0 else rng.randrange(256) for _byte in range(200_000))
    buffer = io.BytesIO()
    writer = subunit.StreamResultToBytes(buffer)
    starts = []
    while buffer.tell() < size:
        starts.append(buffer.tell())
        offset, length = rng.randrange(100_000), rng.randrange(1000, 60_000)
        writer.status(
            test_id=f"demo.test_attachments.TestBinary.test_{len(starts)}",
            file_name="capture.bin",
            file_bytes=pool[offset : offset + length],
            mime_type="application/octet-stream",
            eof=True,
        )
    damaged = bytearray(buffer.getvalue()[:size])
    for start in starts:
        if start + 8 <= len(damaged):
            damaged[start + 3] ^= 0x01
    return bytes(damaged)


def dense_headers(size: int, seed: int = 23) -> bytes:
    """Nothing but fake headers back to back: a candidate packet every 6 bytes, each claiming 64 KiB to 4 MiB."""
    rng = random.Random(seed)
    headers = bytearray()
    while len(headers) < size:
        flags = bytes([0x20 | rng.randrange(16), rng.randrange(256)])
        headers += bytes([SIGNATURE]) + flags + _three_byte_length(rng.randrange(0x10000, MAX_LENGTH))
    return bytes(headers[:size])


def smallest_packets(size: int) -> bytes:
    """A clean stream of python-subunit's smallest packet (8 bytes, no field): the costliest valid stream per byte."""
    buffer = io.BytesIO()
    subunit.StreamResultToBytes(buffer).status()
    packet = buffer.getvalue()
    return packet * (size // len(packet))


# The damaged versions of a tiled real stream: what the tests require within 2x of the clean stream's time.
DAMAGED: dict[str, Callable[[bytes, list[int]], bytes]] = {
    "every length ~4 MiB": lengths_huge,
    "every length off by 1-7": lengths_off,
    "every length random": lengths_random,
    "every length just past the end": lengths_past_end,
    "4 kB runs of 0xB3 every 50 packets": signature_runs,
}
