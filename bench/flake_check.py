"""Flake check: the whole suite N times in a row while a process burns one core, every failure by its test id.

    source scripts/env.sh && python bench/flake_check.py [--runs 10] [--hogs 1] [-- PYTEST_ARGS ...]

CI runs on whatever machine is free, often a busy one: a test that passes only on an idle machine blocks good
changes. This runs `bash scripts/test.sh` (the README's test command, coverage included) --runs times while
--hogs processes spin, each pinned to its own core (core 0 first), and prints one line per run (result, wall
time, counts) and then every test that failed with the runs it failed in. A run's JUnit XML is read for the test
ids; a run whose XML is missing (the suite did not start, or crashed) counts as failed with its last lines shown.

Exit codes: 0 every run green; 1 a run failed; 2 usage error; 130 interrupted (the suite and the hogs stopped).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # our packages, for a script run by path

from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK

ROOT = Path(__file__).resolve().parents[1]
HOG = "while True:\n    pass\n"


def start_hogs(count: int) -> list[subprocess.Popen]:
    """`count` busy processes, each pinned to one core (0, 1, ...), so the suite loses exactly those cores."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    hogs = []
    for index in range(count):
        core = cores[index % len(cores)]

        def pin(core: int = core) -> None:
            if hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, {core})

        hogs.append(subprocess.Popen([sys.executable, "-c", HOG], preexec_fn=pin, stdin=subprocess.DEVNULL))
    return hogs


def stop(processes: list[subprocess.Popen]) -> None:
    """Stop processes this script started (and only those): the suite's whole session, the hogs."""
    for proc in processes:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM) if getattr(proc, "own_group", False) else proc.terminate()
    for proc in processes:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL) if getattr(proc, "own_group", False) else proc.kill()
            proc.wait()


def failures(junit: Path) -> tuple[list[str], dict[str, int]]:
    """The ids of the failed and errored tests in a JUnit XML report, and the counts."""
    root = ElementTree.parse(junit).getroot()
    failed, counts = [], defaultdict(int)
    for case in root.iter("testcase"):
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        counts[outcome] += 1
        if outcome in ("failure", "error"):
            path = case.get("classname", "").replace(".", "/")
            failed.append(f"{path}.py::{case.get('name')}" if path else case.get("name", "?"))
    return failed, dict(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--hogs", type=int, default=1, help="busy processes, one per core (default 1)")
    parser.add_argument("pytest_args", nargs="*", help="after --: extra arguments for pytest")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.hogs < 0:
        parser.error("--runs must be at least 1 and --hogs at least 0")
    work = Path(tempfile.mkdtemp(prefix="flake-check-"))
    failed_in: dict[str, list[int]] = defaultdict(list)
    green = 0
    running: list[subprocess.Popen] = []
    try:
        running += start_hogs(args.hogs)
        for number in range(1, args.runs + 1):
            junit, log = work / f"run-{number}.xml", work / f"run-{number}.log"
            started = time.monotonic()
            with log.open("w") as out:
                suite = subprocess.Popen(["bash", "scripts/test.sh", "-q", f"--junitxml={junit}", *args.pytest_args],
                                         cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
                suite.own_group = True  # type: ignore[attr-defined] - its session is ours: we started it
                running.append(suite)
                code = suite.wait()
                running.remove(suite)
            wall = time.monotonic() - started
            if junit.exists():
                ids, counts = failures(junit)
            else:
                ids, counts = [f"(no report: the suite exited {code})"], {}
            for test in ids:
                failed_in[test].append(number)
            ok = code == 0 and not ids
            green += ok
            summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
            print(f"run {number:>2}: {'green' if ok else 'FAILED'}  exit {code}  {wall:6.1f} s  {summary}", flush=True)
            if not ok and not junit.exists():
                print("  last lines:\n    " + "\n    ".join(log.read_text(errors="replace").splitlines()[-15:]))
    except KeyboardInterrupt:
        stop(running)
        print("interrupted: the suite and the hogs were stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        stop(running)
    print(f"\n{green} of {args.runs} runs green with {args.hogs} core(s) busy; logs and JUnit XML in {work}")
    for test, runs in sorted(failed_in.items()):
        print(f"  FAILED in run(s) {', '.join(map(str, runs))}: {test}")
    return EXIT_OK if green == args.runs else EXIT_FINDINGS


if __name__ == "__main__":
    sys.exit(main())
