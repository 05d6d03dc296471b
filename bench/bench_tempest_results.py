"""Tempest results: a 15,000-test subunit stream to JSON + JUnit + HTML, vs subunit2junitxml.

The stream is real: a generated module of 15,000 tests (1 in 50 fails with a
traceback, 1 in 40 is skipped) run by ``python -m subunit.run``, written
under /var/tmp at bench time.  Figures (medians, interleaved runs):

- ours in-process: what the module's engine costs (parse, fold, write the three files);
- ours as a process: the same from a fresh interpreter, like the peer (start-up and imports included);
- the peer ``subunit2junitxml`` (python-subunit + junitxml), which writes JUnit only;
- peak RSS (VmHWM) of both processes;
- the counts against ``subunit-stats`` on the same file.

Bytecode: the peer's modules sit in site-packages with the ``.pyc`` files pip
wrote, while ``make`` exports PYTHONDONTWRITEBYTECODE=1, so our modules would
be compiled from source on every start (~10 ms) and the peer's never.  Both
processes therefore run with the same PYTHONPYCACHEPREFIX under the bench
directory (bytecode written on an untimed warm-up run of each, then read):
same conditions for both, every module of both sides.  "ours as a process,
no bytecode cache" is also printed: what a cold start without ``.pyc`` costs
(an Ansible module run compiles its module_utils from the AnsiballZ zip).

The peer needs the ``junitxml`` package, pinned in requirements/python.lock
for this bench; SUBUNIT2JUNITXML may point at another subunit2junitxml.
Without either, the peer figures are skipped (and say so).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import peers
from _common import TOP, report

sys.path.insert(0, str(TOP / ".venv" / "collections"))
sys.path.insert(0, str(TOP))

from ansible_collections.distroforge.openstack.plugins.module_utils._tempest import outputs
from tests.unit.tempest_streams import make_many_stream

TESTS = 15_000
ROUNDS = 7
BENCH_ROOT = Path(os.environ.get("DISTROFORGE_BENCH_ROOT", "/var/tmp/distroforge-bench")) / "tempest_results"
OURS_SCRIPT = """
import sys
sys.path.insert(0, {collections!r})
from ansible_collections.distroforge.openstack.plugins.module_utils._tempest.outputs import run
run([{stream!r}], junit_path={out!r} + "/r.xml", html_path={out!r} + "/r.html", json_path={out!r} + "/r.json")
"""


def peer_command() -> list[str] | None:
    """subunit2junitxml from its venv (bench/peers.py makes it from PyPI on first use), or None without it."""
    if os.environ.get("SUBUNIT2JUNITXML"):
        return [os.environ["SUBUNIT2JUNITXML"]]
    try:
        return [str(peers.program("subunit2junitxml"))]
    except (RuntimeError, OSError) as exc:
        print(f"(subunit2junitxml peer not installed: {exc})", flush=True)
        return None


def child_env(pycache: Path | None) -> dict[str, str]:
    """The environment of a measured child: bytecode cached under ``pycache``, or never written."""
    env = dict(os.environ)
    env.pop("PYTHONPYCACHEPREFIX", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def run_measured(
    argv: list[str], env: dict[str, str], stdin: Path | None = None, stdout: Path | None = None
) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process.

    Not wait4()'s ru_maxrss: Linux carries the parent's high-water mark over
    fork+exec, so every child would report this bench's own size.  The
    child's VmHWM is sampled instead (it only grows) until it exits.
    """
    peak = 0
    with open(stdin or os.devnull, "rb") as source, open(stdout or os.devnull, "wb") as sink:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdin=source, stdout=sink, stderr=subprocess.DEVNULL, env=env)
        status = Path(f"/proc/{child.pid}/status")
        while child.poll() is None:
            try:
                found = re.search(r"^VmHWM:\s+(\d+) kB", status.read_text(), re.MULTILINE)
            except OSError:
                break
            if found:
                peak = max(peak, int(found.group(1)))
            time.sleep(0.001)
        child.wait()
        return time.perf_counter() - started, peak


def fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def ours_in_process(stream: Path, out: Path) -> tuple[float, dict]:
    fresh(out)
    started = time.perf_counter()
    result = outputs.run(
        [str(stream)], junit_path=str(out / "r.xml"), html_path=str(out / "r.html"), json_path=str(out / "r.json")
    )
    return time.perf_counter() - started, result


def main() -> None:
    stream = BENCH_ROOT / f"many-{TESTS}.subunit"
    if not stream.exists():
        make_many_stream(BENCH_ROOT, TESTS)
    size = stream.stat().st_size
    print(f"stream: {stream} ({size / 1e6:.1f} MB, {TESTS} tests)", flush=True)
    peer = peer_command()
    out = BENCH_ROOT / "out"
    script = OURS_SCRIPT.format(collections=str(TOP / ".venv" / "collections"), stream=str(stream), out=str(out))
    ours = [sys.executable, "-c", script]
    cached, cold = child_env(BENCH_ROOT / "pycache"), child_env(None)
    # Untimed warm-up: writes both sides' bytecode under the shared prefix.
    fresh(out)
    run_measured(ours, cached)
    if peer:
        run_measured(peer, cached, stdin=stream, stdout=BENCH_ROOT / "peer.xml")
    inproc, process, process_cold, process_rss, peer_times, peer_rss = [], [], [], [], [], []
    result: dict = {}
    for _round in range(ROUNDS):  # interleaved, so load spikes hit both sides
        seconds, result = ours_in_process(stream, out)
        inproc.append(seconds)
        fresh(out)
        seconds, rss = run_measured(ours, cached)
        process.append(seconds)
        process_rss.append(rss)
        fresh(out)
        process_cold.append(run_measured(ours, cold)[0])
        if peer:
            seconds, rss = run_measured(peer, cached, stdin=stream, stdout=BENCH_ROOT / "peer.xml")
            peer_times.append(seconds)
            peer_rss.append(rss)
    med = statistics.median
    written = {path.name: path.stat().st_size for path in sorted(out.iterdir())}
    print(f"ours wrote: {written}", flush=True)
    if peer:
        report(
            "15k tests -> JSON+JUnit+HTML, ours in-process",
            med(inproc),
            med(peer_times),
            "subunit2junitxml (JUnit only)",
        )
        report(
            "15k tests -> JSON+JUnit+HTML, ours as a process",
            med(process),
            med(peer_times),
            "subunit2junitxml (JUnit only)",
        )
        report(
            "15k tests -> JSON+JUnit+HTML, ours as a process, no bytecode cache",
            med(process_cold),
            med(peer_times),
            "subunit2junitxml (JUnit only, with its cache)",
        )
        report("peak RSS", max(process_rss) / 1024, max(peer_rss) / 1024, "subunit2junitxml", unit="MiB")
        peer_med = med(peer_times)
        print(
            f"speed-up: {peer_med / med(inproc):.1f}x in-process, {peer_med / med(process):.1f}x as a process "
            f"(the goal: 5x), {peer_med / med(process_cold):.1f}x as a process without bytecode cache",
            flush=True,
        )
    else:
        print(
            f"ours in-process: {med(inproc):.3f} s, as a process: {med(process):.3f} s "
            f"(no bytecode cache: {med(process_cold):.3f} s)",
            flush=True,
        )
        print(f"ours peak RSS: {max(process_rss) / 1024:.0f} MiB", flush=True)
        print(
            "peer skipped: subunit2junitxml could not be installed (python bench/peers.py, or set SUBUNIT2JUNITXML)",
            flush=True,
        )
    with stream.open("rb") as source:
        stats = subprocess.run(
            [str(peers.program("subunit2junitxml", "subunit-stats"))],
            stdin=source,
            capture_output=True,
            text=True,
            check=False,
        )
    found = re.findall(r"^(\w+) tests:\s+(\d+)$", stats.stdout, re.MULTILINE)
    theirs = {key.lower(): int(value) for key, value in found}
    summary = result["summary"]
    ours = {
        "total": summary["total"],
        "passed": summary["passed"] + summary["xfail"] + summary["uxsuccess"],
        "failed": summary["failed"],
        "skipped": summary["skipped"],
    }
    print(f"counts: ours {ours} | subunit-stats {theirs} | equal: {ours == theirs}", flush=True)


if __name__ == "__main__":
    main()
