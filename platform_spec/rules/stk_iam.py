"""STK-IAM-001: no '*' actions and no AdministratorAccess in IAM policies and roles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import as_list, render
from platform_spec.result import Result
from platform_spec.rule import plain_rule
from platform_spec.rules.policy_documents import actions, allows

RULE_ID = "STK-IAM-001"
IAM_TYPES = frozenset({"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::IAM::User",
                       "AWS::IAM::Group"})
ADMIN_POLICIES = ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")


def documents(resource_type: str, properties: Mapping[str, Any]) -> list[Any]:
    """The identity policy documents a resource holds: a policy's own, or the inline ones of a role, user or
    group."""
    if resource_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        return [properties.get("PolicyDocument")]
    if resource_type in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
        return [p.get("PolicyDocument") for p in as_list(properties.get("Policies")) if isinstance(p, Mapping)]
    return []


def wildcard_actions(document: Any) -> list[str]:
    return [action for statement in allows(document) for action in actions(statement)
            if action in ("*", "*:*") or (action.endswith(":*") and action.split(":")[0] in ("iam", "sts", "kms"))]


def check(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type not in IAM_TYPES:
        return Result.na()
    problems, attached = [], []
    for arn in as_list(properties.get("ManagedPolicyArns")):
        shown = render(arn) or ""
        if any(shown.endswith(f"policy/{name}") for name in ADMIN_POLICIES):
            problems.append(f"attaches {shown.rsplit('/', 1)[-1]}")
            attached.append(arn)
    for document in documents(resource_type, properties):
        for action in wildcard_actions(document):
            problems.append(f"allows action '{action}'")
    if not problems:
        return Result.ok("no wildcard or administrative grants")
    return Result.fail("; ".join(problems), **({"policy_arns": attached} if attached else {}))


plain_rule(RULE_ID, IAM_TYPES, check)
