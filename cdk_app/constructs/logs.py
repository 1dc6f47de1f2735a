"""Encrypted, expiring CloudWatch log groups: the one way the constructs create a log group."""

from __future__ import annotations

from aws_cdk import CfnResource, Fn, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from cdk_app.compliance import suppress
from cdk_app.config import AppConfig


def encrypted_log_group(scope: Construct, construct_id: str, *, config: AppConfig, key: kms.IKey,
                        name: str) -> logs.LogGroup:
    """A log group named `name`, encrypted with the project CMK, with the configured retention, deleted with the
    stack."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=name,
        encryption_key=key,
        retention=RETENTION_BY_DAYS[config.log_retention_days],
        removal_policy=RemovalPolicy.DESTROY,
    )


_R = logs.RetentionDays
# Days (as validated in config.VALID_LOG_RETENTION_DAYS) to the CDK enum member.
RETENTION_BY_DAYS: dict[int, logs.RetentionDays] = {
    1: _R.ONE_DAY, 3: _R.THREE_DAYS, 5: _R.FIVE_DAYS, 7: _R.ONE_WEEK, 14: _R.TWO_WEEKS, 30: _R.ONE_MONTH,
    60: _R.TWO_MONTHS, 90: _R.THREE_MONTHS, 120: _R.FOUR_MONTHS, 150: _R.FIVE_MONTHS, 180: _R.SIX_MONTHS,
    365: _R.ONE_YEAR, 400: _R.THIRTEEN_MONTHS, 545: _R.EIGHTEEN_MONTHS, 731: _R.TWO_YEARS,
    1096: _R.THREE_YEARS, 1827: _R.FIVE_YEARS, 2192: _R.SIX_YEARS, 2557: _R.SEVEN_YEARS,
    2922: _R.EIGHT_YEARS, 3288: _R.NINE_YEARS, 3653: _R.TEN_YEARS,
}


CUSTOM_RESOURCE_HANDLER_LOGS = "StackOwnedLogs"


def own_custom_resource_logs(custom_resource: IConstruct, *, provider_type: str, config: AppConfig,
                             key: kms.IKey) -> CfnResource:
    """Give the Lambda behind one of CDK's custom resources a log group the stack owns; return the handler.

    Left alone, Lambda creates /aws/lambda/<fn> on first run: unencrypted, never expiring, and left behind when
    the stack is deleted. The provider is a stack-wide singleton, so its log group (and the suppression of the
    handler's Checkov findings) is created once, next to the handler, and every custom resource using it waits
    for that log group.
    """
    provider = Stack.of(custom_resource).node.try_find_child(provider_type)
    handler = provider.node.try_find_child("Handler") if provider is not None else None
    if not isinstance(provider, Construct) or not isinstance(handler, CfnResource):  # pragma: no cover - CDK moved
        raise RuntimeError(f"CDK's {provider_type} handler was not found; update constructs/logs.py")
    group = provider.node.try_find_child(CUSTOM_RESOURCE_HANDLER_LOGS)
    if group is None:
        group = encrypted_log_group(provider, CUSTOM_RESOURCE_HANDLER_LOGS, config=config, key=key,
                                    name=Fn.join("", ["/aws/lambda/", handler.ref]))
        suppress(handler, "STK-DEV-010", checkov=["CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"])
    custom_resource.node.add_dependency(group)
    return handler
