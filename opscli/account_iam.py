"""The one account-wide read of the audit: the account's IAM (users, groups, roles and the managed policies they
attach) in one paged iam:GetAccountAuthorizationDetails, for the perimeter's evaluation in memory
(platform_spec.rules.stk_perim). Everything else opscli reads is by id; this read grows with the account's IAM,
not with the stack, so it asks for the largest page IAM gives (1,000 items) and keeps of each managed policy only
the default version's document (the answer carries every version: AWS-managed policies have dozens)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opscli.readers.base import MalformedAnswer, need, pages
from platform_spec.strict_json import KeyTwice, parse

OPERATION = "GetAccountAuthorizationDetails"
OPERATIONS = (f"iam:{OPERATION}",)
# Customer-managed and AWS-managed policies too: an identity's attached policies are named by ARN in its entry,
# their documents only in the Policies list (AWS lists the AWS-managed ones that are in use).
FILTER = ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"]
PAGE_SIZE = 1000  # MaxItems: the most IAM answers in one page (it may answer fewer and say IsTruncated)


@dataclass
class AccountIam:
    """The account's IAM as read: every page's lists joined, each managed policy's default document by ARN."""

    users: list[Mapping[str, Any]] = field(default_factory=list)
    groups: list[Mapping[str, Any]] = field(default_factory=list)
    roles: list[Mapping[str, Any]] = field(default_factory=list)
    policies: dict[str, Any] = field(default_factory=dict)
    pages: int = 0


def _document(value: Any, what: str) -> Any:
    """A policy document as IAM answers it: URL-encoded JSON text (botocore decodes some, not all, of them)."""
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str):
        raise MalformedAnswer(f"{OPERATION} answered {what} that is neither a document nor text")
    try:
        return parse(urllib.parse.unquote(value) if value.lstrip().startswith("%7B") else value)
    except KeyTwice as twice:
        raise MalformedAnswer(f"{OPERATION} answered {what} with {twice}") from None
    except (ValueError, RecursionError):
        raise MalformedAnswer(f"{OPERATION} answered {what} that is not JSON") from None


def _identity(item: Any, kind: str, inline: str) -> Mapping[str, Any]:
    """One user, group or role entry, its documents decoded; the fields the evaluation needs must be there."""
    if not isinstance(item, Mapping):
        raise MalformedAnswer(f"{OPERATION} answered a {kind} that is not an object")
    need(item, "Arn", str, operation=OPERATION)
    entry = dict(item)
    entry[inline] = [{**p, "PolicyDocument": _document(need(p, "PolicyDocument", (str, Mapping), operation=OPERATION),
                                                       f"an inline policy of {item['Arn']}")}
                     for p in need(item, inline, list, operation=OPERATION)]
    need(item, "AttachedManagedPolicies", list, operation=OPERATION)
    if kind == "role":
        entry["AssumeRolePolicyDocument"] = _document(
            need(item, "AssumeRolePolicyDocument", (str, Mapping), operation=OPERATION), f"the trust of {item['Arn']}")
    if kind == "user":
        need(item, "GroupList", list, operation=OPERATION)
    return entry


def _default_document(policy: Any) -> tuple[str, Any]:
    if not isinstance(policy, Mapping):
        raise MalformedAnswer(f"{OPERATION} answered a policy that is not an object")
    arn = need(policy, "Arn", str, operation=OPERATION)
    versions = [v for v in need(policy, "PolicyVersionList", list, operation=OPERATION)
                if isinstance(v, Mapping) and v.get("IsDefaultVersion") is True]
    if len(versions) != 1:
        raise MalformedAnswer(f"{OPERATION} answered {len(versions)} default versions of {arn}")
    return arn, _document(need(versions[0], "Document", (str, Mapping), operation=OPERATION),
                          f"the document of {arn}")


def read(aws: Any) -> AccountIam:
    """Every page of GetAccountAuthorizationDetails, through the readers' `pages` (a marker seen before, or a page
    that says there is more without one, is a malformed answer)."""
    found = AccountIam()
    for page in pages(aws.client("iam"), "get_account_authorization_details", OPERATION, Filter=FILTER,
                      PaginationConfig={"PageSize": PAGE_SIZE}):
        found.pages += 1
        need(page, "IsTruncated", bool, operation=OPERATION)  # AWS always says whether there is more
        found.users += [_identity(u, "user", "UserPolicyList")
                        for u in need(page, "UserDetailList", list, operation=OPERATION)]
        found.groups += [_identity(g, "group", "GroupPolicyList")
                         for g in need(page, "GroupDetailList", list, operation=OPERATION)]
        found.roles += [_identity(r, "role", "RolePolicyList")
                        for r in need(page, "RoleDetailList", list, operation=OPERATION)]
        found.policies.update(_default_document(p) for p in need(page, "Policies", list, operation=OPERATION))
    return found
