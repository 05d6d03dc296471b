"""Tempest results: hostile subunit streams vs a clean stream of the same size (11 MB).

The clean stream is real: a generated module of 1,500 tests run by ``python -m subunit.run``
(50-byte packets, the costliest realistic stream per byte), copied to 11 MB.  Each hostile one
is that stream damaged (tests/unit/subunit_damage.py): every packet's length ~4 MiB, off by a few
bytes, random, pointing past the end; runs of 0xB3; binary attachments full of 0xB3.  Denser
adversaries (a bogus header every 6 bytes or before every packet) are set against a clean stream
of the smallest valid packets, the costliest valid stream per byte, at 3 MB.

Figures: CPU seconds of the parse and fold (``fold``, what the module runs), best of 3.  Then
python-subunit's own parser on 1 MB of each: linear too, since it trusts every length, but it
swallows whatever a bad length covers (what it reads is printed next to what we read).
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

from _common import TOP, report

sys.path.insert(0, str(TOP / ".venv" / "collections"))
sys.path.insert(0, str(TOP))

import subunit
from testtools import StreamResult

from ansible_collections.distroforge.openstack.plugins.module_utils._tempest.subunit_parse import fold
from tests.unit import subunit_damage as damage
from tests.unit.tempest_streams import make_many_stream

SIZE = 11_000_000
DENSE_SIZE = 3_000_000
PEER_SIZE = 1_000_000
ROUNDS = 3
BENCH_ROOT = Path(os.environ.get("DISTROFORGE_BENCH_ROOT", "/var/tmp/distroforge-bench")) / "subunit_hostile"


def best(data: bytes) -> float:
    """CPU seconds of the fastest of ROUNDS parses."""
    fastest = float("inf")
    for _round in range(ROUNDS):
        started = time.process_time()
        fold(data, [])
        fastest = min(fastest, time.process_time() - started)
    return fastest


class _Counter(StreamResult):
    def __init__(self) -> None:
        super().__init__()
        self.tests: set[str] = set()
        self.errors = 0

    def status(self, **kwargs) -> None:
        if kwargs.get("test_id") == "subunit.parser":
            self.errors += 1
        elif kwargs.get("test_id"):
            self.tests.add(kwargs["test_id"])


def python_subunit(data: bytes) -> tuple[float, int, int]:
    """CPU seconds, distinct test ids read and parser errors of python-subunit's ByteStreamToStreamResult."""
    counter = _Counter()
    started = time.process_time()
    subunit.ByteStreamToStreamResult(io.BytesIO(data), non_subunit_name="stdout").run(counter)
    return time.process_time() - started, len(counter.tests), counter.errors


def main() -> None:
    stream = BENCH_ROOT / "many-1500.subunit"
    if not stream.exists():
        stream = make_many_stream(BENCH_ROOT, 1500)
    real = stream.read_bytes()
    clean, starts = damage.tiled(real, SIZE)
    clean_seconds = best(clean)
    print(f"clean stream: {len(clean) / 1e6:.1f} MB, {len(starts)} packets, {clean_seconds:.2f} s", flush=True)
    hostile = {name: make(clean, starts) for name, make in damage.DAMAGED.items()}
    hostile["attachments, 1 byte in 48 is 0xB3, every length bogus"] = damage.signature_attachments(SIZE, 48)
    for name, data in hostile.items():
        report(f"{name} ({len(data) / 1e6:.1f} MB)", best(data), clean_seconds, "clean stream")
    small = damage.smallest_packets(DENSE_SIZE)
    small_seconds = best(small)
    dense_clean, dense_starts = damage.tiled(real, DENSE_SIZE)
    dense = {
        "a bogus header every 6 bytes": damage.dense_headers(DENSE_SIZE),
        "attachments, 1 byte in 8 is 0xB3, every length bogus": damage.signature_attachments(DENSE_SIZE, 8),
        "a bogus header before every valid packet": damage.fake_headers(dense_clean, dense_starts),
        "a bogus header before every packet, every length bogus": damage.fake_headers_huge(dense_clean, dense_starts),
    }
    print(
        f"smallest valid packets: {len(small) / 1e6:.1f} MB, {small_seconds:.2f} s "
        f"({small_seconds / clean_seconds * SIZE / DENSE_SIZE:.1f}x the clean stream per byte)",
        flush=True,
    )
    for name, data in dense.items():
        seconds = best(data)
        report(f"{name} ({len(data) / 1e6:.1f} MB)", seconds, small_seconds, "smallest valid packets")
        print(f"  ... {seconds * SIZE / DENSE_SIZE / clean_seconds:.1f}x the clean stream per byte", flush=True)
    peer_clean, peer_starts = damage.tiled(real, PEER_SIZE)
    peer_streams = {"clean": peer_clean} | {
        name: make(peer_clean, peer_starts) for name, make in damage.DAMAGED.items()
    }
    for name, data in peer_streams.items():
        seconds, tests, errors = python_subunit(data)
        corruption = []
        ours = fold(data, corruption)
        print(
            f"python-subunit, {name} ({len(data) / 1e6:.1f} MB): {seconds:.2f} s, {tests} test ids, "
            f"{errors} parser errors | ours: {ours[0]} packets, {len({record[0] for record in ours[3]})} test ids, "
            f"{len(corruption)} damaged regions",
            flush=True,
        )


if __name__ == "__main__":
    main()
