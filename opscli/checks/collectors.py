"""The secrets' collector: the existing secrets the stack reads are not resources of the stack, so they are
looked up by name and judged by the live-only secret rules (platform_spec.rules.stk_secret_live)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import botocore.exceptions

from opscli.checks import Context, Missing, Spec, judge
from opscli.model import Finding
from opscli.readers import kms
from opscli.readers.base import Call, MalformedAnswer, need
from platform_spec.naming import physical_name
from platform_spec.rules import stk_policy as resource_policy
from platform_spec.rules import stk_res_stores as residency
from platform_spec.rules import stk_secret_live as live


def _expect(call: Callable[[], Any], missing_codes: tuple[str, ...], expected: str) -> Any:
    """The answer of `call`; a not-found error code becomes Missing('expected ... not found')."""
    try:
        return call()
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] in missing_codes:
            raise Missing(f"expected {expected} not found") from None
        raise


# --- Secrets Manager ----------------------------------------------------------------------------

# {secret}: each secret's ARN, or its name with the six characters AWS appends (opscli.iam_policy).
_SECRET_ARN = ("{secret}",)
SECRET_CALLS = (Call("secretsmanager:DescribeSecret", _SECRET_ARN),
                Call("secretsmanager:ListSecretVersionIds", _SECRET_ARN),
                Call("secretsmanager:GetResourcePolicy", _SECRET_ARN), kms.DESCRIBE_KEY)
SECRET = Spec("secretsmanager", tuple(call.operation for call in SECRET_CALLS), live.SECRET_CHECKS)


RULE_OF = dict(live.SECRET_CHECKS)  # check id -> catalog rule id


def _judge(check_id: str, *args: Any) -> Finding:
    return judge(check_id, RULE_OF[check_id], *args)


def secret(ctx: Context, name: str) -> Iterator[Finding]:
    """Every secret check of the secret `name`, each failure with the facts its fix is filled from."""
    known = {"suffix": ctx.targets.suffix, "project_key": physical_name("kms-alias", ctx.targets.suffix)}
    for finding in _secret(ctx, name):
        yield replace(finding, evidence={**known, **finding.evidence}) if finding.evidence else finding


def _secret(ctx: Context, name: str) -> Iterator[Finding]:
    client = ctx.aws.client("secretsmanager")
    described = _expect(lambda: client.describe_secret(SecretId=name), ("ResourceNotFoundException",),
                        f"secret {name} (the stack reads it; it must exist)")
    # DescribeSecret always names the secret: an answer without ARN and Name (an HTML or empty 200, a proxy's
    # garbage) proves nothing, so every check of this secret is ERROR rather than "rotation is not enabled".
    arn = need(described, "ARN", str, operation="DescribeSecret")
    need(described, "Name", str, operation="DescribeSecret")
    yield _judge("secret.deletion", arn, live.secret_not_scheduled_for_deletion, described, ctx.now)
    yield _judge("secret.replicas", arn, residency.secret_replicas_in_japan, described)
    yield _judge("secret.rotation_enabled", arn, live.secret_rotation_enabled, described)
    yield _judge("secret.rotation_age", arn, live.secret_rotation_age, described, ctx.now,
                ctx.max_age_days)
    versions, token, tokens = [], None, set()
    while True:  # botocore has no paginator for ListSecretVersionIds
        page = client.list_secret_version_ids(SecretId=arn, **({"NextToken": token} if token else {}))
        versions += need(page, "Versions", list, operation="ListSecretVersionIds")
        token = page.get("NextToken")
        if not token:
            break
        if token in tokens:  # an endpoint that pages in a circle would hold the check forever
            raise MalformedAnswer(f"ListSecretVersionIds answered the page token {str(token)[:40]!r} a second time")
        tokens.add(token)
    yield _judge("secret.pending", arn, live.secret_pending_versions, versions, ctx.now)
    yield _judge("secret.last_accessed", arn, live.secret_last_accessed, described, ctx.now,
                ctx.max_age_days, versions)
    manager = None
    if described.get("KmsKeyId"):
        meta = need(ctx.aws.client("kms").describe_key(KeyId=described["KmsKeyId"]), "KeyMetadata", dict,
                    operation="DescribeKey")
        manager = need(meta, "KeyManager", str, operation="DescribeKey")
    yield _judge("secret.cmk", arn, live.secret_cmk, described, manager)
    # Who else may read it: its resource policy (GetResourcePolicy answers no ResourcePolicy when it has none).
    policy = client.get_resource_policy(SecretId=arn)
    need(policy, "ARN", str, operation="GetResourcePolicy")
    yield _judge("secret.resource_policy", arn, resource_policy.secret_policy, policy.get("ResourcePolicy"),
                 arn.split(":")[4])
