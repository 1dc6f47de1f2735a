"""Benchmark: one `python -m localenv up`'s wall time and CPU until it is up (its state record exists).

    python bench/up_cpu.py [--runs 3] [--monitor] [--template T] [CHECKOUT ...]   # Linux: /proc

For each checkout (default: this one), in turn and `--runs` times: `python -m localenv up --suffix test` of the
session's template (the newest cached one, or --template) in a private state directory, `--no-monitor` unless
`--monitor`; prints the wall time from the start of the process to its state record, and the process's CPU (user +
system, from /proc/<pid>/stat) at that moment, then stops it with SIGTERM and prints how long it took to end.
Several checkouts alternate, so a busy machine weighs on each alike.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.emulator_cpu import STACK, SUFFIX, cpu, newest_template  # noqa: E402  (the same session's template)


def one_run(checkout: Path, template: Path, monitor: bool) -> tuple[float, float, float]:
    """(wall to the state record, CPU then, wall from SIGTERM to the process's end)."""
    directory = Path(tempfile.mkdtemp(prefix="up-cpu-"))  # mode 0700, as `up` requires
    env = {key: value for key, value in os.environ.items() if not key.startswith("COV")}
    state = directory / f"{STACK}.json"
    with (directory / "log").open("w") as log:
        start = time.perf_counter()
        up = subprocess.Popen([sys.executable, "-m", "localenv", "up", "--suffix", SUFFIX, "--template", str(template),
                               "--outputs", str(directory / "o.json"), "--state-dir", str(directory),
                               *([] if monitor else ["--no-monitor"])], cwd=checkout, stdout=log, stderr=log, env=env)
    try:
        while not state.exists():
            if up.poll() is not None:
                sys.exit(f"{checkout}: localenv up ended:\n{(directory / 'log').read_text()[-2000:]}")
            time.sleep(0.005)
        wall, used = time.perf_counter() - start, cpu(up.pid)
    finally:
        stopping = time.perf_counter()
        up.send_signal(signal.SIGTERM)
        up.wait(30)
    return wall, used, time.perf_counter() - stopping


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkouts", nargs="*", type=Path, default=[ROOT])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--monitor", action="store_true", help="with the posture monitor (its stack and consumer)")
    parser.add_argument("--template", type=Path)
    args = parser.parse_args()
    for checkout in args.checkouts:
        if not (checkout / "localenv" / "__main__.py").is_file():
            parser.error(f"{checkout} is not a checkout of this repository (no localenv/__main__.py)")
    template = args.template or newest_template()
    figures: dict[Path, list[tuple[float, float, float]]] = {checkout: [] for checkout in args.checkouts}
    for run in range(args.runs):
        for checkout in args.checkouts:
            wall, used, stop = one_run(checkout, template, args.monitor)
            figures[checkout].append((wall, used, stop))
            print(f"run {run + 1} {checkout}: up in {wall:.2f} s wall, {used:.2f} s CPU; stopped in {stop:.2f} s",
                  flush=True)
    for checkout, runs in figures.items():
        print(f"{checkout}: median up {statistics.median(r[0] for r in runs):.2f} s wall, "
              f"{statistics.median(r[1] for r in runs):.2f} s CPU; stop {statistics.median(r[2] for r in runs):.2f} s")


if __name__ == "__main__":
    main()
