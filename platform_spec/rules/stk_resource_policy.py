"""STK-POLICY-001: resource policies (queues, topics, buckets, secrets, the key) grant nothing to everyone and
nothing to another account.

A resource policy is the one place where an outsider is let in without any identity of this account: an Allow to
Principal "*" without a condition that pins the caller (a source ARN or account, an organization) opens the
resource to every AWS customer; an AWS principal of another account hands it to that account. This is also how
an intruder keeps a way back in after losing the credentials they came with.

Another account is judged where the stack's account is known (Context.account: live, and a synthesis configured
with an account); an account-agnostic template names its own account only as AWS::AccountId."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from platform_spec.result import Result
from platform_spec.rule import resource_rule
from platform_spec.rules.intrinsics import TOKEN
from platform_spec.rules.policy_documents import allows, is_everyone, principal_account, principals, restricted

RULE_ID = "STK-POLICY-001"
DOCUMENTS = {"AWS::SQS::QueuePolicy": "PolicyDocument", "AWS::SNS::TopicPolicy": "PolicyDocument",
             "AWS::S3::BucketPolicy": "PolicyDocument", "AWS::SecretsManager::ResourcePolicy": "ResourcePolicy",
             "AWS::KMS::Key": "KeyPolicy"}


UNREADABLE = object()


def _document(value: Any) -> Any:
    if isinstance(value, str):  # SecretsManager::ResourcePolicy may hold the policy as a JSON string
        try:
            return json.loads(value)
        except ValueError:
            return UNREADABLE
    return value


def check(resource_type: str, properties: Mapping[str, Any], account: str | None) -> Result:
    key = DOCUMENTS.get(resource_type)
    if key is None:
        return Result.na()
    document = _document(properties.get(key))
    if document is None:
        return Result.ok("no resource policy")
    if document is UNREADABLE:
        return Result.fail("the policy is not a JSON document: cannot show it grants nobody")
    problems = []
    for statement in allows(document):
        for kind, value in principals(statement):
            if is_everyone(kind, value) and not restricted(statement):
                problems.append("allows everyone (Principal \"*\" with no condition on the caller)")
            elif kind == "AWS" and account is not None:  # the account is known: live, or a configured synthesis
                owner = principal_account(value)
                if owner is not None and owner != TOKEN and owner != account:
                    problems.append(f"allows account {owner}, which is not this stack's account {account}")
    if problems:
        return Result.fail("; ".join(sorted(set(problems))))
    return Result.ok("grants only this account, AWS services and pinned callers")


resource_rule(RULE_ID, DOCUMENTS, lambda t, p, c: check(t, p, c.account))
