"""STK-ECS-006: a service's tasks get no public IP and no shell.

The services sit in private subnets behind an internal load balancer; a public IP would put a task on the
internet whatever its subnet's routes become. ECS Exec (EnableExecuteCommand) gives whoever may call
ecs:ExecuteCommand an interactive shell in a running task, beside every audited path: it is turned on for a
debugging session and forgotten."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, is_true
from platform_spec.result import Result
from platform_spec.rule import plain_rule

RULE_ID = "STK-ECS-006"
TYPE = "AWS::ECS::Service"


def check(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != TYPE:
        return Result.na()
    problems = []
    vpc = as_dict(as_dict(properties.get("NetworkConfiguration")).get("AwsvpcConfiguration"))
    if str(vpc.get("AssignPublicIp", "DISABLED")).upper() == "ENABLED":
        problems.append("assigns its tasks public IPs (AssignPublicIp: ENABLED)")
    if is_true(properties.get("EnableExecuteCommand")):
        problems.append("allows ECS Exec shells into its tasks (EnableExecuteCommand: true)")
    if problems:
        return Result.fail("; ".join(problems))
    return Result.ok("no public IP, no ECS Exec")


plain_rule(RULE_ID, {TYPE}, check)
