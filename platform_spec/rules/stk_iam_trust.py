"""STK-IAM-002: every role is assumable by AWS services alone.

The stack's roles are for its services (ECS tasks, Lambda, flow logs, RDS monitoring, API Gateway). A trust
policy that names an account, a user, a federated identity or everyone lets that party take the role's
permissions from outside the stack; adding one is how an intruder keeps access after their first foothold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import render
from platform_spec.result import Result
from platform_spec.rule import plain_rule
from platform_spec.rules.policy_documents import is_deny, numbered, principals

RULE_ID = "STK-IAM-002"
TYPE = "AWS::IAM::Role"


def check(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != TYPE:
        return Result.na()
    trusted = [(where, s) for where, s in numbered(properties.get("AssumeRolePolicyDocument")) if not is_deny(s)]
    if not trusted:
        return Result.fail("no trust policy statement: cannot show who may assume the role")
    problems = []  # each names the statement (its Sid, or its position) and the principal, as drift does
    for where, statement in trusted:
        if "NotPrincipal" in statement:
            problems.append(f"{where} trusts everyone but a NotPrincipal list")
        found = principals(statement)
        if not found and "NotPrincipal" not in statement:
            problems.append(f"{where} names no principal")
        for kind, value in found:
            shown = render(value) or str(value)
            if kind == "Service" and shown.endswith(".amazonaws.com"):
                continue
            problems.append(f'{where} trusts everyone (Principal "*")' if kind == "*" or shown == "*"
                            else f"{where} trusts {kind} {shown}")
    if problems:
        return Result.fail("; ".join(dict.fromkeys(problems)))
    services = sorted({render(v) or "?" for _where, s in trusted for _k, v in principals(s)})
    return Result.ok(f"assumable only by {', '.join(services)}")


plain_rule(RULE_ID, {TYPE}, check)
