"""Readers of the intake rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import FACTS, UNDECLARED, ReadContext, _call, _json, _resolved, need, pages, reader
from opscli.stack import Declared


@reader("AWS::Events::Rule", ("events:DescribeRule", "events:ListTargetsByRule"),
        "Name Description EventPattern State Targets")
def events_rule(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    events = ctx.aws.client("events")
    rule = _call("DescribeRule", events.describe_rule, "ResourceNotFoundException", Name=r.physical_id)
    targets = [t for page in pages(events, "list_targets_by_rule", "ListTargetsByRule", Rule=r.physical_id)
               for t in need(page, "Targets", list, operation="ListTargetsByRule")]
    declared = {_resolved(ctx, t.get("Id")) for t in r.properties.get("Targets") or [] if isinstance(t, Mapping)}
    props: dict[str, Any] = {"Name": need(rule, "Name", str, operation="DescribeRule"),
                             "State": need(rule, "State", str, operation="DescribeRule"),
                             "Targets": targets,
                             FACTS: {UNDECLARED: [f"target {t.get('Id')} -> {t.get('Arn')}" for t in targets
                                                  if isinstance(t, Mapping) and t.get("Id") not in declared]}}
    if "Description" in rule:
        props["Description"] = rule["Description"]
    if "EventPattern" in rule:
        props["EventPattern"] = _json(rule["EventPattern"], "DescribeRule", "EventPattern")
    return props
