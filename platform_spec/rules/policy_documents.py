"""Reading IAM policy documents (identity, trust and resource policies) in CloudFormation shape: statements,
their principals and actions, without resolving anything. Shared by the rules that judge who is granted what."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from platform_spec.rules.intrinsics import TOKEN, render

# Condition keys that pin an Allow to a caller the owner chose (an account, an organization, a source resource,
# an endpoint): with one of them, a "*" principal is not everyone.
RESTRICTING_KEYS = frozenset({"aws:sourcearn", "aws:sourceaccount", "aws:sourceowner", "aws:principalaccount",
                              "aws:principalorgid", "aws:principalorgpaths", "aws:principalarn", "aws:sourcevpce",
                              "aws:sourcevpc", "aws:userid", "kms:calleraccount", "kms:viaservice",
                              "aws:sourceorgid", "aws:resourceorgid"})
ACCOUNT_IN_ARN = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(?P<account>[^:]+):")


def statements(document: Any) -> list[Mapping[str, Any]]:
    """The document's statements (one or a list); anything else gives none."""
    if not isinstance(document, Mapping):
        return []
    found = document.get("Statement", [])
    return [s for s in (found if isinstance(found, list) else [found]) if isinstance(s, Mapping)]


def allows(document: Any) -> list[Mapping[str, Any]]:
    return [s for s in statements(document) if s.get("Effect") == "Allow"]


def values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions(statement: Mapping[str, Any]) -> list[str]:
    return [a for a in values(statement.get("Action", [])) if isinstance(a, str)]


def principals(statement: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(kind, value) for each principal: kind "*" for Principal "*", else AWS / Service / Federated /
    CanonicalUser with each value as written (an intrinsic stays an intrinsic)."""
    principal = statement.get("Principal")
    if principal == "*":
        return [("*", "*")]
    if not isinstance(principal, Mapping):
        return []
    return [(kind, value) for kind, given in principal.items() for value in values(given)]


def is_everyone(kind: str, value: Any) -> bool:
    return kind == "*" or (kind == "AWS" and value == "*")


def restricted(statement: Mapping[str, Any]) -> bool:
    """The statement's conditions pin the caller (RESTRICTING_KEYS)."""
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return False
    return any(isinstance(keys, Mapping) and any(str(k).lower() in RESTRICTING_KEYS for k in keys)
               for keys in condition.values())


def principal_account(value: Any) -> str | None:
    """The account an AWS principal names: a 12-digit id, an ARN's account, or TOKEN when it is the template's own
    AWS::AccountId (or any other intrinsic); None when it names no account."""
    if isinstance(value, Mapping) and value.get("Ref") == "AWS::AccountId":
        return TOKEN
    shown = render(value)
    if shown is None:
        return None
    if re.fullmatch(r"\d{12}", shown):
        return shown
    match = ACCOUNT_IN_ARN.match(shown)
    if match:
        return TOKEN if TOKEN in match.group("account") else match.group("account")
    return TOKEN if TOKEN in shown else None
