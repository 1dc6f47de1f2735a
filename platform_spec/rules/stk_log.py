"""STK-LOG-001: every log group has a retention period."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.result import Result
from platform_spec.rule import plain_rule

RULE_ID = "STK-LOG-001"


def check(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != "AWS::Logs::LogGroup":
        return Result.na()
    days = properties.get("RetentionInDays")
    if days is None:
        return Result.fail("no RetentionInDays: logs are kept forever")
    return Result.ok(f"retention {days} days")


plain_rule(RULE_ID, {"AWS::Logs::LogGroup"}, check)
