"""STK-POLICY-001: resource policies and grants (queues, topics, buckets, secrets, the key and its grants, the file
system, the API, the event bus the stack's rule listens on) admit nobody outside the account.

A resource policy is the one place where an outsider is let in without any identity of this account: an Allow to
Principal "*" (or to everyone but a NotPrincipal list) without a condition that pins the caller to the account,
its organization or its network opens the resource to every AWS customer; an AWS principal of another account, a
federated identity or a grant to another account hands it to them; a service principal acting for another
account's resource (a foreign aws:SourceAccount or aws:SourceArn) is the confused deputy. This is also how an
intruder keeps a way back in after losing the credentials they came with. Each finding names the principal, the
statement (Sid, or its position) and, through the finding's resource, the path. A policy that cannot be read as
IAM reads it (not JSON, a key twice, an element IAM does not know: policy_documents.unreadable) cannot be shown to
admit nobody: it fails.

Another account is judged where the stack's account is known (Context.account: live, and a synthesis configured
with an account); an account-agnostic template names its own account only as AWS::AccountId."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from platform_spec.path import IN, Path
from platform_spec.result import Result
from platform_spec.rule import live_rule, resource_rule
from platform_spec.rules.policy_documents import (
    admits,
    arn_account,
    numbered,
    statements,
    unreadable,
    values,
)
from platform_spec.strict_json import KeyTwice, parse

RULE_ID = "STK-POLICY-001"
DOCUMENTS = {"AWS::SQS::QueuePolicy": "PolicyDocument", "AWS::SNS::TopicPolicy": "PolicyDocument",
             "AWS::S3::BucketPolicy": "PolicyDocument", "AWS::SecretsManager::ResourcePolicy": "ResourcePolicy",
             "AWS::KMS::Key": "KeyPolicy", "AWS::EFS::FileSystem": "FileSystemPolicy",
             "AWS::ApiGateway::RestApi": "Policy", "AWS::Events::EventBus": "Policy"}
# Live-only halves (registered below with live_rule): the key's grants, the policy of the bus a rule listens on.
GRANTS_CHECK = "kms.grants"
BUS_CHECK = "events.bus_policy"

# Why an admitted principal is outside, by its kind (policy_documents.admits).
OUTSIDE_BECAUSE = {"everyone": "no condition pins the caller to this account, its organization or its network",
                   "account": "another account", "federated": "a federated identity: its provider decides who it is",
                   "canonicaluser": "an S3 canonical user: its account cannot be told",
                   "service": "a service acting for another account's resource (the confused deputy)"}


def _document(value: Any) -> tuple[Any, str | None]:
    """The policy as a document, and why it cannot be read as IAM reads it (None: it can, or there is none)."""
    if isinstance(value, str):  # SecretsManager::ResourcePolicy and RestApi Policy may hold it as a JSON string
        try:
            value = parse(value)
        except KeyTwice as twice:
            return None, f"holds {twice}"
        except (ValueError, RecursionError):
            return None, "is not a JSON document"
    why = unreadable(value)
    return value, why and f"cannot be read as IAM reads it: {why}"


def _actions(statement: Mapping[str, Any]) -> tuple[str, ...]:
    if "NotAction" in statement:
        return tuple(f"all but {a}" for a in values(statement["NotAction"]) if isinstance(a, str))
    return tuple(a for a in values(statement.get("Action", [])) if isinstance(a, str))


def document_paths(value: Any, account: str | None, what: str = "the policy") -> list[Path]:
    """A path in for every principal a statement of the policy that is not a Deny admits (none where there is no
    policy); one outside path to whoever it admits when it cannot be read as IAM reads it (not a JSON document, a
    key twice, an element IAM does not know: it cannot be shown to admit nobody)."""
    document, why = _document(value)
    if why is not None:
        return [Path(IN, RULE_ID, "whoever it admits", what, True, kind="unknown", why=(
            f"{what} {why}: cannot show it admits nobody outside the account",))]
    if document is None:
        return []
    return [Path(IN, RULE_ID, admitted.who, where + (f" (pinned by {', '.join(admitted.pinned)})"
                                                     if admitted.pinned else ""),
                 admitted.outside, kind=admitted.kind, actions=_actions(statement),
                 why=(OUTSIDE_BECAUSE.get(admitted.kind, "outside the account"),) if admitted.outside else ())
            for where, statement in numbered(document) for admitted in admits(statement, account)]


def judge_document(value: Any, account: str | None, what: str = "the policy") -> Result:
    if value is None:
        return Result.ok("no resource policy")
    paths = document_paths(value, account, what)
    unread = [p for p in paths if p.kind == "unknown"]
    if unread:
        return Result.fail(unread[0].why[0])
    problems = [f"{p.via} admits {p.other}" for p in paths if p.outside]
    if problems:
        return Result.fail(f"{what}: " + "; ".join(dict.fromkeys(problems)), **offending(_document(value)[0], account))
    return Result.ok("admits only this account, AWS services for it and pinned callers")


def offending(document: Any, account: str | None) -> dict[str, Any]:
    """The evidence of a policy that admits someone outside: the statements that do (their labels and Sids), whom,
    and the document without them (the policy to put back; absent where no statement would be left)."""
    found = [(where, statement) for where, statement in numbered(document)
             if any(admitted.outside for admitted in admits(statement, account))]
    kept = [statement for statement in statements(document)
            if not any(statement is bad for _, bad in found)]
    evidence: dict[str, Any] = {
        "statements": [where for where, _ in found],
        "principals": list(dict.fromkeys(a.who for _, s in found for a in admits(s, account) if a.outside)),
        "sids": [s["Sid"] for _, s in found if isinstance(s.get("Sid"), str) and s["Sid"]]}
    if kept:
        evidence["document"] = {**document, "Statement": kept}
    return evidence


def paths(resource_type: str, properties: Mapping[str, Any], account: str | None) -> list[Path]:
    """Who the resource's own policy admits (the types of DOCUMENTS; none for any other type)."""
    key = DOCUMENTS.get(resource_type)
    return [] if key is None else document_paths(properties.get(key), account)


def check(resource_type: str, properties: Mapping[str, Any], account: str | None) -> Result:
    key = DOCUMENTS.get(resource_type)
    if key is None:
        return Result.na()
    return judge_document(properties.get(key), account)


def outside_grantee(grantee: str, account: str) -> str | None:
    """The other account a grantee principal (an account id, or an IAM or STS ARN: of another partition, another
    account) belongs to, else None."""
    other = arn_account(grantee) if grantee.startswith("arn:") else grantee if re.fullmatch(r"\d{12}", grantee) \
        else None
    return other if other is not None and other != account else None


def grant_paths(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> list[Path]:
    """A path in for every grant on the key: to its grantee (KMS lists an AWS service's grant under the service
    principal, which is inside), outside where the grantee is of another account."""
    account, found = facts["Account"], []
    for grant in facts["Grants"]:
        grantee = str(grant.get("GranteePrincipal") or "")
        other = outside_grantee(grantee, account)
        operations = tuple(str(o) for o in grant.get("Operations") or [])
        via = f"grant {str(grant.get('GrantId', '?'))[:16]}"
        if other is not None:
            found.append(Path(IN, RULE_ID, f"account {other} ({grantee})", via, True, kind="account",
                              actions=operations, why=("a grant to another account",)))
        else:
            found.append(Path(IN, RULE_ID, grantee or "an unnamed grantee", via, False, actions=operations,
                              kind="service" if grantee.endswith(".amazonaws.com") else "account"))
    return found


def grants(props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """Live half on the key: no grant names a grantee outside the account."""
    found = [f"{p.via} admits {p.other} to {', '.join(p.actions) or 'no operation'}"
             for p in grant_paths(props, facts) if p.outside]
    if found:
        return Result.fail("; ".join(found), grants=[str(g.get("GrantId")) for g in facts["Grants"] if outside_grantee(
            str(g.get("GranteePrincipal") or ""), facts["Account"]) is not None and g.get("GrantId")])
    return Result.ok(f"{len(facts['Grants'])} grant(s), none to another account")


def bus_paths(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> list[Path]:
    """Who the policy of the event bus a rule listens on admits (each statement named with its bus)."""
    return [replace(p, via=f"event bus {facts['EventBus']} {p.via}")
            for p in document_paths(facts["EventBusPolicy"], facts["Account"],
                                    f"the policy of event bus {facts['EventBus']}")]


def bus_policy(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """Live half on a rule: the policy of the event bus it listens on admits nobody outside the account (whoever
    may put events on the bus may trigger the stack's work)."""
    result = judge_document(facts["EventBusPolicy"], facts["Account"], f"the policy of event bus {facts['EventBus']}")
    return replace(result, evidence={**result.evidence, "event_bus": facts["EventBus"]}) if result.failed else result


def secret_policy(policy: Any, account: str) -> Result:
    """The resource policy of a secret the stack reads (GetResourcePolicy's ResourcePolicy; None: it has none)."""
    return judge_document(policy, account, "the secret's resource policy")


resource_rule(RULE_ID, DOCUMENTS, lambda t, p, c: check(t, p, c.account))
# the perimeter: who can reach in beside the declared policies
live_rule(RULE_ID, GRANTS_CHECK, "AWS::KMS::Key", ("Grants", "Account"), grants, paths=grant_paths)
live_rule(RULE_ID, BUS_CHECK, "AWS::Events::Rule", ("EventBus", "EventBusPolicy", "Account"), bus_policy,
          paths=bus_paths)
