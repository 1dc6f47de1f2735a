"""Benchmark: the audit's one account-wide read (iam:GetAccountAuthorizationDetails, paged 1,000 items a page) and
the perimeter's evaluation in memory, for an account that also holds 0, 1,000 and 10,000 roles beside the stack;
and the whole `opscli audit` (a real process) at 1,000 roles. moto server on 127.0.0.1; the roles are made in moto's
IAM backend in this process (through the API, 10,000 roles take minutes to create).

    source scripts/env.sh && python bench/iam_scaling.py [--sizes 0 1000 10000] [--runs 3] [--audit-at 1000]

The roles are what a busy account holds: a quarter trusted by a service, a quarter by the account, a quarter by
another account (a partner), a quarter by a web-identity provider; each with an inline policy and one of ten shared
customer-managed policies attached, none of which reaches the stack's data (so every run judges every role and the
audit stays compliant).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # our packages, for a script run by path

from bench.audit_scaling import audit
from cdk_app.assembly_cache import synthesized
from cdk_app.config import AppConfig
from localenv.__main__ import deploy
from localenv.emulator import LOCAL_CREDENTIALS, moto_server
from platform_spec.exit_codes import EXIT_OK
from platform_spec.stacks import ALLOWED_REGION, stack_name

ROOT = Path(__file__).resolve().parents[1]

ACCOUNT = "123456789012"
TRUSTS = ({"Service": "lambda.amazonaws.com"}, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
          {"AWS": "arn:aws:iam::999999999999:root"}, {"Federated": "accounts.google.com"})


def _document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def add_roles(count: int) -> float:
    """`count` roles beside the stack, made in moto's IAM backend directly."""
    from moto.iam.models import iam_backends

    start = time.perf_counter()
    backend = iam_backends[ACCOUNT]["global"]
    shared = []
    for n in range(10):
        policy = backend.create_policy(description="", path="/", policy_name=f"shared-{n}", tags=[],
                                       policy_document=_document({"Effect": "Allow", "Action": f"logs:Get{n}*",
                                                                  "Resource": "*"}))
        shared.append(policy.arn)
    for n in range(count):
        name = f"unrelated-role-{n:05d}"
        action = "sts:AssumeRoleWithWebIdentity" if n % 4 == 3 else "sts:AssumeRole"
        backend.create_role(role_name=name, path="/", permissions_boundary=None, description="", tags=[],
                            max_session_duration=None, assume_role_policy_document=_document(
                                {"Effect": "Allow", "Principal": TRUSTS[n % 4], "Action": action}))
        backend.put_role_policy(name, "inline", _document(
            {"Effect": "Allow", "Action": ["ec2:Describe*", "s3:ListBucket"],
             "Resource": f"arn:aws:s3:::other-bucket-{n}"}))
        backend.attach_role_policy(shared[n % 10], name)
    return time.perf_counter() - start


def account_read(endpoint: str) -> tuple[float, float, int, int, int]:
    """(read seconds, evaluation seconds, pages, roles read, findings) in this process, as the audit does them."""
    from opscli import account_iam, core, livestack, stackcheck, targets
    from opscli.aws import Aws, new_session

    session = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                          region_name=ALLOWED_REGION)
    aws = Aws(session=session, endpoint_url=endpoint, max_attempts=2)
    start = time.perf_counter()
    iam = account_iam.read(aws)
    read = time.perf_counter() - start
    scope = core.stack_scope(aws, targets.from_suffix("bench"))
    live = livestack.read_stack(aws, scope, account=core.account_id(aws))
    live.account_iam = iam
    start = time.perf_counter()
    findings = stackcheck.account_findings(live)
    evaluation = time.perf_counter() - start
    assert not [f for f in findings if f.status.value != "PASS"], [(f.resource, f.reason) for f in findings][:3]
    return read, evaluation, iam.pages, len(iam.roles), len(findings)


def audit_in_process(endpoint: str, outputs: Path) -> float:
    """`opscli audit`'s core in this process (no interpreter start-up, clients already made): seconds."""
    from opscli import core, targets
    from opscli.aws import Aws, new_session

    session = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                          region_name=ALLOWED_REGION)
    aws = Aws(session=session, endpoint_url=endpoint, max_attempts=2)
    core.audit(aws, targets.from_outputs(outputs))  # warm-up: clients and models
    start = time.perf_counter()
    report = core.audit(aws, targets.from_outputs(outputs))
    assert not [f for f in report.findings if f.status.value in ("FAIL", "ERROR")]
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 1000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--audit-at", type=int, default=1000)
    args = parser.parse_args()
    template = synthesized({"environmentSuffix": "bench", "compliancePacks": "false"}).template(stack_name("bench"))
    config = AppConfig.for_suffix("bench")
    os.environ.update(LOCAL_CREDENTIALS)
    rows, audits, inside = [], [], []
    for size in args.sizes:
        with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
            deploy(template, config, endpoint, Path(tmp) / "outputs.json")
            boto3.Session(region_name=config.region)  # the same process's moto state the server serves
            made = add_roles(size)
            account_read(endpoint)  # warm-up
            results = [account_read(endpoint) for _ in range(args.runs)]
            rows.append((size, statistics.median(r[0] for r in results), statistics.median(r[1] for r in results),
                         results[0][2], results[0][3], made))
            if size == args.audit_at:
                audit(endpoint, Path(tmp) / "outputs.json")  # warm-up
                audits = [audit(endpoint, Path(tmp) / "outputs.json") for _ in range(args.runs)]
                inside = [audit_in_process(endpoint, Path(tmp) / "outputs.json") for _ in range(args.runs)]
    print(f"\nthe account's IAM read and judged in process (moto server); median of {args.runs} runs")
    print(f"{'roles':>7} {'read s':>7} {'judge s':>8} {'pages':>6} {'roles read':>11}   (creating them took)")
    for size, read, judged, pages, read_roles, made in rows:
        print(f"{size:>7} {read:>7.2f} {judged:>8.3f} {pages:>6} {read_roles:>11}   ({made:.1f}s)")
    if audits:
        times = [a[0] for a in audits]
        print(f"\nopscli audit (real process, JSON output) at {args.audit_at} roles: "
              f"median {statistics.median(times):.2f} s, min {min(times):.2f} s, "
              f"API calls {sorted({a[1] for a in audits})}, exit {sorted({a[2] for a in audits})}")
        print(f"its core in process: median {statistics.median(inside):.2f} s, min {min(inside):.2f} s")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
