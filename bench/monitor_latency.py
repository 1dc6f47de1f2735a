"""Benchmark: the posture monitor as `python -m localenv up` deploys and runs it — from a write call to its FAILED
finding in the emulator's Security Hub, and from the fix back to PASSED/ARCHIVED (p50/p95 over rounds x kinds of
change), the AWS calls the monitor makes per change event, and a storm of events on one resource (runs per
coalescing window, the final state judged).

    source scripts/env.sh && python bench/monitor_latency.py [--rounds 4] [--kinds KIND ...] [--storm 1000]

Everything as `localenv up` runs it: the emulator with TapStack and TapMonitor deployed, and the monitor's consumer
(`python -m opscli.monitor`, started by `up` with the function's environment and its event source mapping's
batching window), whose JSON log (named in up's state record) gives the calls and runs. The changes are the drift
tests' breakers (tests/integration/test_drift.py), each undone by the same function: every kind names the rule it
breaks. The storm's runs give the local consumer's batches (a read per window); from their measured payload the
result also derives what the deployed event source mapping would do with the same events (its batch size, window,
6 MB payload bound and maximum concurrency: platform_spec/monitor.py and cdk_app/constructs/posture_monitor.py)."""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from cdk_app.assembly_cache import synthesized  # noqa: E402
from cdk_app.constructs.posture_monitor import MAXIMUM_CONCURRENCY  # noqa: E402
from localenv.emulator import LOCAL_CREDENTIALS  # noqa: E402
from opscli.monitor.messages import EVENT_OVERHEAD  # noqa: E402
from platform_spec import monitor, stacks  # noqa: E402
from platform_spec.exit_codes import EXIT_OK  # noqa: E402
from tests.integration.conftest import Deployment  # noqa: E402
from tests.integration.test_drift import DRIFTS  # noqa: E402

SUFFIX = "test"  # the suite's suffix: its synthesized assembly is shared, not made again
# Kinds of change: the drift tests' breakers whose rule the monitor judges from the change's own event. Not an IAM
# change (admin-on-a-task-role): IAM's events reach us-east-1's bus only, never TapMonitor's rule in ap-northeast-1,
# so only the hourly schedule judges it, an hour at most after it (README, "What it cannot see").
KINDS = ("db-open-to-the-world", "db-egress-to-the-world", "kms-rotation-off", "bucket-public-policy-allowed",
         "rds-multi-az-off", "rds-force-ssl-off", "log-retention-removed", "api-tracing-off", "queue-aws-managed-key",
         "topic-aws-managed-key", "insights-off", "alarm-actions-disabled", "ecs-exec-enabled", "web-acl-emptied",
         "queue-tls-policy-removed")
POLL = 0.2  # seconds between looks at Security Hub (the figures are at most this late)
WAIT = 90.0  # seconds a finding may take before the case counts as missed


def up(template: Path, workdir: Path) -> tuple[subprocess.Popen, dict[str, Any]]:
    """`python -m localenv up` with its monitor (its template beside TapStack's); the state record, once the
    consumer has run the whole audit (the schedule's message, sent as the schedule first sends it)."""
    state = workdir / "state"
    state.mkdir(mode=0o700)
    command = [sys.executable, "-m", "localenv", "up", "--suffix", SUFFIX, "--template", str(template),
               "--outputs", str(workdir / "flat-outputs.json"), "--state-dir", str(state)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=(workdir / "localenv.log").open("w"),
                               stderr=subprocess.STDOUT)
    record = state / f"{stacks.stack_name(SUFFIX)}.json"
    deadline, scheduled = time.monotonic() + 300, False
    while not record.exists() or not [r for r in runs(Path(json.loads(record.read_text())["monitor"]["log"]), 0)
                                      if r.get("kind") == "schedule"]:
        if record.exists() and not scheduled:
            subprocess.run([sys.executable, "-m", "localenv", "schedule", "--suffix", SUFFIX, "--state-dir",
                            str(state)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            scheduled = True
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"localenv up did not come up:\n{(workdir / 'localenv.log').read_text()[-2000:]}")
        time.sleep(0.2)
    return process, json.loads(record.read_text())


def findings(hub: Any) -> dict[str, dict]:
    return {f["Id"]: f for page in hub.get_paginator("get_findings").paginate() for f in page["Findings"]}


def wait_for(hub: Any, condition: Any) -> tuple[float | None, dict[str, dict]]:
    start = time.monotonic()
    while time.monotonic() - start < WAIT:
        found = findings(hub)
        if condition(found):
            return time.monotonic() - start, found
        time.sleep(POLL)
    return None, findings(hub)


def one_case(d: Deployment, hub: Any, kind: str) -> dict[str, Any]:
    toggle, rules, _, _ = DRIFTS[kind]
    was_failing = {i for i, f in findings(hub).items() if f["Compliance"]["Status"] == "FAILED"}

    def failing(found: dict[str, dict]) -> set[str]:
        return {i for i, f in found.items() if f["Compliance"]["Status"] == "FAILED" and f["RecordState"] == "ACTIVE"
                and f["GeneratorId"] in rules and i not in was_failing}

    start = time.monotonic()
    toggle(d, False)
    took, found = wait_for(hub, lambda found: bool(failing(found)))
    broke = time.monotonic() - start if took is not None else None
    opened = failing(found)
    start = time.monotonic()
    toggle(d, True)
    took, _ = wait_for(hub, lambda found: all(found[i]["Compliance"]["Status"] == "PASSED" and
                                                found[i]["RecordState"] == "ARCHIVED" for i in opened))
    fixed = time.monotonic() - start if took is not None and opened else None
    return {"kind": kind, "fail_s": broke, "pass_s": fixed, "findings": sorted(opened)}


def runs(log: Path, since: int) -> list[dict[str, Any]]:
    lines = log.read_text(errors="replace").splitlines()[since:] if log.exists() else []
    return [r for r in (json.loads(line) for line in lines if line.startswith("{")) if r.get("event") == "run"]


def storm(d: Deployment, hub: Any, log: Path, count: int, window: float) -> dict[str, Any]:
    """`count` writes to one resource (the ingest bucket's public access block, on and off), the last one
    leaving it open: the monitor must end on FAILED, having read the bucket once per window."""
    s3, bucket = d.client("s3"), d.outputs["IngestBucketName"]
    before = len(log.read_text().splitlines())
    start = time.monotonic()
    for n in range(count):
        block_public_policy = n % 2 == 1 if n < count - 1 else False  # the last write leaves it open
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": block_public_policy,
            "RestrictPublicBuckets": True})
    wrote = time.monotonic() - start
    took, _found = wait_for(hub, lambda found: any(
        f["Compliance"]["Status"] == "FAILED" and f["GeneratorId"] == "STK-S3-001" for f in found.values()))
    settled = time.monotonic()
    while time.monotonic() - settled < WAIT:  # every event of the storm judged (its runs logged)
        judged = sum(r["changes"] for r in runs(log, before))
        if judged >= count:
            break
        time.sleep(0.5)
    storm_runs = [r for r in runs(log, before) if r["changes"]]
    final = [f for f in findings(hub).values() if f["GeneratorId"] == "STK-S3-001"
             and f["Resources"][0]["Id"] in (bucket, f"arn:aws:s3:::{bucket}")]
    d.client("s3").put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    judged = sum(r["changes"] for r in storm_runs)
    return {"events": count, "writes_s": round(wrote, 2), "runs": len(storm_runs),
            "window_s": window, "windows_spanned": math.ceil(wrote / window) if window else None,
            "events_per_run": [r["changes"] for r in storm_runs], "named_per_run": [r["named"] for r in storm_runs],
            "reads_per_run": [r["read"] for r in storm_runs], "calls_per_run": [r["calls"] for r in storm_runs],
            "events_judged": judged,
            "final_status": sorted({(f["Compliance"]["Status"], f["RecordState"]) for f in final}),
            "final_after_last_write_s": round(took, 2) if took is not None else None,
            "deployed_mapping": deployed(count, [r["payload"] for r in storm_runs], judged, len(storm_runs))}


def deployed(count: int, payloads: list[int], judged: int, runs_: int) -> dict[str, Any]:
    """What the deployed event source mapping would make of the storm's events, from their measured weight: how
    many fit one batch (its batch size, and Lambda's 6 MB), so how many invocations if every event is on the queue
    within one window (CloudTrail delivers in bursts), how many at the local write rate (a batch a window, as the
    consumer made), and how many the old mapping (BatchSize 10) made at least."""
    per_event = (sum(payloads) - EVENT_OVERHEAD * len(payloads)) / judged if judged else 0
    fit = min(monitor.BATCH_SIZE, int((monitor.BATCH_PAYLOAD_BYTES - EVENT_OVERHEAD) // per_event)) if per_event \
        else monitor.BATCH_SIZE
    return {"batch_size": monitor.BATCH_SIZE, "window_s": monitor.BATCH_WINDOW_SECONDS,
            "payload_limit": monitor.BATCH_PAYLOAD_BYTES, "maximum_concurrency": MAXIMUM_CONCURRENCY,
            "bytes_per_event": round(per_event), "events_per_batch_at_most": fit,
            "invocations_all_in_one_window": [math.ceil(count / fit), max(math.ceil(count / fit), MAXIMUM_CONCURRENCY)],
            "invocations_at_this_rate": [runs_, runs_ * MAXIMUM_CONCURRENCY],
            "invocations_with_batch_size_10_at_least": math.ceil(count / 10)}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))], 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4, help="times each kind of change is made and undone "
                        "(default 4: 60 changes with the default kinds)")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=sorted(DRIFTS), metavar="KIND",
                        help="the drift tests' breakers to use (tests/integration/test_drift.py DRIFTS; default "
                             f"the {len(KINDS)} the monitor judges from the change's own event)")
    parser.add_argument("--storm", type=int, default=1000, help="writes to one resource in a row, then the runs "
                        "they made and what the deployed mapping would make of them (default 1000; 0: none)")
    args = parser.parse_args()
    load = [round(x, 2) for x in os.getloadavg()]
    assembly = synthesized({"environmentSuffix": SUFFIX})
    os.environ.update(LOCAL_CREDENTIALS)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for stack in (stacks.stack_name(SUFFIX), monitor.stack_name(SUFFIX)):  # the monitor's beside the stack's
            (workdir / f"{stack}.template.json").write_text(json.dumps(assembly.template(stack)))
        emulator, record = up(workdir / f"{stacks.stack_name(SUFFIX)}.template.json", workdir)
        endpoint, log = record["endpoint"], Path(record["monitor"]["log"])
        try:
            session = boto3.Session(region_name=stacks.ALLOWED_REGION)
            started = next(json.loads(line) for line in log.read_text().splitlines() if '"started"' in line)
            outputs = json.loads((workdir / "flat-outputs.json").read_text())
            d = Deployment(outputs, workdir / "flat-outputs.json", endpoint, session, local=True)
            hub = session.client("securityhub", endpoint_url=endpoint)
            cases = []
            for round_ in range(args.rounds):
                for kind in args.kinds:
                    before = len(log.read_text().splitlines())
                    case = one_case(d, hub, kind)
                    case["round"] = round_
                    case["runs"] = [{**{k: r[k] for k in ("kind", "changes", "ignored", "read", "calls", "seconds")},
                                     "imported": sum(r["findings"].values())} for r in runs(log, before)]
                    cases.append(case)
                    print(json.dumps(case), flush=True)
            result: dict[str, Any] = {"window_s": started["window"], "cases": len(cases), "kinds": len(args.kinds)}
            for key in ("fail_s", "pass_s"):
                values = [c[key] for c in cases if c[key] is not None]
                result[key] = {"p50": pct(values, 0.5), "p95": pct(values, 0.95), "max": round(max(values), 2),
                               "missed": sum(c[key] is None for c in cases)} if values else {"missed": len(cases)}
            change_runs = [r for c in cases for r in c["runs"] if r["kind"] == "change" and r["changes"]]
            per_event = [r["calls"] / r["changes"] for r in change_runs]
            result["calls_per_change_event"] = {"median": statistics.median(per_event), "max": max(per_event),
                                                "runs": len(change_runs)} if per_event else None
            imported = [r["imported"] / r["changes"] for r in change_runs]
            result["findings_imported_per_change_event"] = {"median": statistics.median(imported),
                                                            "max": max(imported)} if imported else None
            seconds = [r["seconds"] for r in change_runs]
            result["seconds_per_change_run"] = {"median": statistics.median(seconds), "max": max(seconds)} \
                if seconds else None
            whole = [r for c in cases for r in c["runs"] if r["kind"] == "schedule"]
            result["whole_stack_runs"] = {"count": len(whole), "calls": [r["calls"] for r in whole],
                                          "imported": [r["imported"] for r in whole],
                                          "seconds": [r["seconds"] for r in whole]}
            by_kind: dict[str, list[float]] = {}
            for c in cases:
                if c["fail_s"] is not None:
                    by_kind.setdefault(c["kind"], []).append(c["fail_s"])
            result["fail_s_median_by_kind"] = {k: round(statistics.median(v), 2) for k, v in by_kind.items()}
            if args.storm:
                result["storm"] = storm(d, hub, log, args.storm, float(started["window"]))
            result["load_average"] = {"start": load, "end": [round(x, 2) for x in os.getloadavg()]}
            print(json.dumps(result, indent=1))
        finally:
            emulator.terminate()  # `up` stops its consumer and listener on the way out
            emulator.wait(60)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
