"""Readers of CloudWatch Logs log groups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import FACTS, Call, MalformedAnswer, ReadContext, listed_tags, need, only, pages, reader
from opscli.stack import Present

LOG_GROUP = ("arn:aws:logs:{region}:{account}:log-group:{log_group}",)


@reader("AWS::Logs::LogGroup", (Call("logs:DescribeLogGroups"), Call("logs:ListTagsForResource", LOG_GROUP),
                                Call("logs:DescribeSubscriptionFilters", LOG_GROUP)),
        "LogGroupName RetentionInDays KmsKeyId Tags", derived=lambda p: {"Arn": p.arn("logs", f"log-group:{p.id}:*")})
def log_group(ctx: ReadContext, r: Present) -> dict[str, Any]:
    logs = ctx.aws.client("logs")
    # Every page of the groups the name is a prefix of: which page holds the name itself is AWS's ordering,
    # and an answer that pages in a circle is seen only by reading to the end.
    groups = [g for page in pages(logs, "describe_log_groups", "DescribeLogGroups", logGroupNamePrefix=r.physical_id)
              for g in need(page, "logGroups", list, operation="DescribeLogGroups")
              if isinstance(g, Mapping) and g.get("logGroupName") == r.physical_id]
    group = only(groups, f"log group {r.physical_id}", "DescribeLogGroups", by_id=False)
    # DescribeLogGroups leaves out what is not set: absent is a definite "not set" (None), not "unknown".
    props: dict[str, Any] = {"LogGroupName": r.physical_id, "RetentionInDays": group.get("retentionInDays"),
                             "KmsKeyId": group.get("kmsKeyId")}
    arn = need(group, "arn", str, operation="DescribeLogGroups").removesuffix(":*")
    props["Tags"] = listed_tags(logs.list_tags_for_resource, "tags", Mapping, resourceArn=arn)
    # Where the group's events are streamed to (judged by the residency rule's live half): CloudFormation declares
    # a filter as a resource of its own, so they are facts of the group, not properties.
    op = "DescribeSubscriptionFilters"
    filters = [{"FilterName": need(f, "filterName", str, operation=op),
                "DestinationArn": need(f, "destinationArn", str, operation=op)}
               for page in pages(logs, "describe_subscription_filters", op, logGroupName=r.physical_id)
               for f in need(page, "subscriptionFilters", list, operation=op)]
    if len(arn.split(":")) < 6 or not arn.split(":")[4]:
        raise MalformedAnswer(f"DescribeLogGroups answered the group's arn as {arn[:80]!r}")
    props[FACTS] = {"Arn": arn, "SubscriptionFilters": filters}
    return props
