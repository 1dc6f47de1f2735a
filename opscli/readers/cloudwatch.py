"""Readers of alarms."""

from __future__ import annotations

from typing import Any

from opscli.readers.base import Call, ReadContext, ask, listed_tags, need, one_of_all, reader
from opscli.stack import Present

ALARM = ("arn:aws:cloudwatch:{region}:{account}:alarm:{stack}-*",)


@reader("AWS::CloudWatch::Alarm", (Call("cloudwatch:DescribeAlarms", ALARM),
                                   Call("cloudwatch:ListTagsForResource", ALARM)),
        "ActionsEnabled AlarmActions ComparisonOperator DatapointsToAlarm Dimensions EvaluationPeriods "
        "ExtendedStatistic MetricName Namespace Period Statistic Threshold TreatMissingData Tags",
        derived=lambda p: {"Arn": p.arn("cloudwatch", f"alarm:{p.id}")})
def alarm(ctx: ReadContext, r: Present) -> dict[str, Any]:
    cloudwatch = ctx.aws.client("cloudwatch")

    def page(names: list[str], token: str | None) -> tuple[Any, str | None]:
        answer = ask("DescribeAlarms", cloudwatch.describe_alarms, AlarmNames=names, AlarmTypes=["MetricAlarm"],
                     **({"NextToken": token} if token else {}))
        return answer.get("MetricAlarms"), answer.get("NextToken")

    found = one_of_all(ctx, "DescribeAlarms", "AWS::CloudWatch::Alarm", r.physical_id, "alarm", "AlarmName", page)
    props: dict[str, Any] = {}
    for key in ("ActionsEnabled", "AlarmActions", "ComparisonOperator", "DatapointsToAlarm", "Dimensions",
                "EvaluationPeriods", "ExtendedStatistic", "MetricName", "Namespace", "Period", "Statistic", "Threshold",
                "TreatMissingData"):
        if key in found:
            props[key] = found[key]
    props["Tags"] = listed_tags(cloudwatch.list_tags_for_resource, "Tags",
                                ResourceARN=need(found, "AlarmArn", str, operation="DescribeAlarms"))
    return props
