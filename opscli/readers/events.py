"""Readers of the intake rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import FACTS, UNDECLARED, Call, ReadContext, ask, json_value, need, pages, reader, resolved
from opscli.stack import Present
from platform_spec.rules import stk_res

RULE = ("arn:aws:events:{region}:{account}:rule/{rule}",)


# The bus the stack's rule listens on (the account's default bus): who may put events on it (STK-POLICY-001).
DEFAULT_BUS = ("arn:aws:events:{region}:{account}:event-bus/default",)


@reader("AWS::Events::Rule", (Call("events:DescribeRule", RULE), Call("events:ListTargetsByRule", RULE),
                              Call("events:DescribeEventBus", DEFAULT_BUS)),
        "Name Description EventPattern State Targets", derived=lambda p: {"Arn": p.arn("events", f"rule/{p.id}")})
def events_rule(ctx: ReadContext, r: Present) -> dict[str, Any]:
    events = ctx.aws.client("events")
    rule = ask("DescribeRule", events.describe_rule, "ResourceNotFoundException", Name=r.physical_id)
    targets = [t for page in pages(events, "list_targets_by_rule", "ListTargetsByRule", Rule=r.physical_id)
               for t in need(page, "Targets", list, operation="ListTargetsByRule")]
    declared = {resolved(ctx, t.get("Id")) for t in r.properties.get("Targets") or [] if isinstance(t, Mapping)}
    # An undeclared target delivering outside the stack's region or account is the residency rule's finding (it
    # says where): named once, there.
    account = ctx.resolve({"Ref": "AWS::AccountId"})
    props: dict[str, Any] = {"Name": need(rule, "Name", str, operation="DescribeRule"),
                             "State": need(rule, "State", str, operation="DescribeRule"),
                             "Targets": targets,
                             FACTS: {UNDECLARED: [f"target {t.get('Id')} -> {t.get('Arn')}" for t in targets
                                                  if isinstance(t, Mapping) and t.get("Id") not in declared
                                                  and not stk_res.target_leaves(t, account)]}}
    props[FACTS].update(_bus(ctx, events, rule, account))
    if "Description" in rule:
        props["Description"] = rule["Description"]
    if "EventPattern" in rule:
        props["EventPattern"] = json_value(rule["EventPattern"], "DescribeRule", "EventPattern")
    return props


def _bus(ctx: ReadContext, events: Any, rule: Mapping[str, Any], account: str) -> dict[str, Any]:
    """The event bus the rule listens on and its policy (None: it has none): whoever may put events on the bus may
    start the stack's work (STK-POLICY-001)."""
    bus = need(rule, "EventBusName", str, operation="DescribeRule")
    answer = ctx.once("DescribeEventBus", bus, lambda: ask("DescribeEventBus", events.describe_event_bus,
                                                           "ResourceNotFoundException", Name=bus))
    need(answer, "Name", str, operation="DescribeEventBus")
    policy = answer.get("Policy")
    return {"EventBus": bus, "Account": account,
            "EventBusPolicy": None if policy is None else json_value(policy, "DescribeEventBus", "Policy")}
