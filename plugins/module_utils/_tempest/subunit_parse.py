"""A subunit v2 parser that survives bad streams and is fast enough for big runs.

Why not python-subunit's ``ByteStreamToStreamResult``: it reads the stream
one byte at a time through ``read(1)``, builds ``datetime`` objects and
routes every packet through testtools' ``StreamResult`` chain: on a
15,000-test stream (47,000 packets) its parse alone takes ~0.20 s, more than
this parser plus the fold and all three reports (~0.08 s), and six times
this parse and fold (~0.035 s).  It also stops being useful on damaged streams:
bytes that are not subunit raise (or become a ``stdout`` attachment), a
packet whose length field is damaged
makes it swallow the rest of the file, and a CRC-valid packet with
inconsistent flags raises ``struct.error``.

This parser works on the whole file in memory, yields one plain tuple per
packet with exactly the fields python-subunit passes to ``status()`` (the
unit tests prove the events identical on streams made by stestr and by
``python -m subunit.run``, and on random valid streams written by
python-subunit's own writer), and records every damaged region with its
offset instead of raising: after a bad byte it resynchronises on the next
signature byte whose packet has a valid CRC, so every intact packet is read.
Like python-subunit, it does not check the version nibble (the CRC guards
the frame).  Resynchronising costs O(1) per signature byte whatever the
packet claims (see :class:`_Resync`), so time and memory stay linear in the
stream size however it is damaged.  (python-subunit is linear on such
streams too, but only because it trusts every length: it swallows what a
bogus one claims, up to 4 MiB of intact packets each time.)

The module reads streams through :func:`fold`, which parses and folds in
one pass (no event per packet); :func:`iter_events` with :func:`fold_events`
is the plain path it is proven equal to.

Packet layout (subunit v2): signature ``0xB3``, 16-bit flags (version in the
high nibble, test status in the low 3 bits), a 1-3 byte length of the whole
packet, optional fields in flag order (timestamp, test id, tags, MIME type,
file name + content, route code), then a CRC32 of everything before it.
"""

from __future__ import annotations

import functools
import re
import struct
import zlib
from array import array
from codecs import utf_8_decode
from collections import namedtuple
from collections.abc import Iterable, Iterator

SIGNATURE = 0xB3
FLAG_TEST_ID = 0x0800
FLAG_ROUTE_CODE = 0x0400
FLAG_TIMESTAMP = 0x0200
FLAG_RUNNABLE = 0x0100
FLAG_TAGS = 0x0080
FLAG_FILE_CONTENT = 0x0040
FLAG_MIME_TYPE = 0x0020
FLAG_EOF = 0x0010

# Index = flags & 0x7, the same table as python-subunit's status_lookup.
STATUSES = (None, "exists", "inprogress", "success", "uxsuccess", "skip", "fail", "xfail")

# signature + flags + 1-byte length + CRC32
_MIN_PACKET = 8
_U32 = struct.Struct(">I")
_U32_U32 = struct.Struct(">II")
_FLAGS_LENGTH = struct.Struct(">HB")
_FLAGS_WORD = struct.Struct(">HI")
# Flag sets (bits 0x0FE0) of the packets that make up nearly all of a stream.
_SHAPE_ID = FLAG_TEST_ID | FLAG_RUNNABLE
_SHAPE_TIMED_ID = FLAG_TEST_ID | FLAG_TIMESTAMP | FLAG_RUNNABLE
# The first 13 bytes of the commonest packet, read in one call: signature, flags,
# 1-byte length, timestamp (seconds, 4-byte nanoseconds) and the test id's 1-byte length.
_SHORT_TIMED = struct.Struct(">BHBIIB")

# Plain namedtuples, not typing.NamedTuple or dataclasses: importing typing
# and dataclasses (which pulls in inspect) costs a cold process ~10 ms, a
# tenth of the whole run on a big stream.
Event = namedtuple(
    "Event",
    "offset test_id status tags runnable file_name file_bytes eof mime_type route_code timestamp",
)
Event.__doc__ = """One packet, with the arguments python-subunit passes to ``StreamResult.status``.

``timestamp`` is float seconds since the epoch (python-subunit gives a
``datetime`` rounded to the microsecond); ``offset`` is where the packet
starts in the file.  :func:`iter_events` yields plain tuples in this
field order because building named tuples costs a third of the parse.
"""

Corruption = namedtuple("Corruption", "offset length reason")
Corruption.__doc__ = "A damaged region of a stream: ``length`` bytes from ``offset`` were skipped."


class _BadPacket(Exception):
    """A packet failed a check; the message says which."""


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """Decode a subunit varint at ``pos``; return (value, position after it)."""
    if pos >= end:
        raise _BadPacket("number runs past the end of the packet")
    first = data[pos]
    kind = first & 0xC0
    if kind == 0x00:
        return first & 0x3F, pos + 1
    if kind == 0x40:
        if pos + 2 > end:
            raise _BadPacket("number runs past the end of the packet")
        return ((first & 0x3F) << 8) | data[pos + 1], pos + 2
    if kind == 0x80:
        if pos + 3 > end:
            raise _BadPacket("number runs past the end of the packet")
        return ((first & 0x3F) << 16) | (data[pos + 1] << 8) | data[pos + 2], pos + 3
    if pos + 4 > end:
        raise _BadPacket("number runs past the end of the packet")
    return ((first & 0x3F) << 24) | (data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3], pos + 4


def _utf8(data: bytes, pos: int, end: int) -> tuple[str, int]:
    """Decode a length-prefixed UTF-8 string; python-subunit refuses NUL and bad UTF-8 too."""
    if pos < end and data[pos] < 0x40:  # a length below 64 takes one byte: inlined
        length = data[pos]
        pos += 1
    else:
        length, pos = _varint(data, pos, end)
    stop = pos + length
    if stop > end:
        raise _BadPacket(f"string of {length} bytes runs past the end of the packet")
    raw = data[pos:stop]
    # ``0 in raw``, not ``b"\0" in raw``: the same test, four times faster on short strings.
    if 0 in raw:
        raise _BadPacket("string contains a NUL byte")
    try:
        return raw.decode(), stop
    except UnicodeDecodeError as exc:
        raise _BadPacket("string is not UTF-8") from exc


def _packet_fields(data: bytes, flags: int, pos: int, end: int) -> tuple:
    """Decode the optional fields of a CRC-checked packet body ``data[pos:end]``."""
    timestamp = test_id = tags = mime_type = file_name = file_bytes = route_code = None
    if flags & FLAG_TIMESTAMP:
        if pos + 4 > end:
            raise _BadPacket("timestamp runs past the end of the packet")
        if pos + 8 <= end and data[pos + 4] >= 0xC0:
            # Nanoseconds nearly always take the 4-byte form.
            seconds, nanoseconds = _U32_U32.unpack_from(data, pos)
            timestamp = seconds + (nanoseconds & 0x3FFFFFFF) / 1e9
            pos += 8
        else:
            seconds = _U32.unpack_from(data, pos)[0]
            nanoseconds, pos = _varint(data, pos + 4, end)
            timestamp = seconds + nanoseconds / 1e9
    if flags & FLAG_TEST_ID:
        test_id, pos = _utf8(data, pos, end)
    if flags & FLAG_TAGS:
        count, pos = _varint(data, pos, end)
        found = []
        for _tag in range(count):
            tag, pos = _utf8(data, pos, end)
            found.append(tag)
        tags = frozenset(found)
    if flags & FLAG_MIME_TYPE:
        mime_type, pos = _utf8(data, pos, end)
    if flags & FLAG_FILE_CONTENT:
        file_name, pos = _utf8(data, pos, end)
        length, pos = _varint(data, pos, end)
        if pos + length > end:
            raise _BadPacket(f"file content of {length} bytes runs past the end of the packet")
        file_bytes = data[pos : pos + length]
        pos += length
    if flags & FLAG_ROUTE_CODE:
        route_code, pos = _utf8(data, pos, end)
    return timestamp, test_id, tags, mime_type, file_name, file_bytes, route_code


# --- resynchronisation in linear time --------------------------------------------------------------
#
# After a bad packet the parser looks for the next signature byte whose packet is valid.  Checked
# naively, each candidate costs a CRC over its claimed length (up to 4 MiB), so a stream whose every
# packet claims megabytes costs megabytes per 0xB3 byte: quadratic.  Here a candidate costs O(1):
# the CRC of a long window comes from running CRCs stored every _GRID bytes (computed once, in order)
# and the polynomial algebra zlib's crc32_combine uses (python's zlib does not expose it), with tables
# for shifting a CRC by multiples of _GRID bytes; cheap checks of the fields run first.  The main
# loop's first check of each damaged region goes the same way once its failed CRCs have cost the
# stream's size (see _Resync.long_crc).  tests/unit/test_tempest_hostile.py proves the results equal
# to trying every signature byte with the full checks, and the time within 2x of a clean stream's.

_GRID_BITS = 10
_GRID = 1 << _GRID_BITS
# Windows at least this long take the O(1) path; shorter ones are hashed directly (cheaper below it).
_LONG_WINDOW = 4 * _GRID
# The first bytes of each string whose text is checked before the CRC of a long packet.
_CHECKED_TEXT = 128
# The fields after the test id, in flag order.
_LATER_FIELDS = FLAG_TAGS | FLAG_MIME_TYPE | FLAG_FILE_CONTENT | FLAG_ROUTE_CODE
_ASCII = bytes(range(128))
# A run of this many signature bytes starts no valid packet (flags 0xB3B3 ask for tags whose first
# one claims 3.4 MB, more than the packet): such runs are skipped in one step.
_B3_RUN = re.compile(b"\xb3{19,}")


def _shift_table(columns: list[int]) -> array[int]:
    """Byte tables (4 x 256) of the GF(2)-linear map whose images of the 32 bits are ``columns``.

    An array of 32-bit values: 4 KiB a table where a list of ints takes 40 KiB.
    """
    table = array("I")
    for byte in range(0, 32, 8):
        part = [0]
        for column in columns[byte : byte + 8]:
            part += [value ^ column for value in part]
        table.extend(part)
    return table


def _apply(table: array[int], value: int) -> int:
    """Apply a map given as :func:`_shift_table` byte tables to a 32-bit value."""
    return (
        table[value & 255]
        ^ table[256 + ((value >> 8) & 255)]
        ^ table[512 + ((value >> 16) & 255)]
        ^ table[768 + (value >> 24)]
    )


@functools.lru_cache(maxsize=None)
def _grid_shift(level: int, digit: int) -> array[int]:
    """Tables of the map that runs a CRC over ``digit * 64**level * _GRID`` zero bytes (built on first use).

    A window's shift, ``g * _GRID`` bytes with g < 4096, is at most two of these: ``g % 64`` at
    level 0, ``g // 64`` at level 1.  Each takes ~0.2 ms and 4 KiB; level 1 needs level 0's.
    """
    if level == 0 and digit == 1:
        zeros = bytes(_GRID)
        empty = zlib.crc32(zeros)
        columns = [zlib.crc32(zeros, 1 << bit) ^ empty for bit in range(32)]
    elif digit == 1:  # 64 steps of the level below
        columns = [_apply(_grid_shift(level - 1, 63), column) for column in _grid_columns(level - 1)]
    else:
        columns = [_apply(_grid_shift(level, digit - 1), column) for column in _grid_columns(level)]
    return _shift_table(columns)


@functools.lru_cache(maxsize=None)
def _grid_columns(level: int) -> tuple[int, ...]:
    """The images of the 32 bits under ``_grid_shift(level, 1)``."""
    table = _grid_shift(level, 1)
    return tuple(table[256 * (bit // 8) + (1 << bit % 8)] for bit in range(32))


def _number_end(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """A varint as :func:`_varint` reads it, or ``(0, end + 1)`` where that function raises."""
    if pos >= end:
        return 0, end + 1
    first = data[pos]
    if first < 0x40:
        return first, pos + 1
    stop = pos + (first >> 6) + 1
    if stop > end:
        return 0, end + 1
    return int.from_bytes(data[pos:stop], "big") & (0x3FFFFFFF >> (8 * (4 + pos - stop))), stop


def _text_end(data: bytes, pos: int, end: int) -> int:
    """Where a length-prefixed string at ``pos`` ends, or ``end + 1`` where :func:`_utf8` surely raises.

    Only the first _CHECKED_TEXT bytes of the text are checked (a NUL or bad UTF-8 there is one
    in the string): the rest is left to :func:`_utf8`, after the CRC.  The varint is read inline.
    """
    if pos >= end:
        return end + 1
    length = data[pos]
    if length < 0x40:
        pos += 1
    elif length < 0x80 and pos + 2 <= end:
        length = ((length & 0x3F) << 8) | data[pos + 1]
        pos += 2
    elif length < 0xC0 and pos + 3 <= end:
        length = ((length & 0x3F) << 16) | (data[pos + 1] << 8) | data[pos + 2]
        pos += 3
    else:
        length, pos = _number_end(data, pos, end)
    stop = pos + length
    if stop > end:
        return end + 1
    raw = data[pos:stop] if length <= _CHECKED_TEXT else data[pos : pos + _CHECKED_TEXT]
    if raw.isascii() and 0 not in raw:
        return stop
    return stop if _text_may_be(raw, length <= _CHECKED_TEXT) else end + 1


def _text_may_be(raw: bytes, whole: bool) -> bool:  # noqa: PLR0911 - one exit per check
    """False when ``raw``, a string's text (its first bytes unless ``whole``), is surely refused by :func:`_utf8`.

    Cheap on the random bytes of damaged data: a NUL, or a first non-ASCII byte that does not start
    a UTF-8 character, settle most; the 32 bytes from there are decoded with replacement characters
    rather than ``strict``, since an exception per candidate would cost more than all other checks.
    """
    if 0 in raw:
        return False
    if raw.isascii():
        return True
    high = raw.translate(None, _ASCII)
    if not 0xC2 <= high[0] <= 0xF4:  # after ASCII only, a continuation byte or one never valid
        return False
    start = raw.find(high[:1])
    if start + 1 == len(raw):
        return not whole  # a character cut by the end of the text
    if not 0x80 <= raw[start + 1] < 0xC0:  # a lead byte is followed by a continuation byte
        return False
    whole = whole and len(raw) - start <= 32
    raw = raw[start : start + 32]
    if "\ufffd" not in utf_8_decode(raw, "replace", whole)[0]:
        return True
    try:  # U+FFFD also stands for itself
        utf_8_decode(raw, "strict", whole)
    except UnicodeDecodeError:
        return False
    return True


def _fields_may_fit(data: bytes, flags: int, pos: int, end: int) -> bool:  # noqa: PLR0911, PLR0912 - one exit per field
    """False when :func:`_packet_fields` surely raises on the body ``data[pos:end]``; bounded work.

    Its checks, but the text past each string's first bytes and tags past the fourth: a necessary condition of
    its success (never False where it succeeds), run before a costly CRC.
    """
    if flags & FLAG_TIMESTAMP:
        if pos + 5 > end:
            return False
        pos += 5 + (data[pos + 4] >> 6)  # seconds, then nanoseconds in 1 to 4 bytes
        if pos > end:
            return False
    if flags & FLAG_TEST_ID:
        pos = _text_end(data, pos, end)
        if pos > end:
            return False
    if flags & FLAG_TAGS:
        count, pos = _number_end(data, pos, end)
        if pos + count > end:  # each tag takes at least one byte
            return False
        for _tag in range(min(count, 4)):
            pos = _text_end(data, pos, end)
            if pos > end:
                return False
        if count > 4:
            return True  # the rest is not worth walking: the CRC decides
    if flags & FLAG_MIME_TYPE:
        pos = _text_end(data, pos, end)
        if pos > end:
            return False
    if flags & FLAG_FILE_CONTENT:
        length, pos = _number_end(data, _text_end(data, pos, end), end)
        pos += length
        if pos > end:
            return False
    if flags & FLAG_ROUTE_CODE:
        pos = _text_end(data, pos, end)
    return pos <= end


class _Resync:
    """Finds the next valid packet after damage, in time linear in the bytes it passes over."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.view = memoryview(data)
        self.marks = [0]  # marks[i] = zlib.crc32(data[: i * _GRID]), extended on demand
        self.tables: list[array[int] | None] = [None] * 128  # _grid_shift(level, digit) at 64 * level + digit
        self.wasted = 0  # bytes hashed by failed direct CRCs of long packets (see long_crc)

    def window_crc(self, start: int, stop: int) -> int:
        """``zlib.crc32(data[start:stop])`` in time independent of the length (``stop - start >= 2 * _GRID``).

        With c1, c2 the first and last grid points inside the window and P the running CRCs:
        crc(start..stop) = crc32(data[c2:stop], shift(crc(start..c1) ^ P(c1), c2 - c1) ^ P(c2)).
        """
        view, marks, crc32 = self.view, self.marks, zlib.crc32
        first = (start + _GRID - 1) >> _GRID_BITS
        last = stop >> _GRID_BITS
        if last >= len(marks):
            self.extend_marks(last)
        value = crc32(view[start : first << _GRID_BITS]) ^ marks[first]
        steps = last - first  # < 4096 = 64 * 64: two digits, one table each
        if steps & 63:
            table = self.tables[steps & 63] or self.table(steps & 63)
            value = (
                table[value & 255]
                ^ table[256 + ((value >> 8) & 255)]
                ^ table[512 + ((value >> 16) & 255)]
                ^ table[768 + (value >> 24)]
            )
        if steps >> 6:
            table = self.tables[64 + (steps >> 6)] or self.table(64 + (steps >> 6))
            value = (
                table[value & 255]
                ^ table[256 + ((value >> 8) & 255)]
                ^ table[512 + ((value >> 16) & 255)]
                ^ table[768 + (value >> 24)]
            )
        return crc32(view[last << _GRID_BITS : stop], value ^ marks[last])

    def long_crc(self, start: int, stop: int, stored: int) -> int:
        """``zlib.crc32(data[start:stop])`` of a long packet the main loop reads.

        Hashed directly (cheapest for the valid packets of a clean stream) until CRCs that
        failed have hashed as many bytes as the stream holds; then by :meth:`window_crc`, so a
        stream whose every packet is bad cannot cost a packet's length per packet.
        """
        if self.wasted > len(self.data):
            return self.window_crc(start, stop)
        computed = zlib.crc32(self.view[start:stop])
        if computed != stored:
            self.wasted += stop - start
        return computed

    def extend_marks(self, last: int) -> None:
        """Running CRCs up to grid point ``last``: each byte of the stream is hashed once in all."""
        view, marks, crc32 = self.view, self.marks, zlib.crc32
        for done in range(len(marks) - 1, last):
            marks.append(crc32(view[done << _GRID_BITS : (done + 1) << _GRID_BITS], marks[done]))

    def table(self, digit: int) -> array[int]:
        """Fetch the shift tables of ``digit`` (64 * level + digit) once."""
        table = self.tables[digit] = _grid_shift(digit >> 6, digit & 63)
        return table

    def next_packet(self, pos: int) -> int:  # noqa: PLR0912, PLR0915 - one loop, inlined for speed
        """The first offset at or after ``pos`` where :func:`iter_events` reads a valid packet, or the size.

        Every signature byte is a candidate, as before, but each costs O(1): lengths (3 bytes at
        most: under 4 MiB) are checked against what is left, the fields before the CRC, and long
        packets' CRCs come from :meth:`window_crc`.
        """
        data, view = self.data, self.view
        size = len(data)
        find = data.find
        crc32 = zlib.crc32
        u32 = _U32.unpack_from
        header = _FLAGS_WORD.unpack_from
        run = _B3_RUN.match
        while True:
            pos = find(b"\xb3", pos)
            if pos < 0 or pos + 8 > size:
                return size  # no room left for a packet
            flags, word = header(data, pos + 1)  # the flags, then the length's first byte and three more
            candidate = pos
            pos += 1
            if word < 0x40000000:
                end, body = candidate + (word >> 24), candidate + 4
            elif word < 0x80000000:
                end, body = candidate + ((word >> 16) & 0x3FFF), candidate + 5
            elif word < 0xC0000000:
                if flags == 0xB3B3 and word >> 24 == 0xB3:
                    found = run(data, candidate)
                    if found:
                        pos = found.end() - 18
                        continue
                end, body = candidate + ((word >> 8) & 0x3FFFFF), candidate + 6
            else:
                continue  # a 4-byte length
            if end > size or end - 4 < body:
                continue
            stop = end - 4
            if end - candidate > 256:
                # Before the costly CRC, what _fields_may_fit checks; its first two fields (nearly
                # every packet's) inlined: the timestamp, then the test id and its first bytes of text.
                cur = body
                if flags & FLAG_TIMESTAMP:
                    if cur + 5 > stop:
                        continue
                    cur += 5 + (data[cur + 4] >> 6)
                if flags & FLAG_TEST_ID:
                    if cur >= stop:
                        continue
                    length = data[cur]
                    if length < 0x40:
                        cur += 1
                    elif length < 0x80 and cur + 2 <= stop:
                        length = ((length & 0x3F) << 8) | data[cur + 1]
                        cur += 2
                    elif length < 0xC0 and cur + 3 <= stop:
                        length = ((length & 0x3F) << 16) | (data[cur + 1] << 8) | data[cur + 2]
                        cur += 3
                    else:
                        length, cur = _number_end(data, cur, stop)
                    text_end = cur + length
                    if text_end > stop:
                        continue
                    raw = data[cur:text_end] if length <= _CHECKED_TEXT else data[cur : cur + _CHECKED_TEXT]
                    if not (raw.isascii() and 0 not in raw) and not _text_may_be(raw, length <= _CHECKED_TEXT):
                        continue
                    cur = text_end
                if flags & _LATER_FIELDS:
                    # Each starts with a number (a tag count, a string's length) that must fit.
                    if (
                        cur + 3 <= stop
                        and 0x80 <= data[cur] < 0xC0
                        and cur + 3 + (((data[cur] & 0x3F) << 16) | (data[cur + 1] << 8) | data[cur + 2]) > stop
                    ):
                        continue
                    if not _fields_may_fit(data, flags & _LATER_FIELDS, cur, stop):
                        continue
                elif cur > stop:
                    continue
                if end - candidate >= _LONG_WINDOW:
                    if self.window_crc(candidate, stop) != u32(data, stop)[0]:
                        continue
                elif crc32(view[candidate:stop]) != u32(data, stop)[0]:
                    continue
            elif crc32(view[candidate:stop]) != u32(data, stop)[0]:
                continue
            try:
                _packet_fields(data, flags, body, stop)
            except _BadPacket:
                continue
            return candidate


def iter_events(data: bytes, corruptions: list[Corruption]) -> Iterator[tuple]:  # noqa: PLR0912, PLR0915 - inlined for speed
    """Yield one :class:`Event`-shaped tuple per valid packet of ``data``.

    Damaged regions are appended to ``corruptions`` (merged while no valid
    packet separates them); nothing raises.
    """
    size = len(data)
    view = memoryview(data)
    crc32 = zlib.crc32
    u32 = _U32.unpack_from
    u32_u32 = _U32_U32.unpack_from
    frames = _Resync(data)
    resync, long_crc = frames.next_packet, frames.long_crc
    statuses = STATUSES
    shape_id, shape_timed_id = _SHAPE_ID, _SHAPE_TIMED_ID
    pos = 0
    bad_start = -1
    bad_reason = ""
    while pos < size:
        if data[pos] != 0xB3:
            if bad_start < 0:
                bad_start, bad_reason = pos, "bytes that are not subunit v2"
            pos = resync(pos + 1)
            continue
        # The frame check and the two packet shapes that make up nearly all
        # of a stream (test id, with or without a timestamp) are inlined and
        # use locals only: per-packet function calls would double the time.
        try:
            if pos + 8 > size:
                raise _BadPacket(f"truncated packet: {size - pos} bytes left, a packet needs at least {_MIN_PACKET}")
            flags = (data[pos + 1] << 8) | data[pos + 2]
            first = data[pos + 3]
            if first < 0x40:
                end, body = pos + first, pos + 4
            elif first < 0x80:
                end, body = pos + (((first & 0x3F) << 8) | data[pos + 4]), pos + 5
            elif first < 0xC0:
                end, body = pos + (((first & 0x3F) << 16) | (data[pos + 4] << 8) | data[pos + 5]), pos + 6
            else:
                raise _BadPacket("packet length uses 4 bytes (at most 3 allowed)")
            stop = end - 4
            if stop < body:
                raise _BadPacket(f"packet length {end - pos} is too short for its header")
            if end > size:
                raise _BadPacket(f"truncated packet: length {end - pos}, only {size - pos} bytes left")
            stored = u32(data, stop)[0]
            computed = crc32(view[pos:stop]) if end - pos < _LONG_WINDOW else long_crc(pos, stop, stored)
            if computed != stored:
                raise _BadPacket(f"bad CRC: stored 0x{stored:08x}, computed 0x{computed:08x}")
            shape = flags & 0x0FE0
            if shape in (shape_timed_id, shape_id):
                cur = body
                if shape == shape_timed_id:
                    if cur + 5 > stop:
                        raise _BadPacket("timestamp runs past the end of the packet")
                    if cur + 8 <= stop and data[cur + 4] >= 0xC0:
                        # Nanoseconds nearly always take the 4-byte form.
                        seconds, nanoseconds = u32_u32(data, cur)
                        nanoseconds &= 0x3FFFFFFF
                        cur += 8
                    else:
                        seconds = u32(data, cur)[0]
                        nanoseconds, cur = _varint(data, cur + 4, stop)
                    timestamp = seconds + nanoseconds / 1e9
                else:
                    timestamp = None
                if cur >= stop:
                    raise _BadPacket("number runs past the end of the packet")
                id_end = data[cur] + cur + 1
                if id_end - cur > 0x40:
                    id_length, cur = _varint(data, cur, stop)
                    id_end = cur + id_length
                else:
                    cur += 1
                if id_end > stop:
                    raise _BadPacket(f"string of {id_end - cur} bytes runs past the end of the packet")
                raw = data[cur:id_end]
                if 0 in raw:
                    raise _BadPacket("string contains a NUL byte")
                try:
                    test_id = raw.decode()
                except UnicodeDecodeError as exc:
                    raise _BadPacket("string is not UTF-8") from exc
                event = (
                    pos,
                    test_id,
                    statuses[flags & 7],
                    None,
                    True,
                    None,
                    None,
                    flags & 0x10 != 0,
                    None,
                    None,
                    timestamp,
                )
            else:
                timestamp, test_id, tags, mime_type, file_name, file_bytes, route_code = _packet_fields(
                    data, flags, body, stop
                )
                event = (
                    pos,
                    test_id,
                    statuses[flags & 7],
                    tags,
                    flags & FLAG_RUNNABLE != 0,
                    file_name,
                    file_bytes,
                    flags & FLAG_EOF != 0,
                    mime_type,
                    route_code,
                    timestamp,
                )
        except _BadPacket as exc:
            if bad_start < 0:
                bad_start, bad_reason = pos, str(exc)
            # Resynchronise on the next valid packet rather than skipping the
            # claimed length: that length may be the damaged byte.
            pos = resync(pos + 1)
            continue
        if bad_start >= 0:
            corruptions.append(Corruption(bad_start, pos - bad_start, bad_reason))
            bad_start = -1
        yield event
        pos = end
    if bad_start >= 0:
        corruptions.append(Corruption(bad_start, size - bad_start, bad_reason))


def parse(data: bytes) -> tuple[list[Event], list[Corruption]]:
    """Parse a whole stream into named events and damaged regions (for tests and small streams)."""
    corruptions: list[Corruption] = []
    events = [Event._make(event) for event in iter_events(data, corruptions)]
    return events, corruptions


# What a fold returns (a ``Fold`` in annotations): packets read, first and
# last timestamp, and one record per test run, ``[test id, status, tags,
# start, end, files]`` with ``files`` None or {file name: [chunks]}, in the
# order the tests finished (then the tests still in progress at the end).


def _fold_one(  # noqa: PLR0917 - one packet's fields, as the fold needs them
    inprogress: dict[object, list],
    finished: list[list],
    test_id: str | None,
    status: str | None,
    tags: frozenset | None,
    file_name: str | None,
    file_bytes: bytes | None,
    route: str | None,
    stamp: float | None,
) -> None:
    """Fold one packet into the records (testtools' ``StreamToDict`` rules)."""
    # testtools drops packets without a test id and "exists" listings.
    if test_id is None or status == "exists":
        return
    key = test_id if route is None else (test_id, route)
    record = inprogress.get(key)
    if record is None:
        record = inprogress[key] = [test_id, "unknown", None, stamp, stamp, None]
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


# Only tests call this: the plain reference the one-pass fold below is proven equal to.
def fold_events(events: Iterable[tuple]) -> tuple[int, float | None, float | None, list[list]]:
    """Fold parsed events into one record per test run (the reference for :func:`fold`).

    Per (test id, route code) the last status wins and a test is complete at
    its first final status; tests still in progress at the end come last.
    """
    inprogress: dict[object, list] = {}
    finished: list[list] = []
    packets = 0
    first = last = None
    for _offset, test_id, status, tags, _run, file_name, file_bytes, _eof, _mime, route, stamp in events:
        packets += 1
        if stamp is not None:
            if first is None:
                first = stamp
            last = stamp
        _fold_one(inprogress, finished, test_id, status, tags, file_name, file_bytes, route, stamp)
    finished.extend(inprogress.values())
    return packets, first, last, finished


def fold(data: bytes, corruptions: list[Corruption]) -> tuple[int, float | None, float | None, list[list]]:  # noqa: PLR0912, PLR0915 - one hot loop
    """Parse and fold in one pass: exactly ``fold_events(iter_events(data, corruptions))``, faster.

    The frame checks are those of :func:`iter_events` (same damaged regions,
    same reasons); the packets that make up nearly all of a stream (a test
    id with or without a timestamp) are decoded and folded inline without
    building an event, and "exists" listings are dropped once checked.
    Short ones (under 64 bytes, ASCII id: every packet of ``subunit.run``
    but attachments) take a fast path first: one ``struct`` call reads the
    header, timestamp and id length, and any packet it does not fully accept
    (other flags, a bad CRC, a NUL, non-ASCII) falls through to the full
    checks, which keep the reasons and offsets.  The unit tests prove both
    paths equal on real, random and damaged streams.
    """
    size = len(data)
    view = memoryview(data)
    crc32 = zlib.crc32
    u32 = _U32.unpack_from
    u32_u32 = _U32_U32.unpack_from
    header = _FLAGS_LENGTH.unpack_from
    frames = _Resync(data)
    resync, long_crc = frames.next_packet, frames.long_crc
    statuses = STATUSES
    inprogress: dict[object, list] = {}
    get = inprogress.get
    pop = inprogress.pop
    finished: list[list] = []
    done = finished.append
    packets = 0
    first = last = None
    pos = 0
    bad_start = -1
    bad_reason = ""
    short = _SHORT_TIMED.unpack_from
    # Up to here a packet of under 64 bytes lies wholly inside the data.
    short_end = size - 64
    while pos < size:
        while pos <= short_end:
            # Fast path: a packet under 64 bytes holding only a test id (under 60
            # bytes, ASCII), with or without a timestamp — nearly every packet of a
            # run without route codes.  Any other packet, or one that fails a check
            # here, takes the full path below, which reports what is wrong.
            sig, flags, length, seconds, nanoseconds, id_length = short(data, pos)
            if sig == 0xB3 and length < 0x40:
                shape = flags & 0x0FE0
                end = pos + length
                stop = end - 4
                if shape == _SHAPE_TIMED_ID and id_length + 17 == length and nanoseconds >= 0xC0000000:
                    raw = data[pos + 13 : stop]
                    if crc32(data[pos:stop]) == u32(data, stop)[0] and raw.isascii() and 0 not in raw:
                        stamp = seconds + (nanoseconds & 0x3FFFFFFF) / 1e9
                        if bad_start >= 0:
                            corruptions.append(Corruption(bad_start, pos - bad_start, bad_reason))
                            bad_start = -1
                        pos = end
                        packets += 1
                        if first is None:
                            first = stamp
                        last = stamp
                        code = flags & 7
                        if code == 1:  # "exists": a listing, dropped
                            continue
                        test_id = raw.decode()
                        record = get(test_id)
                        if record is None:
                            if code == 2 and pos <= short_end:
                                # A test starts: its next packet is nearly always its final status,
                                # same id and size.  Checked here and folded with this one.
                                sig_next, flags_next, length_next, seconds_next, nanos_next, id_next = short(data, pos)
                                stop = pos + length - 4
                                if (
                                    length_next == length
                                    and id_next == id_length
                                    and sig_next == 0xB3
                                    and flags_next & 0x0FE0 == _SHAPE_TIMED_ID
                                    and flags_next & 7 > 2
                                    and nanos_next >= 0xC0000000
                                    and data[pos + 13 : stop] == raw
                                    and crc32(data[pos:stop]) == u32(data, stop)[0]
                                ):
                                    last = seconds_next + (nanos_next & 0x3FFFFFFF) / 1e9
                                    done([test_id, statuses[flags_next & 7], None, stamp, last, None])
                                    pos = stop + 4
                                    packets += 1
                                    continue
                            record = inprogress[test_id] = [test_id, "unknown", None, stamp, stamp, None]
                        else:
                            if record[3] is None:
                                record[3] = stamp
                            record[4] = stamp
                        if code:
                            record[1] = statuses[code]
                            if code > 2:  # final: anything but none, exists and inprogress
                                done(pop(test_id))
                        continue
                # Without a timestamp the id's length is the byte after the header.
                elif shape == _SHAPE_ID and (seconds >> 24) + 9 == length:
                    raw = data[pos + 5 : stop]
                    if crc32(data[pos:stop]) == u32(data, stop)[0] and raw.isascii() and 0 not in raw:
                        if bad_start >= 0:
                            corruptions.append(Corruption(bad_start, pos - bad_start, bad_reason))
                            bad_start = -1
                        pos = end
                        packets += 1
                        code = flags & 7
                        if code == 1:
                            continue
                        test_id = raw.decode()
                        record = get(test_id)
                        if record is None:
                            record = inprogress[test_id] = [test_id, "unknown", None, None, None, None]
                        if code:
                            record[1] = statuses[code]
                            if code > 2:
                                done(pop(test_id))
                        continue
            break  # not a fast-path packet: the full path reads it (and says what is wrong)
        if pos >= size:  # cannot happen (a fast packet ends before short_end + 64), kept for safety
            break
        if data[pos] != 0xB3:
            if bad_start < 0:
                bad_start, bad_reason = pos, "bytes that are not subunit v2"
            pos = resync(pos + 1)
            continue
        try:
            if pos + 8 > size:
                raise _BadPacket(f"truncated packet: {size - pos} bytes left, a packet needs at least {_MIN_PACKET}")
            flags, length = header(data, pos + 1)
            if length < 0x40:
                end, cur = pos + length, pos + 4
            elif length < 0x80:
                end, cur = pos + (((length & 0x3F) << 8) | data[pos + 4]), pos + 5
            elif length < 0xC0:
                end, cur = pos + (((length & 0x3F) << 16) | (data[pos + 4] << 8) | data[pos + 5]), pos + 6
            else:
                raise _BadPacket("packet length uses 4 bytes (at most 3 allowed)")
            stop = end - 4
            if stop < cur:
                raise _BadPacket(f"packet length {end - pos} is too short for its header")
            if end > size:
                raise _BadPacket(f"truncated packet: length {end - pos}, only {size - pos} bytes left")
            stored = u32(data, stop)[0]
            computed = crc32(view[pos:stop]) if end - pos < _LONG_WINDOW else long_crc(pos, stop, stored)
            if computed != stored:
                raise _BadPacket(f"bad CRC: stored 0x{stored:08x}, computed 0x{computed:08x}")
            shape = flags & 0x0FE0
            if shape == _SHAPE_TIMED_ID:
                if cur + 8 <= stop and data[cur + 4] >= 0xC0:
                    # Nanoseconds nearly always take the 4-byte form.
                    seconds, nanoseconds = u32_u32(data, cur)
                    stamp = seconds + (nanoseconds & 0x3FFFFFFF) / 1e9
                    cur += 8
                else:
                    if cur + 5 > stop:
                        raise _BadPacket("timestamp runs past the end of the packet")
                    seconds = u32(data, cur)[0]
                    nanoseconds, cur = _varint(data, cur + 4, stop)
                    stamp = seconds + nanoseconds / 1e9
            elif shape == _SHAPE_ID:
                stamp = None
            else:
                # Anything else (attachments, tags, route codes): the general decoder.
                fields = _packet_fields(data, flags, cur, stop)
                if bad_start >= 0:
                    corruptions.append(Corruption(bad_start, pos - bad_start, bad_reason))
                    bad_start = -1
                pos = end
                packets += 1
                stamp, test_id, tags, _mime, file_name, file_bytes, route = fields
                if stamp is not None:
                    if first is None:
                        first = stamp
                    last = stamp
                _fold_one(inprogress, finished, test_id, statuses[flags & 7], tags, file_name, file_bytes, route, stamp)
                continue
            if cur >= stop:
                raise _BadPacket("number runs past the end of the packet")
            id_end = data[cur] + cur + 1
            if id_end - cur > 0x40:
                id_length, cur = _varint(data, cur, stop)
                id_end = cur + id_length
            else:
                cur += 1
            if id_end > stop:
                raise _BadPacket(f"string of {id_end - cur} bytes runs past the end of the packet")
            raw = data[cur:id_end]
            if 0 in raw:
                raise _BadPacket("string contains a NUL byte")
            try:
                test_id = raw.decode()
            except UnicodeDecodeError as exc:
                raise _BadPacket("string is not UTF-8") from exc
        except _BadPacket as exc:
            if bad_start < 0:
                bad_start, bad_reason = pos, str(exc)
            # Resynchronise on the next valid packet rather than skipping the
            # claimed length: that length may be the damaged byte.
            pos = resync(pos + 1)
            continue
        # A test id, no route code, tags or file: _fold_one, inlined.
        if bad_start >= 0:
            corruptions.append(Corruption(bad_start, pos - bad_start, bad_reason))
            bad_start = -1
        pos = end
        packets += 1
        if stamp is not None:
            if first is None:
                first = stamp
            last = stamp
        code = flags & 7
        if code == 1:  # "exists": a listing, dropped
            continue
        record = get(test_id)
        if record is None:
            record = inprogress[test_id] = [test_id, "unknown", None, stamp, stamp, None]
        elif stamp is not None:
            if record[3] is None:
                record[3] = stamp
            record[4] = stamp
        if code:
            record[1] = statuses[code]
            if code > 2:  # final: anything but none, exists and inprogress
                done(pop(test_id))
    if bad_start >= 0:
        corruptions.append(Corruption(bad_start, size - bad_start, bad_reason))
    finished.extend(inprogress.values())
    return packets, first, last, finished
