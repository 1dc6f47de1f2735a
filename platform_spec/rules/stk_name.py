"""STK-NAME-001: explicit physical names follow {resource-type}-{suffix} and fit their service's limits."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import TOKEN, render, tag_map
from platform_spec.naming import SUFFIX_PATTERN, name_problems
from platform_spec.result import Result
from platform_spec.rule import resource_rule

RULE_ID = "STK-NAME-001"

# Per type: (where the name lives, service limit key, whether opscli needs the name to exist).
# "tag:Name" means the Name tag of FileSystemTags/Tags.
NAME_PROPERTIES: dict[str, tuple[str, str, bool]] = {
    "AWS::RDS::DBInstance": ("DBInstanceIdentifier", "rds-instance", True),
    "AWS::RDS::DBSubnetGroup": ("DBSubnetGroupName", "rds-subnet-group", False),
    "AWS::RDS::DBParameterGroup": ("DBParameterGroupName", "rds-parameter-group", False),
    "AWS::ElastiCache::ReplicationGroup": ("ReplicationGroupId", "elasticache-replication-group", True),
    "AWS::ElastiCache::SubnetGroup": ("CacheSubnetGroupName", "elasticache-subnet-group", False),
    "AWS::ECS::Cluster": ("ClusterName", "ecs", True),
    "AWS::ECS::Service": ("ServiceName", "ecs", True),
    "AWS::ECS::TaskDefinition": ("Family", "ecs", False),
    "AWS::Logs::LogGroup": ("LogGroupName", "log-group", True),
    "AWS::KMS::Alias": ("AliasName", "kms-alias", True),
    "AWS::EFS::FileSystem": ("tag:Name", "free-text", True),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ("Name", "elb", False),
    "AWS::ElasticLoadBalancingV2::TargetGroup": ("Name", "elb", False),
    "AWS::ApiGateway::RestApi": ("Name", "free-text", True),
    "AWS::ApiGateway::VpcLink": ("Name", "free-text", False),
    "AWS::ApiGateway::ApiKey": ("Name", "free-text", False),
    "AWS::ApiGateway::UsagePlan": ("UsagePlanName", "free-text", False),
    "AWS::EC2::SecurityGroup": ("GroupName", "free-text", False),
    "AWS::SNS::Topic": ("TopicName", "sns-topic", False),
    "AWS::WAFv2::WebACL": ("Name", "waf", False),
    "AWS::SQS::Queue": ("QueueName", "sqs-queue", True),
    "AWS::Events::Rule": ("Name", "events-rule", False),
    "AWS::Scheduler::Schedule": ("Name", "scheduler-schedule", True),
    "AWS::Lambda::Function": ("FunctionName", "lambda-function", False),
}

# Names whose shape AWS dictates and that cannot carry the suffix.
AWS_MANDATED = (
    re.compile(r"API-Gateway-Execution-Logs_\{token\}/[A-Za-z0-9_-]+"),
    re.compile(r"/aws/lambda/\{token\}"),
)


def _segment_pattern(suffix: str | None) -> re.Pattern[str]:
    tail = re.escape(suffix) if suffix is not None else SUFFIX_PATTERN.pattern
    return re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*-" + tail)


def name_of(resource_type: str, properties: Mapping[str, Any]) -> Any:
    where = NAME_PROPERTIES[resource_type][0]
    if where == "tag:Name":
        return tag_map(properties.get("FileSystemTags") or properties.get("Tags")).get("Name")
    return properties.get(where)


def conforms(name: str, suffix: str | None) -> bool:
    """True when some '/'-separated part of `name` is exactly `{resource-type}-{suffix}`."""
    pattern = _segment_pattern(suffix)
    return any(pattern.fullmatch(part) for part in name.split("/"))


def check(resource_type: str, properties: Mapping[str, Any], suffix: str | None) -> Result:
    spec = NAME_PROPERTIES.get(resource_type)
    if spec is None:
        return Result.na()
    _, limit, required = spec
    raw = name_of(resource_type, properties)
    if raw is None:
        if required:
            return Result.fail("has no explicit name; opscli and operators find this type by its deterministic name")
        return Result.ok("no explicit name (CloudFormation generates one)")
    name = render(raw)
    if name is None:
        return Result.fail(f"name {raw!r} is not a string")
    if TOKEN in name:
        if any(p.fullmatch(name) for p in AWS_MANDATED):
            return Result.ok(f"'{name}' has the AWS-mandated shape")
        return Result.fail(f"name '{name}' is computed at deploy time; use a literal "
                           f"{{resource-type}}-{suffix or '<suffix>'} name")
    if not conforms(name, suffix):
        return Result.fail(f"name '{name}' does not follow {{resource-type}}-{suffix or '<suffix>'}")
    problems = name_problems(name, limit)
    if problems:
        return Result.fail("; ".join(problems))
    return Result.ok(f"'{name}' follows the naming convention")


resource_rule(RULE_ID, NAME_PROPERTIES, lambda t, p, c: check(t, p, c.suffix))
