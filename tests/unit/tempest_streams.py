"""Real subunit v2 streams for the tempest_results tests and bench, made by running real tests.

Nothing here writes subunit by hand: stestr and ``python -m subunit.run``
run the demo suite under ``fixtures/tempest_suite`` (or a generated module
of many tests) and their output is the corpus.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITE = HERE / "fixtures" / "tempest_suite"
BIN = Path(sys.executable).parent
_FIXTURE = re.compile(r"^(setUpClass|tearDownClass|setUpModule|tearDownModule) \((.+)\)$")


def _run(argv: list[str], cwd: Path, env: dict[str, str], stdout: Path | None = None) -> str:
    with open(stdout, "wb") if stdout else open(os.devnull, "wb") as out:
        proc = subprocess.run(
            argv, cwd=cwd, env=env, stdout=out if stdout else subprocess.PIPE, stderr=subprocess.PIPE, check=False
        )
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed (rc {proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return "" if stdout else proc.stdout.decode()


def _env(state: Path) -> dict[str, str]:
    state.mkdir(parents=True, exist_ok=True)
    return dict(
        os.environ,
        DEMO_TEMPEST_STATE_DIR=str(state),
        PATH=f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        PYTHONDONTWRITEBYTECODE="1",
    )


def rerun_filters(failing_ids: list[str]) -> list[str]:
    """Regexes that rerun the failed tests, and whole classes whose fixture failed (as a Tempest job does)."""
    filters = []
    for test_id in failing_ids:
        fixture = _FIXTURE.match(test_id)
        if fixture:
            filters.append("^" + re.escape(fixture.group(2)) + r"\.")
        else:
            filters.append("^" + re.escape(test_id.split("[", 1)[0]) + r"(\[|$)")
    return filters


def make_suite_streams(workdir: Path) -> dict[str, Path]:
    """Run the demo suite: stestr first run and rerun (concurrency 2), and ``python -m subunit.run``.

    Returns paths by name: ``run1``, ``run2`` (the rerun of run1's failures),
    ``last`` (the rerun again, from stestr's repository) and ``plain``
    (subunit.run, one process, no route codes).
    """
    suite = workdir / "suite"
    shutil.copytree(SUITE, suite)
    env = _env(workdir / "state-stestr")
    _run([str(BIN / "stestr"), "init"], suite, env)
    streams = {name: workdir / f"{name}.subunit" for name in ("run1", "run2", "last")}
    # What `tempest run --subunit` prints: the live stream, with route codes per worker.
    _run([str(BIN / "stestr"), "run", "--concurrency", "2", "--subunit"], suite, env, stdout=streams["run1"])
    # `stestr failing` exits 1 when there are failures, which is the case here.
    listed = subprocess.run(
        [str(BIN / "stestr"), "failing", "--list"], cwd=suite, env=env, capture_output=True, check=False
    )
    failing = [line.strip() for line in listed.stdout.decode().splitlines() if line.strip()]
    rerun = [str(BIN / "stestr"), "run", "--concurrency", "2", "--subunit", *rerun_filters(failing)]
    _run(rerun, suite, env, stdout=streams["run2"])
    # The rerun as stestr's repository keeps it (no route codes).
    _run([str(BIN / "stestr"), "last", "--subunit"], suite, env, stdout=streams["last"])
    streams["plain"] = workdir / "plain.subunit"
    _run(
        [sys.executable, "-m", "subunit.run", "discover", "-s", "demo_tempest", "-t", "."],
        suite,
        _env(workdir / "state-plain"),
        stdout=streams["plain"],
    )
    return streams


def write_many_module(directory: Path, count: int) -> Path:
    """A test module with ``count`` tests: 1 in 50 fails, 1 in 40 is skipped, the rest pass."""
    lines = ["import unittest", "", "", "class TestMany(unittest.TestCase):"]
    for number in range(count):
        if number % 50 == 7:
            lines.append(
                f"    def test_{number:05d}(self):\n        self.assertEqual({number}, {number + 1}, 'mismatch')"
            )
        elif number % 40 == 3:
            lines.append(f"    @unittest.skip('not in this cloud')\n    def test_{number:05d}(self):\n        pass")
        else:
            lines.append(f"    def test_{number:05d}(self):\n        pass")
    module = directory / "many_tests.py"
    module.write_text("\n".join(lines) + "\n")
    return module


def make_many_stream(workdir: Path, count: int) -> Path:
    """Run a generated module of ``count`` tests with ``python -m subunit.run``; return the stream."""
    workdir.mkdir(parents=True, exist_ok=True)
    write_many_module(workdir, count)
    stream = workdir / f"many-{count}.subunit"
    _run([sys.executable, "-m", "subunit.run", "many_tests"], workdir, _env(workdir / "state"), stdout=stream)
    return stream


def make_all_skipped_stream(workdir: Path, count: int) -> Path:
    """Run a module of ``count`` tests that all skip themselves, as Tempest's do when the cloud lacks a service."""
    workdir.mkdir(parents=True, exist_ok=True)
    lines = ["import unittest", "", "", "class TestAbsent(unittest.TestCase):"]
    lines += [
        f"    @unittest.skip('the service is not in this cloud')\n    def test_{number:05d}(self):\n        pass"
        for number in range(count)
    ]
    (workdir / "absent_tests.py").write_text("\n".join(lines) + "\n")
    stream = workdir / f"all-skipped-{count}.subunit"
    _run([sys.executable, "-m", "subunit.run", "absent_tests"], workdir, _env(workdir / "state"), stdout=stream)
    return stream
