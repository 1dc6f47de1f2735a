"""Live predicates: pure functions over the dicts AWS describe calls return, judged against the catalog.

opscli fetches; these judge. A missing field that AWS always returns raises MalformedAnswer, which opscli
reports as ERROR (it could not look), never as PASS.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from platform_spec.result import Result
from platform_spec.rules import stk_intake
from platform_spec.rules.stk_efs import denies_insecure_transport

PENDING_STUCK_AFTER = timedelta(hours=24)


class MalformedAnswer(Exception):
    """The answer lacks a field AWS always returns: the check could not look."""


def need(mapping: Mapping[str, Any], key: str) -> Any:
    if not isinstance(mapping, Mapping) or key not in mapping:
        raise MalformedAnswer(f"the answer has no '{key}'")
    return mapping[key]


def _enabled(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("enabled", "true"))


# --- RDS ----------------------------------------------------------------------------------------

def rds_multi_az(db: Mapping[str, Any]) -> Result:
    return Result.ok("Multi-AZ") if need(db, "MultiAZ") is True else Result.fail("MultiAZ is false")


def rds_backups(db: Mapping[str, Any]) -> Result:
    days = need(db, "BackupRetentionPeriod")
    return Result.ok(f"automated backups kept {days} day(s)") if days >= 1 else Result.fail(
        "BackupRetentionPeriod is 0: automated backups are off")


def rds_not_public(db: Mapping[str, Any]) -> Result:
    return Result.fail("PubliclyAccessible is true") if need(db, "PubliclyAccessible") else Result.ok(
        "not publicly accessible")


def rds_cmk(db: Mapping[str, Any], cmk_arn: str) -> Result:
    if not need(db, "StorageEncrypted"):
        return Result.fail("storage is not encrypted")
    if db.get("KmsKeyId") != cmk_arn:
        return Result.fail(f"storage key {db.get('KmsKeyId')} is not the project CMK {cmk_arn}")
    if db.get("PerformanceInsightsEnabled") and db.get("PerformanceInsightsKMSKeyId") != cmk_arn:
        return Result.fail("Performance Insights is not encrypted with the project CMK")
    return Result.ok("storage (and Performance Insights) encrypted with the project CMK")


def rds_force_ssl(db: Mapping[str, Any], expected_group: str, parameters: Iterable[Mapping[str, Any]]) -> Result:
    groups = need(db, "DBParameterGroups")
    attached = next((g for g in groups if g.get("DBParameterGroupName") == expected_group), None)
    if attached is None:
        names = ", ".join(g.get("DBParameterGroupName", "?") for g in groups)
        return Result.fail(f"parameter group {expected_group} is not attached (attached: {names})")
    if attached.get("ParameterApplyStatus") != "in-sync":
        return Result.fail(f"parameter group {expected_group} is {attached.get('ParameterApplyStatus')}, not in-sync")
    value = next((p.get("ParameterValue") for p in parameters if p.get("ParameterName") == "rds.force_ssl"), None)
    if str(value) != "1":
        return Result.fail(f"rds.force_ssl is {value!r} in {expected_group}: plaintext connections are accepted")
    return Result.ok(f"rds.force_ssl=1 in {expected_group}, applied (in-sync)")


# --- ElastiCache --------------------------------------------------------------------------------

def redis_members(group: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(cache cluster id, AZ) of every member, from the node groups."""
    members = []
    for node_group in need(group, "NodeGroups"):
        for member in node_group.get("NodeGroupMembers", []):
            members.append((member.get("CacheClusterId", "?"), member.get("PreferredAvailabilityZone", "?")))
    return members


def redis_high_availability(group: Mapping[str, Any]) -> Result:
    members = redis_members(group)
    azs = {az for _, az in members}
    problems = []
    if len(members) < 2:
        problems.append(f"{len(members)} member(s); at least 2 are required")
    if len(azs) < 2:
        problems.append(f"members in {len(azs)} AZ(s) ({', '.join(sorted(azs)) or 'none'}); at least 2 are required")
    if not _enabled(need(group, "MultiAZ")):
        problems.append("Multi-AZ is disabled")
    if not _enabled(need(group, "AutomaticFailover")):
        problems.append("automatic failover is disabled")
    if problems:
        return Result.fail("; ".join(problems))
    return Result.ok(f"{len(members)} members in {len(azs)} AZs, Multi-AZ, automatic failover")


def redis_transit(group: Mapping[str, Any]) -> Result:
    if not need(group, "TransitEncryptionEnabled"):
        return Result.fail("transit encryption is off")
    mode = need(group, "TransitEncryptionMode")
    if mode != "required":
        return Result.fail(f"TransitEncryptionMode is '{mode}': plaintext clients are still accepted")
    if not need(group, "AuthTokenEnabled") and not group.get("UserGroupIds"):
        return Result.fail("AUTH is off")
    return Result.ok("TLS required and AUTH on")


def redis_cmk(group: Mapping[str, Any], cmk_arn: str) -> Result:
    if not need(group, "AtRestEncryptionEnabled"):
        return Result.fail("at-rest encryption is off")
    if group.get("KmsKeyId") != cmk_arn:
        return Result.fail(f"at-rest key {group.get('KmsKeyId')} is not the project CMK {cmk_arn}")
    return Result.ok("encrypted at rest with the project CMK")


# --- EFS ----------------------------------------------------------------------------------------

def efs_cmk(fs: Mapping[str, Any], cmk_arn: str) -> Result:
    if not need(fs, "Encrypted"):
        return Result.fail("the file system is not encrypted")
    if fs.get("KmsKeyId") != cmk_arn:
        return Result.fail(f"key {fs.get('KmsKeyId')} is not the project CMK {cmk_arn}")
    return Result.ok("encrypted with the project CMK")


def efs_tls_policy(policy: str | None) -> Result:
    if not policy:
        return Result.fail("no file system policy: clients may mount without TLS")
    try:
        document = json.loads(policy)
    except json.JSONDecodeError:
        raise MalformedAnswer("the file system policy is not JSON") from None
    if denies_insecure_transport(document):
        return Result.ok("file system policy denies non-TLS access")
    return Result.fail("the file system policy does not deny aws:SecureTransport=false")


def efs_mount_targets(targets: Sequence[Mapping[str, Any]], expected_azs: int = 2) -> Result:
    available = [t for t in targets if t.get("LifeCycleState") == "available"]
    azs = {need(t, "AvailabilityZoneName") for t in available}
    if len(azs) < expected_azs:
        return Result.fail(f"available mount targets in {len(azs)} AZ(s) ({', '.join(sorted(azs)) or 'none'}); "
                           f"at least {expected_azs} are required")
    return Result.ok(f"mount targets available in {len(azs)} AZs")


# --- ECS ----------------------------------------------------------------------------------------

def ecs_cluster_insights(cluster: Mapping[str, Any]) -> Result:
    if need(cluster, "status") != "ACTIVE":
        return Result.fail(f"cluster status is {cluster['status']}")
    for setting in cluster.get("settings", []):
        if setting.get("name") == "containerInsights" and setting.get("value") in ("enabled", "enhanced"):
            return Result.ok(f"active, Container Insights {setting['value']}")
    return Result.fail("Container Insights is not enabled")


def ecs_service(service: Mapping[str, Any], scalable_targets: Sequence[Mapping[str, Any]]) -> Result:
    problems = []
    if need(service, "status") != "ACTIVE":
        problems.append(f"status {service['status']}")
    desired, running = need(service, "desiredCount"), need(service, "runningCount")
    if desired < 2:
        problems.append(f"desired count {desired}; at least 2 tasks are required")
    if running < desired:
        problems.append(f"{running} of {desired} tasks running")
    network = service.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
    if network.get("assignPublicIp") == "ENABLED":
        problems.append("tasks get public IPs")
    if not scalable_targets:
        problems.append("no auto scaling target registered")
    elif min(t.get("MinCapacity", 0) for t in scalable_targets) < 2:
        problems.append("auto scaling minimum is below 2 tasks")
    if problems:
        return Result.fail("; ".join(problems))
    return Result.ok(f"{running}/{desired} tasks running, auto scaling registered")


# --- API Gateway --------------------------------------------------------------------------------

def api_regional(api: Mapping[str, Any]) -> Result:
    types = need(api, "endpointConfiguration").get("types", [])
    if "EDGE" in types or not types:
        return Result.fail(f"endpoint types {types or ['EDGE']}: edge-optimized routes through CloudFront outside Japan")
    return Result.ok(f"endpoint type {', '.join(types)}")


def api_stage_logging(stage: Mapping[str, Any]) -> Result:
    problems = []
    if not stage.get("accessLogSettings", {}).get("destinationArn"):
        problems.append("no access log destination")
    level = stage.get("methodSettings", {}).get("*/*", {}).get("loggingLevel", "OFF")
    if level not in ("INFO", "ERROR"):
        problems.append(f"execution logging level is {level}")
    if stage.get("tracingEnabled") is not True:
        problems.append("X-Ray tracing is off")
    if problems:
        return Result.fail("; ".join(problems))
    return Result.ok(f"access logs, execution logs ({level}) and tracing on")


# --- KMS and logs -------------------------------------------------------------------------------

def kms_customer_managed(meta: Mapping[str, Any]) -> Result:
    if need(meta, "KeyManager") != "CUSTOMER":
        return Result.fail(f"the key is {meta['KeyManager']}-managed, not customer-managed")
    if need(meta, "KeyState") != "Enabled":
        return Result.fail(f"the key is {meta['KeyState']}")
    return Result.ok("customer-managed and enabled")


def kms_rotation(status: Mapping[str, Any], max_period_days: int = 365) -> Result:
    if not need(status, "KeyRotationEnabled"):
        return Result.fail("automatic rotation is off")
    period = status.get("RotationPeriodInDays")
    if period is not None and period > max_period_days:
        return Result.fail(f"rotation period is {period} days; at most {max_period_days}")
    return Result.ok(f"automatic rotation on{f' every {period} days' if period else ''}")


def log_group(group: Mapping[str, Any] | None, cmk_arn: str | None) -> tuple[Result, Result]:
    """(retention result, encryption result) for one log group."""
    retention = group.get("retentionInDays")
    retention_result = Result.ok(f"retention {retention} days") if retention else Result.fail(
        "no retention: logs are kept forever")
    key = group.get("kmsKeyId")
    if not key:
        key_result = Result.fail("not encrypted with a customer-managed key")
    elif cmk_arn is not None and key != cmk_arn:
        key_result = Result.fail(f"key {key} is not the project CMK {cmk_arn}")
    else:
        key_result = Result.ok("encrypted with the project CMK")
    return retention_result, key_result


def tags(found: Mapping[str, str], expected: Mapping[str, str]) -> Result:
    missing = [k for k in expected if not found.get(k)]
    wrong = [f"{k}={found[k]!r} (expected {v!r})" for k, v in expected.items()
             if found.get(k) and k in ("Environment",) and found[k] != v]
    if missing or wrong:
        return Result.fail("; ".join(filter(None, [f"missing tags: {', '.join(missing)}" if missing else "",
                                                   f"wrong values: {', '.join(wrong)}" if wrong else ""])))
    return Result.ok("required tags present")


# --- Secrets ------------------------------------------------------------------------------------

def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    raise MalformedAnswer(f"expected a timestamp, got {value!r}")


def secret_rotation_enabled(secret: Mapping[str, Any]) -> Result:
    if not secret.get("RotationEnabled"):
        return Result.fail("rotation is not enabled")
    if not secret.get("RotationLambdaARN") and not secret.get("RotationRules", {}).get("ScheduleExpression"):
        return Result.fail("rotation is enabled but no rotation function is configured")
    return Result.ok(f"rotation enabled ({secret.get('RotationLambdaARN', 'managed rotation')})")


def secret_rotation_age(secret: Mapping[str, Any], now: datetime, max_age_days: int) -> Result:
    last = secret.get("LastRotatedDate")
    if last is None:
        return Result.fail("never rotated")
    age = now - _utc(last)
    if age > timedelta(days=max_age_days):
        return Result.fail(f"last rotated {age.days} days ago; at most {max_age_days} allowed")
    upcoming = secret.get("NextRotationDate")
    if upcoming is None:
        return Result.fail(f"rotated {age.days} days ago but no next rotation is scheduled")
    if _utc(upcoming) < now:
        return Result.fail(f"next rotation was due {_utc(upcoming):%Y-%m-%d} and has not happened")
    return Result.ok(f"rotated {age.days} days ago; next {_utc(upcoming):%Y-%m-%d}")


def secret_pending_versions(versions: Sequence[Mapping[str, Any]], now: datetime) -> Result:
    for version in versions:
        stages = version.get("VersionStages", [])
        if "AWSPENDING" in stages and "AWSCURRENT" not in stages:
            created = version.get("CreatedDate")
            if created is None or now - _utc(created) > PENDING_STUCK_AFTER:
                return Result.fail(f"version {version.get('VersionId', '?')} stuck in AWSPENDING "
                                   f"(a rotation did not finish)")
    return Result.ok("no version stuck in AWSPENDING")


def secret_last_accessed(secret: Mapping[str, Any], now: datetime, max_age_days: int,
                         versions: Sequence[Mapping[str, Any]] = ()) -> Result:
    """Latest access of the secret or any of its versions (AWS records both, at day granularity)."""
    dates = [_utc(d) for d in [secret.get("LastAccessedDate"), *(v.get("LastAccessedDate") for v in versions)] if d]
    accessed = max(dates) if dates else None
    if accessed is None:
        return Result.fail("never accessed: the secret may be unused")
    age = now - _utc(accessed)
    if age > timedelta(days=max_age_days):
        return Result.fail(f"last accessed {age.days} days ago: the secret may be unused")
    return Result.ok(f"accessed {age.days} day(s) ago")


def secret_cmk(secret: Mapping[str, Any], key_manager: str | None) -> Result:
    if not secret.get("KmsKeyId"):
        return Result.fail("encrypted with the AWS-managed key aws/secretsmanager")
    if key_manager != "CUSTOMER":
        return Result.fail(f"key {secret['KmsKeyId']} is {key_manager or 'not'} customer-managed")
    return Result.ok("encrypted with a customer-managed key")


# --- S3 and SQS (intake) ------------------------------------------------------------------------

def _is_project_key(key: Any, cmk_arn: str) -> bool:
    """S3 and SQS report the key as its ARN or its bare id, as it was configured."""
    return key in (cmk_arn, cmk_arn.rsplit("/", 1)[-1])


def s3_cmk(rules: Sequence[Mapping[str, Any]] | None, cmk_arn: str) -> Result:
    default = (rules or [{}])[0].get("ApplyServerSideEncryptionByDefault", {})
    if default.get("SSEAlgorithm") != "aws:kms":
        return Result.fail(f"default encryption is {default.get('SSEAlgorithm') or 'not set'}, not aws:kms")
    if not _is_project_key(default.get("KMSMasterKeyID"), cmk_arn):
        return Result.fail(f"default key {default.get('KMSMasterKeyID')} is not the project CMK {cmk_arn}")
    return Result.ok("default encryption with the project CMK")


def s3_public_access(block: Mapping[str, Any] | None) -> Result:
    names = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    off = [name for name in names if not (block or {}).get(name)]
    return Result.fail(f"public access not fully blocked ({', '.join(off)} off)") if off else Result.ok(
        "all four public access blocks on")


def _policy_denies_plaintext(policy: str | None, service: str, what: str) -> Result:
    from platform_spec.rules.tls_policy import denies_insecure_transport

    if not policy:
        return Result.fail(f"no {what} policy: plaintext requests are accepted")
    try:
        document = json.loads(policy)
    except json.JSONDecodeError:
        raise MalformedAnswer(f"the {what} policy is not JSON") from None
    if denies_insecure_transport(document, service):
        return Result.ok(f"{what} policy denies non-TLS requests")
    return Result.fail(f"the {what} policy does not deny aws:SecureTransport=false")


def s3_tls_policy(policy: str | None) -> Result:
    return _policy_denies_plaintext(policy, "s3", "bucket")


def sqs_tls_policy(attributes: Mapping[str, Any]) -> Result:
    return _policy_denies_plaintext(attributes.get("Policy"), "sqs", "queue")


def sqs_cmk(attributes: Mapping[str, Any], cmk_arn: str) -> Result:
    key = attributes.get("KmsMasterKeyId")
    if not key:
        return Result.fail("not encrypted with a customer-managed key (SSE-SQS or none)")
    if not _is_project_key(key, cmk_arn):
        return Result.fail(f"key {key} is not the project CMK {cmk_arn}")
    return Result.ok("encrypted with the project CMK")


def sqs_dead_letter(attributes: Mapping[str, Any], dead_letter_queue: str | None) -> Result:
    """A work queue redrives to `dead_letter_queue`; the dead-letter queue itself (None) needs none."""
    if dead_letter_queue is None:
        return Result.ok("is the dead-letter queue")
    redrive = attributes.get("RedrivePolicy")
    if not redrive:
        return Result.fail("no dead-letter queue: a poison message is retried forever")
    target = json.loads(redrive).get("deadLetterTargetArn", "")
    if target.rsplit(":", 1)[-1] != dead_letter_queue:
        return Result.fail(f"redrives to {target}, not to {dead_letter_queue}")
    return Result.ok(f"dead-letter queue {dead_letter_queue} after {json.loads(redrive).get('maxReceiveCount')} receives")


def sqs_backlog_scaling(policies: list[Mapping[str, Any]], queue_name: str) -> Result:
    """STK-SQS-003 live: one of the worker service's scaling policies (DescribeScalingPolicies) tracks the
    queue's backlog per task."""
    return stk_intake.any_backlog_scaling(
        [(p.get("PolicyType"), p.get("TargetTrackingScalingPolicyConfiguration")) for p in policies], queue_name)
