"""Benchmark: where the time of the test suite goes (the README's test command, on every core).

    python bench/test_suite.py [--cold]     # after set-up; HYPOTHESIS_PROFILE=ci to time the CI profile

Prints the set-up check's time, the suite's wall time and pytest's own, the counts, the coverage and the 15
slowest test phases. --cold runs it with an empty assembly cache of its own (STREAMTECH_ASSEMBLY_CACHE, a new
temporary directory, removed after: the user's cache, shared by every checkout, is left as it is), as on a machine
that never synthesized this code, so the session's synthesis is in the figures.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # our packages, for a script run by path

from bench.suite_cpu import summary_line

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true", help="with an empty assembly cache of its own")
    args = parser.parse_args()
    cold = Path(tempfile.mkdtemp(prefix="cold-assemblies-")) if args.cold else None
    try:
        return measure(args.cold, {**os.environ, "STREAMTECH_ASSEMBLY_CACHE": str(cold)} if cold else None)
    finally:
        if cold:
            shutil.rmtree(cold, ignore_errors=True)


def measure(cold: bool, env: dict[str, str] | None) -> int:
    start = time.perf_counter()
    subprocess.run(["bash", "scripts/setup.sh"], cwd=ROOT, check=True)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    proc = subprocess.run(["bash", "scripts/test.sh", "-q", "-p", "no:cacheprovider", "--durations=15"], cwd=ROOT,
                          capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    lines = proc.stdout.strip().splitlines()
    tail = summary_line(lines)
    coverage = re.search(r"Total coverage: ([\d.]+)%", proc.stdout)
    own = re.search(r" in ([\d.]+)s", tail)
    print(f"test suite: {tail}")
    print(f"  set-up check {setup:.1f}s; suite wall time {elapsed:.1f}s (pytest's own {own.group(1) if own else '?'}s);"
          f" coverage {coverage.group(1) if coverage else '?'}%;"
          f" assembly cache {'empty' if cold else 'as found'}")
    print("  slowest 15:")
    for line in lines:
        if re.match(r"^\d+\.\d+s (setup|call|teardown) ", line):
            print(f"    {line}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
