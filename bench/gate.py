"""Benchmark: wall time of the policy gate next to a plain synth of the same app and an empty CDK app.

    source scripts/env.sh && python bench/gate.py [--runs 3]

Prints the median and min of each over --runs runs (after one warm-up run of each). The gate is timed twice: as
a developer reruns it on unchanged code (its synthesis reused from the assembly cache) and cold, after a code
change (a new, empty assembly cache for every run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLD = "policy gate, cold assembly cache (after a code change)"
EMPTY_APP = '''
import aws_cdk as cdk
app = cdk.App()
cdk.Stack(app, "Empty", env=cdk.Environment(region="ap-northeast-1"))
app.synth()
'''


def timed(cmd: list[str], cwd: Path, cold_cache: Path | None = None) -> float:
    """Wall time of one run; with `cold_cache`, the assembly cache is a new empty directory under it (the gate
    after a code change: its synthesis cannot be reused)."""
    env = None
    if cold_cache is not None:
        env = {**os.environ, "STREAMTECH_ASSEMBLY_CACHE": tempfile.mkdtemp(dir=cold_cache)}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-gate-"))
    empty = work / "empty"
    empty.mkdir()
    for reports in ("reports", "reports-cold"):  # the gate makes no directory it is named
        (work / reports).mkdir()
    (empty / "app.py").write_text(EMPTY_APP)
    (empty / "cdk.json").write_text('{"app": "python3 app.py", "versionReporting": false, "notices": false}')
    cases = {
        "empty CDK app (cdk synth)": ([str(ROOT / "node_modules/.bin/cdk"), "synth", "--quiet", "-o", str(work / "e")], empty),
        "TapStack plain synth (no compliance packs)": (
            ["cdk", "synth", "--quiet", "-c", "environmentSuffix=bench", "-c", "compliancePacks=false",
             "-o", str(work / "plain")], ROOT),
        "TapStack synth with Aspects + 5 cdk-nag packs": (
            ["cdk", "synth", "--quiet", "-c", "environmentSuffix=bench", "-o", str(work / "packs")], ROOT),
        "policy gate (synth + packs + Checkov + template engine)": (
            [sys.executable, "-m", "policies.gate", "--suffix", "bench", "--cdk-out", str(work / "gate"),
             "--reports", str(work / "reports")], ROOT),
        COLD: (
            [sys.executable, "-m", "policies.gate", "--suffix", "bench", "--cdk-out", str(work / "gate-cold"),
             "--reports", str(work / "reports-cold")], ROOT),
    }
    caches = work / "caches"
    caches.mkdir()
    results: dict[str, list[float]] = {}
    for name, (cmd, cwd) in cases.items():
        cold = caches if name == COLD else None
        timed(cmd, cwd, cold)  # warm-up: __pycache__, node module loading (and, but for COLD, the assembly cache)
        results[name] = [timed(cmd, cwd, cold) for _ in range(args.runs)]
    print(f"runs per case: {args.runs} (after one warm-up); machine: 2 cores")
    for name, times in results.items():
        print(f"  {name:<58} median {statistics.median(times):6.1f}s  min {min(times):6.1f}s")
    plain = statistics.median(results["TapStack plain synth (no compliance packs)"])
    gate = statistics.median(results["policy gate (synth + packs + Checkov + template engine)"])
    packs = statistics.median(results["TapStack synth with Aspects + 5 cdk-nag packs"])
    cold = statistics.median(results[COLD])
    print(f"  gate (assembly cached) / plain synth: {gate / plain:.2f}x")
    print(f"  gate (cold) / plain synth: {cold / plain:.2f}x; synth with packs alone: {packs / plain:.2f}x")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
