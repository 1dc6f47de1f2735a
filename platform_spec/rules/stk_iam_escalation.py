"""STK-IAM-003: no identity policy can hand out more than it holds.

iam:PassRole on every role lets the holder give any role (an administrator's among them) to a service it
controls; the IAM writes below let it grant itself any permission. Either turns one compromised task into the
account. The stack's own policies need none of them."""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from platform_spec.result import Result
from platform_spec.rule import plain_rule
from platform_spec.rules.policy_documents import actions, allows, values
from platform_spec.rules.stk_iam import IAM_TYPES, documents

RULE_ID = "STK-IAM-003"
# Actions that let a principal raise its own permissions (as Prowler's and Rhino Security Labs' lists have them).
ESCALATION = ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:AttachRolePolicy",
              "iam:AttachUserPolicy", "iam:AttachGroupPolicy", "iam:PutRolePolicy", "iam:PutUserPolicy",
              "iam:PutGroupPolicy", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
              "iam:AddUserToGroup", "iam:UpdateAssumeRolePolicy", "iam:CreateRole", "iam:CreateUser")


def check(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type not in IAM_TYPES:
        return Result.na()
    problems = set()
    for document in documents(resource_type, properties):
        for statement in allows(document):
            granted = actions(statement)
            resources = values(statement.get("Resource", []))
            if "*" in resources and any(fnmatchcase("iam:passrole", a.lower()) for a in granted):
                problems.add("allows iam:PassRole on every role (Resource \"*\")")
            escalating = sorted({e for e in ESCALATION for a in granted if fnmatchcase(e.lower(), a.lower())
                                 and a not in ("*", "*:*")})
            if escalating:
                problems.add(f"allows {', '.join(escalating)}")
    if problems:
        return Result.fail("; ".join(sorted(problems)))
    return Result.ok("no iam:PassRole on *, no IAM permission writes")


plain_rule(RULE_ID, IAM_TYPES, check)
