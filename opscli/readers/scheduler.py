"""Readers of EventBridge Scheduler's schedules (the posture monitor's hourly audit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import ATTRIBUTES, Call, Physical, ReadContext, ask, need, reader, resolved
from opscli.stack import Present

DEFAULT_GROUP = "default"  # the group a schedule is in when its declaration names none


SCHEDULE = ("arn:aws:scheduler:{region}:{account}:schedule/default/{schedule}",)


def _derived(p: Physical) -> dict[str, str]:
    """The schedule's ARN, in its declared group where that is a plain name, else in the default group."""
    group = p.declared.properties.get("GroupName")
    group = group if isinstance(group, str) and group else DEFAULT_GROUP
    return {"Arn": p.arn("scheduler", f"schedule/{group}/{p.id}")}


@reader("AWS::Scheduler::Schedule", (Call("scheduler:GetSchedule", SCHEDULE),),
        "Name GroupName Description ScheduleExpression ScheduleExpressionTimezone State FlexibleTimeWindow "
        "Target KmsKeyArn", derived=_derived)
def schedule(ctx: ReadContext, r: Present) -> dict[str, Any]:
    """What runs when, where it sends and as whom: the expression, its state, its target (the queue, the input,
    the role, the dead-letter queue and retries) and the key its target's input is encrypted with."""
    group = resolved(ctx, r.properties.get("GroupName")) or DEFAULT_GROUP
    answer = ask("GetSchedule", ctx.aws.client("scheduler").get_schedule, "ResourceNotFoundException",
                 Name=r.physical_id, GroupName=group)
    props: dict[str, Any] = {
        key: need(answer, key, kind, operation="GetSchedule")
        for key, kind in (("Name", str), ("GroupName", str), ("ScheduleExpression", str), ("State", str),
                          ("FlexibleTimeWindow", Mapping), ("Target", Mapping))}
    for key in ("Description", "ScheduleExpressionTimezone", "KmsKeyArn"):
        if answer.get(key) is not None:
            props[key] = need(answer, key, str, operation="GetSchedule")
    props[ATTRIBUTES] = {"Arn": need(answer, "Arn", str, operation="GetSchedule")}
    return props
