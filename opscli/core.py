"""The core: runs collectors for a command and returns a Report. Never prints; never imports click or rich."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from platform_spec.tagging import REQUIRED_TAG_KEYS
from opscli.aws import ALLOWED_REGION, Aws
from opscli.checks import Context, Spec, run_collector
from opscli.checks import collectors as c
from opscli.errors import UsageError
from opscli.model import Finding, Report, sort_findings
from opscli.targets import Targets

# Which collectors each command runs (in that order for KMS first: the others compare against its key).
AUDIT_SPECS: tuple[Spec, ...] = (c.KMS, c.RDS, c.REDIS, c.EFS, c.ECS_CLUSTER, c.ECS_SERVICE, c.API, c.LOGS,
                                 c.BUCKET, c.QUEUE)
SECRETS_SPECS: tuple[Spec, ...] = (c.SECRET,)
KEYS_SPECS: tuple[Spec, ...] = (c.KMS,)
MAX_WORKERS = 4  # bounded concurrency across services

Progress = Callable[[str, int, int], None]  # (step just finished, steps done, steps in all)


def expected_tags(targets: Targets) -> dict[str, str]:
    return {key: (targets.suffix if key == "Environment" else "") for key in REQUIRED_TAG_KEYS}


def _context(aws: Aws, targets: Targets, *, max_age_days: int = 90, now: datetime | None = None) -> Context:
    return Context(aws=aws, targets=targets, now=now or datetime.now(timezone.utc), max_age_days=max_age_days,
                   expected_tags=expected_tags(targets))


def _run(command: str, aws: Aws, targets: Targets, first: list, rest: list, context: Context,
         progress: Progress | None) -> Report:
    start = time.perf_counter()
    calls_before = len(aws.log.calls)
    findings: list[Finding] = []
    total, done = len(first) + len(rest), 0
    for spec, fn, resource, *args in first:
        findings += run_collector(spec, fn, context, resource, *args)
        done += 1
        if progress:
            progress(f"{spec.name} {resource}", done, total)
    with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
        futures = [(spec, resource, pool.submit(run_collector, spec, fn, context, resource, *args))
                   for spec, fn, resource, *args in rest]
        for spec, resource, future in futures:
            findings += future.result()
            done += 1
            if progress:
                progress(f"{spec.name} {resource}", done, total)
    return Report(command=command, target=targets.as_dict(), findings=sort_findings(findings),
                  api_calls=len(aws.log.calls) - calls_before, seconds=time.perf_counter() - start)


def require_region(aws: Aws) -> None:
    if aws.region != ALLOWED_REGION:
        raise UsageError(f"region '{aws.region}' is not allowed: the platform runs in {ALLOWED_REGION} only")


def audit(aws: Aws, targets: Targets, *, progress: Progress | None = None, now: datetime | None = None) -> Report:
    """Every live posture check of the environment (KMS first: the others compare against its key)."""
    require_region(aws)
    aws.check_credentials()
    t = targets
    first = [(c.KMS, c.kms, t.kms_key)]
    rest = [(c.RDS, c.rds, t.db_instance), (c.REDIS, c.redis, t.redis_group), (c.EFS, c.efs, t.efs_name, t.efs_id),
            (c.ECS_CLUSTER, c.ecs_cluster, t.cluster), (c.API, c.api, t.api_name, t.api_id)]
    rest += [(c.ECS_SERVICE, c.ecs_service, name) for name in t.services]
    rest += [(c.LOGS, c.log_group, name) for name in t.log_groups]
    rest += [(c.BUCKET, c.bucket, t.ingest_bucket_tag, t.ingest_bucket),
             (c.QUEUE, c.queue, t.intake_queue, t.intake_dlq), (c.QUEUE, c.queue, t.intake_dlq, None)]
    return _run("audit", aws, t, first, rest, _context(aws, t, now=now), progress)


def rotate_secrets(aws: Aws, targets: Targets, *, max_age_days: int = 90, progress: Progress | None = None,
                   now: datetime | None = None) -> Report:
    """Rotation posture of the secrets the stack reads."""
    require_region(aws)
    aws.check_credentials()
    rest = [(c.SECRET, c.secret, name) for name in targets.secrets]
    return _run("rotate-check secrets", aws, targets, [], rest,
                _context(aws, targets, max_age_days=max_age_days, now=now), progress)


def rotate_keys(aws: Aws, targets: Targets, *, progress: Progress | None = None,
                now: datetime | None = None) -> Report:
    """Rotation posture of the project KMS key."""
    require_region(aws)
    aws.check_credentials()
    return _run("rotate-check keys", aws, targets, [(c.KMS, c.kms, targets.kms_key)], [],
                _context(aws, targets, now=now), progress)


def declared_operations(specs: tuple[Spec, ...] = AUDIT_SPECS + SECRETS_SPECS + KEYS_SPECS) -> set[str]:
    return {op for spec in specs for op in spec.operations}


def live_check_names() -> dict[str, list[str]]:
    """Catalog rule id -> the live check ids that judge it (for the compliance matrix)."""
    names: dict[str, list[str]] = {}
    for spec in AUDIT_SPECS + SECRETS_SPECS:
        for check_id, rule_id in spec.checks:
            if check_id not in names.setdefault(rule_id, []):
                names[rule_id].append(check_id)
    return names
