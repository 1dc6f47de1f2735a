"""Benchmark: wall and CPU time of the policy gate next to a plain synth of the same app and an empty CDK app.

    source scripts/env.sh && python bench/gate.py [--runs 3]

Prints the median and min wall time and the median CPU time of each over --runs rounds (after one warm-up
round), and the load average before and after. A round runs every case once, so a machine whose load changes
during the benchmark weighs on every case alike. The gate is timed twice: as a developer reruns it on unchanged
code (its synthesis reused from the assembly cache) and cold, after a code change (a new, empty assembly cache
for every run). The plain synth is timed as a developer runs it (with CDK's built-in template check) and
without that check (`--no-validation`, as the gate synthesizes: the gate's cfn-lint runs those rules instead).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # our packages, for a script run by path

from platform_spec.exit_codes import EXIT_OK
from platform_spec.stacks import ALLOWED_REGION, STACK_PREFIX

ROOT = Path(__file__).resolve().parents[1]
PLAIN = f"{STACK_PREFIX} plain synth (no compliance packs)"
PLAIN_UNCHECKED = f"{STACK_PREFIX} plain synth, without CDK's template check (--no-validation)"
PACKS = f"{STACK_PREFIX} synth with Aspects + 5 cdk-nag packs"
CACHED = "policy gate, assembly cached (unchanged code)"
COLD = "policy gate, cold assembly cache (after a code change)"
EMPTY_APP = f'''
import aws_cdk as cdk
app = cdk.App()
cdk.Stack(app, "Empty", env=cdk.Environment(region="{ALLOWED_REGION}"))
app.synth()
'''


def timed(cmd: list[str], cwd: Path, cold_cache: Path | None = None) -> tuple[float, float]:
    """Wall time and CPU time (user + system, of every process the command ran) of one run; with `cold_cache`,
    the assembly cache is a new empty directory under it (the gate after a code change: its synthesis cannot be
    reused). The CPU time hardly moves with the machine's load, the wall time does."""
    env = None
    if cold_cache is not None:
        env = {**os.environ, "STREAMTECH_ASSEMBLY_CACHE": tempfile.mkdtemp(dir=cold_cache)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    work = Path(tempfile.mkdtemp(prefix="bench-gate-"))
    empty = work / "empty"
    empty.mkdir()
    for reports in ("reports", "reports-cold"):  # the gate makes no directory it is named
        (work / reports).mkdir()
    (empty / "app.py").write_text(EMPTY_APP)
    (empty / "cdk.json").write_text('{"app": "python3 app.py", "versionReporting": false, "notices": false}')
    plain_synth = ["cdk", "synth", "--quiet", "-c", "environmentSuffix=bench", "-c", "compliancePacks=false"]
    cases = {
        "empty CDK app (cdk synth)": (
            [str(ROOT / "node_modules/.bin/cdk"), "synth", "--quiet", "-o", str(work / "e")], empty),
        PLAIN: ([*plain_synth, "-o", str(work / "plain")], ROOT),
        PLAIN_UNCHECKED: ([*plain_synth, "--no-validation", "-o", str(work / "plain-unchecked")], ROOT),
        PACKS: (
            ["cdk", "synth", "--quiet", "-c", "environmentSuffix=bench", "-o", str(work / "packs")], ROOT),
        CACHED: (
            [sys.executable, "-m", "policies.gate", "--suffix", "bench", "--cdk-out", str(work / "gate"),
             "--reports", str(work / "reports")], ROOT),
        COLD: (
            [sys.executable, "-m", "policies.gate", "--suffix", "bench", "--cdk-out", str(work / "gate-cold"),
             "--reports", str(work / "reports-cold")], ROOT),
    }
    caches = work / "caches"
    caches.mkdir()
    load_before = os.getloadavg()
    results: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(args.runs + 1):  # round 0 warms up: __pycache__, node modules (and the assembly cache)
        for name, (cmd, cwd) in cases.items():
            elapsed, seconds = timed(cmd, cwd, caches if name == COLD else None)
            if round_:
                results[name].append(elapsed)
                cpu[name].append(seconds)
    load_after = os.getloadavg()
    print(f"rounds: {args.runs} (after one warm-up round); machine: {os.cpu_count()} cores; load average "
          f"{' '.join(f'{x:.2f}' for x in load_before)} before, {' '.join(f'{x:.2f}' for x in load_after)} after")
    for name, times in results.items():
        print(f"  {name:<64} median {statistics.median(times):6.1f}s  min {min(times):6.1f}s  "
              f"CPU {statistics.median(cpu[name]):6.1f}s")
    median = {name: statistics.median(times) for name, times in results.items()}
    per_round = [cold / plain for cold, plain in zip(results[COLD], results[PLAIN], strict=True)]
    packs = median[PACKS]
    print(f"  gate (assembly cached) / plain synth: {median[CACHED] / median[PLAIN]:.2f}x")
    print(f"  gate (cold) / plain synth: {median[COLD] / median[PLAIN]:.2f}x (per round "
          f"{min(per_round):.2f}-{max(per_round):.2f}x); synth with packs alone: {packs / median[PLAIN]:.2f}x")
    print(f"  gate (cold) / plain synth without CDK's template check: {median[COLD] / median[PLAIN_UNCHECKED]:.2f}x")
    cpu_median = {name: statistics.median(seconds) for name, seconds in cpu.items()}
    print(f"  CPU time, gate (cold) / plain synth: {cpu_median[COLD] / cpu_median[PLAIN]:.2f}x")
    shutil.rmtree(work, ignore_errors=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
