"""Benchmark: wall time of the whole test suite with coverage (the README's test command).

    python bench/test_suite.py            # after set-up; HYPOTHESIS_PROFILE=ci to time the CI profile
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    start = time.perf_counter()
    proc = subprocess.run(["bash", "scripts/test.sh", "-q", "-p", "no:cacheprovider"], cwd=ROOT,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    coverage = re.search(r"Total coverage: ([\d.]+)%", proc.stdout)
    durations = re.search(r"in ([\d.]+)s", tail)
    print(f"test suite: {tail}")
    print(f"  wall time (set-up check + pytest + coverage): {elapsed:.1f}s; pytest's own: "
          f"{durations.group(1) if durations else '?'}s; coverage {coverage.group(1) if coverage else '?'}%")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
