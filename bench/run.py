"""Run every benchmark under bench/ (files named bench_*.py) and print its figures.

Each benchmark prints what it measured and the ratio against its peer,
measured in the same run.  Timings are never pass/fail: these machines are
shared and noisy.  `make bench` runs this; `python bench/run.py NAME` runs one.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE))
    wanted = set(argv)
    for script in sorted(HERE.glob("bench_*.py")):
        name = script.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"== bench {name}", flush=True)
        runpy.run_path(str(script), run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
