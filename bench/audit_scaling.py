"""Benchmark: `opscli audit` wall time and API calls for one environment in an account that also holds 0, 500
and 5,000 unrelated resources (moto server on 127.0.0.1). The cost should stay flat: opscli looks resources
up by name, never by listing the account.

    source scripts/env.sh && python bench/audit_scaling.py [--sizes 0 500 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # our packages, for a script run by path

from cdk_app.assembly_cache import synthesized
from cdk_app.config import AppConfig
from localenv.__main__ import deploy
from localenv.emulator import LOCAL_CREDENTIALS, moto_server
from platform_spec.exit_codes import EXIT_OK
from platform_spec.stacks import stack_name

ROOT = Path(__file__).resolve().parents[1]

# Unrelated resources, round-robin over services the audit also reads (REST APIs kept to 1%: the real
# per-region quota is 600, and opscli lists them 500 per page).
KINDS = ("logs", "secret", "kms", "efs", "ecs", "sns", "rds-params", "apigateway")


def create_unrelated(session: boto3.Session, endpoint: str, count: int) -> float:
    start = time.perf_counter()
    clients = {name: session.client(name, endpoint_url=endpoint) for name in
               ("logs", "secretsmanager", "kms", "efs", "ecs", "sns", "rds", "apigateway")}
    for i in range(count):
        kind = KINDS[i % (len(KINDS) - 1)] if i % 100 else "apigateway"
        name = f"unrelated-{i:05d}"
        if kind == "logs":
            clients["logs"].create_log_group(logGroupName=f"/other/{name}")
        elif kind == "secret":
            clients["secretsmanager"].create_secret(Name=name, SecretString="{}")
        elif kind == "kms":
            clients["kms"].create_key(Description=name)
        elif kind == "efs":
            clients["efs"].create_file_system(CreationToken=name, Tags=[{"Key": "Name", "Value": name}])
        elif kind == "ecs":
            clients["ecs"].create_cluster(clusterName=name)
        elif kind == "sns":
            clients["sns"].create_topic(Name=name)
        elif kind == "rds-params":
            clients["rds"].create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily="postgres17",
                                                     Description=name)
        else:
            clients["apigateway"].create_rest_api(name=name)
    return time.perf_counter() - start


def audit(endpoint: str, outputs: Path, command: str = "audit") -> tuple[float, int, int, str]:
    env = {**os.environ, **LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "opscli", command, "--suffix", "bench", "-o", "json"],
                          env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    document = json.loads(proc.stdout)
    coverage = document.get("coverage") or {}
    read = f"{coverage.get('read')}/{coverage.get('declared')}"
    return elapsed, document["summary"]["api_calls"], proc.returncode, read


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 500, 5000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # The assembly of this checkout (the cache synthesizes when an input changed): a template left in cdk.out
    # by an older checkout would audit a different stack.
    template = synthesized({"environmentSuffix": "bench", "compliancePacks": "false"}).template(stack_name("bench"))
    config = AppConfig.for_suffix("bench")
    os.environ.update(LOCAL_CREDENTIALS)
    rows = []
    for size in args.sizes:
        with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
            session = boto3.Session(region_name=config.region)
            deploy(template, config, endpoint, Path(tmp) / "outputs.json")
            filled = create_unrelated(session, endpoint, size)
            for command in ("audit", "drift"):
                audit(endpoint, Path(tmp) / "outputs.json", command)  # warm-up
                results = [audit(endpoint, Path(tmp) / "outputs.json", command) for _ in range(args.runs)]
                times = [r[0] for r in results]
                rows.append((command, size, statistics.median(times), min(times), {r[1] for r in results},
                             {r[2] for r in results}, {r[3] for r in results}, filled))
    print(f"\nopscli audit / drift (real process, JSON output) against a moto server; median of {args.runs} runs")
    print(f"{'command':>8} {'unrelated':>10} {'median s':>9} {'min s':>7} {'API calls':>10} {'exit':>5} "
          f"{'read':>8}   (seeding took)")
    for command, size, median, low, calls, codes, read, filled in rows:
        print(f"{command:>8} {size:>10} {median:>9.2f} {low:>7.2f} {','.join(map(str, sorted(calls))):>10} "
              f"{','.join(map(str, sorted(codes))):>5} {','.join(sorted(read)):>8}   ({filled:.0f}s)")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
