"""STK-STACK-001: every declared resource exists and is readable (judged by opscli's stack check, over what it read
back). STK-STACK-002 (live only): nothing was added next to the declaration, on the declared types whose readers
list what AWS keeps under them (the fact "Undeclared")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.result import Result
from platform_spec.rule import live_rule
from platform_spec.rules import stk_perim as perimeter

PRESENCE_ID = "STK-STACK-001"
UNDECLARED_CHILDREN_ID = "STK-STACK-002"
UNDECLARED_CHILDREN_CHECK = "stack.undeclared_children"
CHILD_BEARING = ("AWS::KMS::Key", "AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::RestApi", "AWS::RDS::DBInstance",
                 "AWS::SNS::Topic", "AWS::Events::Rule", "AWS::IAM::Role", "AWS::IAM::ManagedPolicy",
                 "AWS::ECS::Service", "AWS::EC2::RouteTable", perimeter.FILE_SYSTEM)


def nothing_undeclared(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-STACK-002: nothing was added next to the declaration (a grant on the key, a key of the usage plan, a
    manual snapshot, a subscription, a target, a policy on a role, an identity a managed policy is attached to, a
    revision a service runs, a route)."""
    found = facts["Undeclared"]
    if found:
        return Result.fail(f"{len(found)} undeclared: {'; '.join(found[:5])}{' ...' if len(found) > 5 else ''}")
    return Result.ok("nothing beside the declaration")


for _type in CHILD_BEARING:
    live_rule(UNDECLARED_CHILDREN_ID, UNDECLARED_CHILDREN_CHECK, _type, ("Undeclared",), nothing_undeclared)
