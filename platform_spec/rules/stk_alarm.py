"""STK-ALARM-001: every alarm acts: its actions are enabled and it notifies someone.

An alarm whose actions are disabled (DisableAlarmActions, one call) still turns red in the console and tells
nobody: a quiet way to blind the operators before an attack or after a change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import as_list
from platform_spec.result import Result
from platform_spec.rule import plain_rule

RULE_ID = "STK-ALARM-001"
TYPE = "AWS::CloudWatch::Alarm"


def check(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != TYPE:
        return Result.na()
    enabled = properties.get("ActionsEnabled", True)
    if enabled is False or (isinstance(enabled, str) and enabled.lower() == "false"):
        return Result.fail("its actions are disabled (ActionsEnabled: false): it notifies nobody",
                           actions_disabled=True)
    if not as_list(properties.get("AlarmActions")):
        return Result.fail("no alarm action: it notifies nobody")
    return Result.ok(f"actions enabled, {len(as_list(properties.get('AlarmActions')))} alarm action(s)")


plain_rule(RULE_ID, {TYPE}, check)
