"""Physical names: one function builds every `{resource-type}-{suffix}` name and checks it against its service's
limits."""

from __future__ import annotations

import re
from dataclasses import dataclass


class NamingError(ValueError):
    """A physical name or environment suffix breaks a naming rule."""


@dataclass(frozen=True)
class ServiceLimit:
    """What one AWS service accepts as a name: length, allowed shape, forbidden prefixes."""

    service: str
    max_length: int
    pattern: re.Pattern[str]
    allowed: str
    forbidden_prefixes: tuple[str, ...] = ()


def _rx(expr: str) -> re.Pattern[str]:
    return re.compile(expr)


# Shapes as the services document them. "(?:-?X)*" = hyphens allowed, never doubled or trailing.
SERVICE_LIMITS: dict[str, ServiceLimit] = {
    "rds-instance": ServiceLimit(
        "RDS DB instance identifier", 63, _rx(r"[A-Za-z](?:-?[A-Za-z0-9])*"),
        "letters, digits and single hyphens; starts with a letter; no trailing hyphen"),
    "rds-subnet-group": ServiceLimit(
        "RDS DB subnet group name", 255, _rx(r"[a-z0-9](?:[a-z0-9._ -]*)"),
        "lowercase letters, digits, periods, underscores, spaces, hyphens"),
    "rds-parameter-group": ServiceLimit(
        "RDS DB parameter group name", 255, _rx(r"[a-z](?:-?[a-z0-9])*"),
        "lowercase letters, digits and single hyphens; starts with a letter; no trailing hyphen"),
    "elasticache-replication-group": ServiceLimit(
        "ElastiCache replication group id", 40, _rx(r"[a-z](?:-?[a-z0-9])*"),
        "lowercase letters, digits and single hyphens; starts with a letter; no trailing hyphen"),
    "elasticache-subnet-group": ServiceLimit(
        "ElastiCache subnet group name", 255, _rx(r"[a-z](?:-?[a-z0-9])*"),
        "lowercase letters, digits and single hyphens; starts with a letter; no trailing hyphen"),
    "elb": ServiceLimit(
        "Elastic Load Balancing name", 32, _rx(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"),
        "letters, digits and hyphens; no leading or trailing hyphen", ("internal-",)),
    "ecs": ServiceLimit(
        "ECS cluster, service or task family name", 255, _rx(r"[A-Za-z0-9_-]+"),
        "letters, digits, hyphens and underscores"),
    "log-group": ServiceLimit(
        "CloudWatch Logs log group name", 512, _rx(r"[A-Za-z0-9._/#-]+"),
        "letters, digits and . _ / # -"),
    "kms-alias": ServiceLimit(
        "KMS alias", 256, _rx(r"alias/[A-Za-z0-9/_-]+"),
        "alias/ then letters, digits, / _ -", ("alias/aws/",)),
    "sns-topic": ServiceLimit(
        "SNS topic name", 256, _rx(r"[A-Za-z0-9_-]+"), "letters, digits, hyphens and underscores"),
    "events-rule": ServiceLimit(
        "EventBridge rule name", 64, _rx(r"[A-Za-z0-9._-]+"), "letters, digits, periods, hyphens and underscores"),
    "sqs-queue": ServiceLimit(
        "SQS queue name", 80, _rx(r"[A-Za-z0-9_-]+"), "letters, digits, hyphens and underscores"),
    "secret": ServiceLimit(
        "Secrets Manager secret name", 512, _rx(r"[A-Za-z0-9/_+=.@-]+"),
        "letters, digits and / _ + = . @ -"),
    "waf": ServiceLimit(
        "WAF web ACL name", 128, _rx(r"[A-Za-z0-9_-]+"), "letters, digits, hyphens and underscores"),
    "scheduler-schedule": ServiceLimit(
        "EventBridge Scheduler schedule name", 64, _rx(r"[0-9A-Za-z_.-]+"),
        "letters, digits, periods, hyphens and underscores"),
    "lambda-function": ServiceLimit(
        "Lambda function name", 64, _rx(r"[A-Za-z0-9_-]+"), "letters, digits, hyphens and underscores"),
    "free-text": ServiceLimit(
        "name (API, VPC link, usage plan, security group, Name tag)", 255,
        _rx(r"[A-Za-z0-9 ._:/=+@-]+"), "letters, digits, spaces and . _ : / = + @ -"),
}


@dataclass(frozen=True)
class NameSpec:
    """One physical name the stack uses: its template and the service limit it must meet."""

    template: str  # contains "{suffix}" exactly once
    limit: str  # key into SERVICE_LIMITS


# Every explicit physical name of the stack, in one place. The key is what the code asks for.
NAMES: dict[str, NameSpec] = {
    "vpc": NameSpec("vpc-{suffix}", "free-text"),
    "kms-alias": NameSpec("alias/kms-key-{suffix}", "kms-alias"),
    "rds": NameSpec("rds-{suffix}", "rds-instance"),
    "rds-subnet-group": NameSpec("rds-subnets-{suffix}", "rds-subnet-group"),
    "rds-parameter-group": NameSpec("rds-params-{suffix}", "rds-parameter-group"),
    "rds-sg": NameSpec("rds-sg-{suffix}", "free-text"),
    "redis": NameSpec("redis-{suffix}", "elasticache-replication-group"),
    "redis-subnet-group": NameSpec("redis-subnets-{suffix}", "elasticache-subnet-group"),
    "redis-sg": NameSpec("redis-sg-{suffix}", "free-text"),
    "efs": NameSpec("efs-{suffix}", "free-text"),
    "efs-sg": NameSpec("efs-sg-{suffix}", "free-text"),
    "ecs-cluster": NameSpec("ecs-cluster-{suffix}", "ecs"),
    "video-processing": NameSpec("video-processing-{suffix}", "ecs"),
    "video-processing-sg": NameSpec("video-processing-sg-{suffix}", "free-text"),
    "metadata-api": NameSpec("metadata-api-{suffix}", "ecs"),
    "metadata-api-sg": NameSpec("metadata-api-sg-{suffix}", "free-text"),
    "nlb": NameSpec("nlb-{suffix}", "elb"),
    "nlb-sg": NameSpec("nlb-sg-{suffix}", "free-text"),
    "target-group": NameSpec("tg-api-{suffix}", "elb"),
    "vpc-link": NameSpec("vpclink-{suffix}", "free-text"),
    "api": NameSpec("api-{suffix}", "free-text"),
    "api-key": NameSpec("api-key-{suffix}", "free-text"),
    "usage-plan": NameSpec("usage-plan-{suffix}", "free-text"),
    "waf-acl": NameSpec("waf-api-{suffix}", "waf"),
    # WAF only delivers logs to log groups whose names start with "aws-waf-logs-".
    "log-waf": NameSpec("aws-waf-logs-api-{suffix}", "log-group"),
    "alarm-topic": NameSpec("alarms-{suffix}", "sns-topic"),
    "intake-queue": NameSpec("intake-queue-{suffix}", "sqs-queue"),
    "intake-dlq": NameSpec("intake-dlq-{suffix}", "sqs-queue"),
    "intake-rule": NameSpec("intake-rule-{suffix}", "events-rule"),
    "worker-backlog-scaling": NameSpec("worker-backlog-scaling-{suffix}", "free-text"),
    "ingest-bucket": NameSpec("ingest-bucket-{suffix}", "free-text"),  # Name tag; the bucket name is generated
    "log-video-processing": NameSpec("/ecs/video-processing-{suffix}", "log-group"),
    "log-metadata-api": NameSpec("/ecs/metadata-api-{suffix}", "log-group"),
    "log-api-access": NameSpec("/apigateway/api-access-{suffix}", "log-group"),
    "log-vpc-flow": NameSpec("/vpc/flow-logs-{suffix}", "log-group"),
    "log-redis-slow": NameSpec("/elasticache/redis-slow-log-{suffix}", "log-group"),
    "log-redis-engine": NameSpec("/elasticache/redis-engine-log-{suffix}", "log-group"),
    # RDS writes exported logs to this AWS-mandated name; the stack pre-creates it (KMS, retention).
    "log-rds-postgresql": NameSpec("/aws/rds/instance/rds-{suffix}/postgresql", "log-group"),
    "log-rds-upgrade": NameSpec("/aws/rds/instance/rds-{suffix}/upgrade", "log-group"),
    # The posture monitor (its own stack, TapMonitor<suffix>): its own key, queues, rule, schedule and function.
    "monitor-kms-alias": NameSpec("alias/monitor-kms-key-{suffix}", "kms-alias"),
    "monitor-events": NameSpec("monitor-events-{suffix}", "sqs-queue"),
    "monitor-dead-letter": NameSpec("monitor-dead-letter-{suffix}", "sqs-queue"),
    "monitor-changes": NameSpec("monitor-changes-{suffix}", "events-rule"),
    "monitor-schedule": NameSpec("monitor-schedule-{suffix}", "scheduler-schedule"),
    "monitor": NameSpec("monitor-{suffix}", "lambda-function"),
    "monitor-reports": NameSpec("monitor-reports-{suffix}", "free-text"),  # Name tag; the bucket name is generated
    "log-monitor": NameSpec("/aws/lambda/monitor-{suffix}", "log-group"),
    # Secrets are inputs, not stack resources; these are the documented default names.
    "db-secret": NameSpec("rds-credentials-{suffix}", "secret"),
    "api-key-secret": NameSpec("api-key-secret-{suffix}", "secret"),
    "redis-auth-secret": NameSpec("redis-auth-{suffix}", "secret"),
}

# The suffix: lowercase letters and digits, single inner hyphens (names embed it after a hyphen,
# so a leading, trailing or doubled hyphen would make e.g. "rds--x", which RDS refuses).
SUFFIX_PATTERN = re.compile(r"[a-z0-9](?:-?[a-z0-9])*")


def name_problems(name: str, limit_key: str) -> list[str]:
    """Every way `name` breaks the service limit `limit_key` (empty list: valid)."""
    limit = SERVICE_LIMITS[limit_key]
    problems: list[str] = []
    if not name:
        return [f"{limit.service} must not be empty"]
    if len(name) > limit.max_length:
        problems.append(f"{limit.service} '{name}' is {len(name)} characters; the limit is {limit.max_length}")
    if not limit.pattern.fullmatch(name):
        problems.append(f"{limit.service} '{name}' has a character or shape not allowed ({limit.allowed})")
    for prefix in limit.forbidden_prefixes:
        if name.startswith(prefix):
            problems.append(f"{limit.service} '{name}' must not start with '{prefix}'")
    return problems


def max_suffix_length() -> int:
    """The longest suffix for which every name in NAMES still fits its service's length limit."""
    return min(
        SERVICE_LIMITS[spec.limit].max_length - len(spec.template.replace("{suffix}", ""))
        for spec in NAMES.values()
    )


def suffix_problems(suffix: str) -> list[str]:
    """Every reason `suffix` cannot be an environment suffix (empty list: valid)."""
    if not suffix:
        return ["environmentSuffix is empty; use lowercase letters, digits and single hyphens, e.g. 'prod'"]
    problems: list[str] = []
    if not SUFFIX_PATTERN.fullmatch(suffix):
        problems.append(
            f"environmentSuffix '{suffix}' is not allowed: use lowercase letters and digits, "
            "optionally joined by single hyphens (no leading, trailing or doubled hyphen, no spaces)"
        )
    limit = max_suffix_length()
    if len(suffix) > limit:
        problems.append(
            f"environmentSuffix '{suffix}' is {len(suffix)} characters; at most {limit} fit every "
            "service name limit (the tightest is the 32-character load balancer name)"
        )
    return problems


def validate_suffix(suffix: str) -> str:
    """Return `suffix` unchanged if valid, else raise NamingError with every problem on one line."""
    problems = suffix_problems(suffix)
    if problems:
        raise NamingError("; ".join(problems))
    return suffix


def physical_name(key: str, suffix: str) -> str:
    """The physical name for resource `key` in environment `suffix`, checked against its service limit."""
    try:
        spec = NAMES[key]
    except KeyError:
        raise NamingError(f"no physical name is defined for resource type '{key}'") from None
    validate_suffix(suffix)
    name = spec.template.format(suffix=suffix)
    problems = name_problems(name, spec.limit)
    if problems:
        raise NamingError("; ".join(problems))
    return name
