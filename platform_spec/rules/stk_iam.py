"""STK-IAM-001: no '*' actions and no AdministratorAccess in IAM policies and roles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.result import Result
from platform_spec.rule import plain_rule
from platform_spec.rules.intrinsics import as_list, render

RULE_ID = "STK-IAM-001"
IAM_TYPES = frozenset({"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::IAM::User",
                       "AWS::IAM::Group"})
ADMIN_POLICIES = ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")


def _documents(resource_type: str, properties: Mapping[str, Any]) -> list[Any]:
    if resource_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        return [properties.get("PolicyDocument")]
    if resource_type in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
        return [p.get("PolicyDocument") for p in as_list(properties.get("Policies")) if isinstance(p, Mapping)]
    return []


def wildcard_actions(document: Any) -> list[str]:
    found = []
    if not isinstance(document, Mapping):
        return found
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        for action in actions if isinstance(actions, list) else [actions]:
            if action in ("*", "*:*") or (isinstance(action, str) and action.endswith(":*") and action.split(":")[0] in ("iam", "sts", "kms")):
                found.append(action)
    return found


def check(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::IAM::User",
                             "AWS::IAM::Group"):
        return Result.na()
    problems = []
    for arn in as_list(properties.get("ManagedPolicyArns")):
        shown = render(arn) or ""
        if any(shown.endswith(f"policy/{name}") for name in ADMIN_POLICIES):
            problems.append(f"attaches {shown.rsplit('/', 1)[-1]}")
    for document in _documents(resource_type, properties):
        for action in wildcard_actions(document):
            problems.append(f"allows action '{action}'")
    return Result.fail("; ".join(problems)) if problems else Result.ok("no wildcard or administrative grants")


plain_rule(RULE_ID, IAM_TYPES, check)
