"""Encrypted, expiring CloudWatch log groups: the one way the constructs create a log group."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_app.config import AppConfig


def encrypted_log_group(scope: Construct, construct_id: str, *, config: AppConfig, key: kms.IKey,
                        name: str) -> logs.LogGroup:
    """A log group named `name`, encrypted with the project CMK, with the configured retention, deleted with the stack."""
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
