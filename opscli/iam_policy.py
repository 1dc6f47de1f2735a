"""The least-privilege IAM policy for exactly the read operations opscli's checks declare."""

from __future__ import annotations

import re

from opscli.aws import ALLOWED_REGION, CREDENTIAL_OPERATIONS, is_read
from opscli.core import declared_operations

# botocore service name -> IAM action prefix (where they differ)
IAM_PREFIX = {"efs": "elasticfilesystem", "resourcegroupstaggingapi": "tag", "elbv2": "elasticloadbalancing"}
# API operations that IAM authorizes under an action of another name (the service authorization reference lists,
# for each action, the API operation it grants). tests/opscli/test_iam_policy.py checks every action of the policy
# against AWS's published actions, so an operation whose action differs cannot be added without its entry here.
IAM_ACTION = {"s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
              "s3:GetBucketNotificationConfiguration": "s3:GetBucketNotification",
              "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock"}
# Services with one global endpoint: their requests are made in us-east-1, whatever region the caller names, so a
# condition on aws:RequestedRegion = ap-northeast-1 would deny every one of them. (botocore's endpoint data marks
# them isRegionalized: false; the policy test checks this set against it.)
GLOBAL_SERVICES = frozenset({"iam"})


def iam_actions(operations: set[str]) -> list[str]:
    actions = set()
    for operation in operations:
        service, name = operation.split(":", 1)
        if not is_read(name):  # pragma: no cover - guarded by tests and by the read-only hook
            raise ValueError(f"{operation} is not a read operation")
        if service == "apigateway":
            actions.add("apigateway:GET")  # API Gateway's control plane authorizes by HTTP verb
        else:
            actions.add(IAM_ACTION.get(operation, f"{IAM_PREFIX.get(service, service)}:{name}"))
    return sorted(actions)


def policy_document(operations: set[str] | None = None) -> dict:
    actions = iam_actions(operations if operations is not None else declared_operations())
    by_service: dict[str, list[str]] = {}
    for action in actions:
        by_service.setdefault(action.split(":")[0], []).append(action)
    statements = []
    for service, acts in sorted(by_service.items()):
        statement = {"Sid": "OpscliRead" + re.sub(r"[^A-Za-z0-9]", "", service.title()), "Effect": "Allow",
                     "Action": acts, "Resource": "*"}
        if service not in GLOBAL_SERVICES:
            statement["Condition"] = {"StringEquals": {"aws:RequestedRegion": ALLOWED_REGION}}
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def caller_notes() -> list[str]:
    """What the caller needs beyond the policy: the credential calls the read-only guard also lets through (and
    logs), which are granted where the role is defined, not in this policy."""
    assume = sorted(op for op in CREDENTIAL_OPERATIONS if op.startswith("sts:"))
    return [
        "Attach the policy to the identity opscli runs as (a user, or the role a profile assumes).",
        "With a profile that assumes a role (role_arn), botocore first calls " + ", ".join(assume) + " (the one "
        "its profile names): the source identity needs that action on the role's ARN, and the role's trust policy "
        "must allow it. These calls appear in opscli's call log (-v) like every other; nothing else is let through.",
        "With IAM Identity Center (sso_session), botocore calls sso:GetRoleCredentials and sso-oidc:CreateToken, "
        "granted by the permission set's assignment, not by an IAM policy.",
    ]
