"""The least-privilege IAM policy for exactly the read operations opscli's checks declare."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from opscli.aws import CREDENTIAL_OPERATIONS, is_read
from opscli.core import declared_operations
from opscli.operations import declared_calls
from opscli.readers import Call
from opscli.targets import Targets
from platform_spec import monitor, stacks
from platform_spec.naming import NAMES, physical_name
from platform_spec.stacks import ALLOWED_REGION

# botocore service name -> IAM action prefix (where they differ)
IAM_PREFIX = {"efs": "elasticfilesystem", "resourcegroupstaggingapi": "tag", "elbv2": "elasticloadbalancing"}
# Services with one global endpoint: their requests are made in us-east-1, whatever region the caller names, so a
# condition on aws:RequestedRegion = ap-northeast-1 would deny every one of them. (botocore's endpoint data marks
# them isRegionalized: false; the policy test checks this set against it.)
GLOBAL_SERVICES = frozenset({"iam"})
# The account in a scoped ARN when none is given ("*", as AWS's own examples write it): another account's resources
# still need that account's own grant. `--account` names the one account.
ANY_ACCOUNT = "*"

# API operations that IAM authorizes under an action of another name (a Call's `action`; the service authorization
# reference lists, for each action, the API operation it grants). tests/opscli/test_iam_policy.py checks every action
# of the policy against AWS's published actions, so an operation whose action differs cannot be added without it.
IAM_ACTION = {call.operation: call.action for call in declared_calls() if call.action}


def iam_action(operation: str) -> str:
    """The IAM action that authorizes `operation` (service:Operation, as botocore names them)."""
    service, name = operation.split(":", 1)
    if service == "apigateway":
        return "apigateway:GET"  # API Gateway's control plane authorizes by HTTP verb
    return IAM_ACTION.get(operation, f"{IAM_PREFIX.get(service, service)}:{name}")


def iam_actions(operations: set[str]) -> list[str]:
    actions = set()
    for operation in operations:
        if not is_read(operation.split(":", 1)[1]):  # pragma: no cover - guarded by tests and by the read-only hook
            raise ValueError(f"{operation} is not a read operation")
        actions.add(iam_action(operation))
    return sorted(actions)


def scopes(calls: Iterable[Call]) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """By IAM action, the resources each is granted on for one stack (SCOPED), and why an action that has a
    resource type is granted on "*" all the same (UNSCOPED), as the calls declare them beside the code that makes
    them (opscli.readers). Every call of one action (API Gateway's, by verb) must declare the same."""
    scoped: dict[str, tuple[str, ...]] = {}
    unscoped: dict[str, str] = {}
    declared: dict[str, Call] = {}
    for call in calls:
        action = iam_action(call.operation)
        first = declared.setdefault(action, call)
        if (first.scope, first.unscoped) != (call.scope, call.unscoped):
            raise ValueError(f"{call.operation} and {first.operation} declare different IAM scopes for {action}")
        if call.scope:
            scoped[action] = call.scope
        elif call.unscoped:
            unscoped[action] = call.unscoped
    return scoped, unscoped


# The service authorization reference lists, per action, the resource types it authorizes;
# tests/opscli/test_iam_policy.py checks that every action with a resource type is scoped (or is in UNSCOPED with its
# reason), that every pattern has the shape of one of the action's types, and, on the local deployment, that every
# call the audit makes names a resource its pattern matches. Placeholders (scope_values): {region} {account} {stack}
# (TapStack<suffix>), {bucket} (the stack's generated bucket names), {cluster} {function} {db} {db_params}
# {db_subnets} {redis} {redis_subnets} {rule} {schedule} {topic} {waf}, and per-item lists: {queue} {secret}
# {log_group}. Names CloudFormation generates (roles, managed policies, alarms, functions, buckets) begin with the
# stack's name. Ids AWS makes (keys, file systems, VPCs, APIs) are "*" within the region and account.
SCOPED, UNSCOPED = scopes(declared_calls())


def scope_values(targets: Targets, account: str | None = None) -> dict[str, tuple[str, ...]]:
    """The values of SCOPED's placeholders for one stack: each a tuple (a pattern is written once per value)."""
    stack = stacks.stack_name(targets.suffix)
    watcher = monitor.stack_name(targets.suffix)  # the posture monitor's stack, which the audit judges too

    def secret_arn(name: str) -> str:
        if name.startswith("arn:"):
            return name if name.endswith("*") or name[-7:-6] == "-" else f"{name}-??????"
        return f"arn:aws:secretsmanager:{{region}}:{{account}}:secret:{name}-??????"

    log_groups = sorted({physical_name(key, targets.suffix) for key, spec in NAMES.items()
                         if spec.limit == "log-group"} | set(targets.log_groups))
    return {
        "region": (ALLOWED_REGION,), "account": (account or ANY_ACCOUNT,), "stack": (stack, watcher),
        "bucket": (targets.ingest_bucket or f"{stack.lower()}-*", f"{watcher.lower()}-*"),
        "cluster": (targets.cluster,), "function": (physical_name("monitor", targets.suffix),),
        "db": (targets.db_instance,), "db_params": (targets.db_parameter_group,),
        "db_subnets": (physical_name("rds-subnet-group", targets.suffix),),
        "redis": (targets.redis_group,), "redis_subnets": (physical_name("redis-subnet-group", targets.suffix),),
        "rule": (physical_name("intake-rule", targets.suffix), physical_name("monitor-changes", targets.suffix)),
        "schedule": (physical_name("monitor-schedule", targets.suffix),),
        "topic": (physical_name("alarm-topic", targets.suffix),), "waf": (physical_name("waf-acl", targets.suffix),),
        "queue": (*(q for q in (targets.intake_queue, targets.intake_dlq) if q),
                  physical_name("monitor-events", targets.suffix),
                  physical_name("monitor-dead-letter", targets.suffix)),
        "secret": tuple(secret_arn(s) for s in targets.secrets),
        # The log groups the stack names, and those CloudFormation names for it (its functions' and the API's).
        "log_group": (*log_groups, f"/aws/lambda/{stack}-*", "API-Gateway-Execution-Logs_*"),
    }


def scoped_resources(action: str, values: dict[str, tuple[str, ...]]) -> list[str]:
    """The ARNs `action` is granted on: its SCOPED patterns with every placeholder filled, one per value."""
    found: list[str] = []
    for pattern in SCOPED[action]:
        expanded = [pattern]
        for key, options in values.items():
            if "{" + key + "}" in pattern:
                expanded = [e.replace("{" + key + "}", option) for e in expanded for option in options]
        for arn in expanded:  # a secret's ARN carries {region} and {account} of its own
            arn = arn.replace("{region}", values["region"][0]).replace("{account}", values["account"][0])
            if arn not in found:
                found.append(arn)
    return found


def policy_document(operations: set[str] | None = None, *, targets: Targets | None = None,
                    account: str | None = None) -> dict:
    """The policy for `operations` (every operation opscli declares, by default). With `targets`, every action the
    reference gives a resource type is granted on that stack's resources alone (SCOPED); without, on "*"."""
    actions = iam_actions(operations if operations is not None else declared_operations())
    values = scope_values(targets, account) if targets is not None else None
    groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for action in actions:
        resources = tuple(scoped_resources(action, values)) if values is not None and action in SCOPED else ("*",)
        groups.setdefault((action.split(":")[0], resources), []).append(action)
    statements: list[dict[str, Any]] = []
    names: dict[str, int] = {}
    for (service, resources), acts in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] != ("*",), g[0][1])):
        sid = "OpscliRead" + re.sub(r"[^A-Za-z0-9]", "", service.title())
        names[sid] = names.get(sid, 0) + 1
        statement: dict[str, Any] = {"Sid": sid if names[sid] == 1 else f"{sid}{names[sid]}", "Effect": "Allow",
                     "Action": acts, "Resource": resources[0] if resources == ("*",) else list(resources)}
        if service not in GLOBAL_SERVICES:
            statement["Condition"] = {"StringEquals": {"aws:RequestedRegion": ALLOWED_REGION}}
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


# IAM's quotas on a policy document, in characters not counting white space: a customer managed policy, and all the
# inline policies of one role together (IAM and AWS STS quotas).
MANAGED_POLICY_CHARACTERS = 6144
ROLE_INLINE_CHARACTERS = 10240


def characters(document: dict) -> int:
    """A document's size as IAM counts it against its quotas: every character but white space."""
    return len(re.sub(r"\s", "", json.dumps(document)))


def managed_documents(document: dict, limit: int = MANAGED_POLICY_CHARACTERS) -> list[dict]:
    """`document` as customer managed policies that each fit IAM's quota: a service's statements stay together
    where they fit (the largest service first, each into the first document with room), so a policy names whole
    services; a service larger than a document is split statement by statement."""
    by_service: dict[str, list[dict]] = {}
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        by_service.setdefault(actions[0].split(":")[0], []).append(statement)
    empty = characters({**document, "Statement": []})
    groups: list[list[dict]] = []
    for statements in by_service.values():
        if empty + characters({"Statement": statements}) - characters({"Statement": []}) <= limit:
            groups.append(statements)
        else:
            groups += [[statement] for statement in statements]
    documents: list[list[dict]] = []
    for group in sorted(groups, key=lambda g: characters({"Statement": g}), reverse=True):
        for held in documents:
            if characters({**document, "Statement": held + group}) <= limit:
                held += group
                break
        else:
            if characters({**document, "Statement": group}) > limit:
                raise ValueError(f"a statement of {characters(group[0])} characters does not fit a managed policy "
                                 f"of {limit}")
            documents.append(list(group))
    order = {id(statement): n for n, statement in enumerate(document["Statement"])}
    return [{**document, "Statement": sorted(held, key=lambda st: order[id(st)])} for held in documents]


def caller_notes(*, scoped: bool = True) -> list[str]:
    """What the caller needs beyond the policy: the credential calls the read-only guard also lets through (and
    logs), which are granted where the role is defined, not in this policy."""
    assume = sorted(op for op in CREDENTIAL_OPERATIONS if op.startswith("sts:"))
    unscoped = [] if scoped else [
        "No --suffix or --outputs: every action is granted on \"*\". Give the stack's suffix (or its outputs file) "
        "for a policy scoped to that stack's resources."]
    return [
        *unscoped,
        "Attach the policy to the identity opscli runs as (a user, or the role a profile assumes).",
        "With a profile that assumes a role (role_arn), botocore first calls " + ", ".join(assume) + " (the one "
        "its profile names): the source identity needs that action on the role's ARN, and the role's trust policy "
        "must allow it. These calls appear in opscli's call log (-v) like every other; nothing else is let through.",
        "With IAM Identity Center (sso_session), botocore calls sso:GetRoleCredentials and sso-oidc:CreateToken, "
        "granted by the permission set's assignment, not by an IAM policy.",
    ]
