"""The secrets' live checks on plain data (platform_spec.rules.stk_secret_live): a secret as Secrets Manager's
DescribeSecret answers it, judged at a given time. `opscli rotate-check secrets` runs them on a deployment
(tests/opscli/test_core.py, tests/integration/test_residency_stores.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from platform_spec.result import Status
from platform_spec.rules import stk_secret_live

SECRET = {"ARN": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-fx-AbCdEf", "Name": "db-fx"}
NOW = datetime(2026, 12, 6, tzinfo=UTC)


def test_a_secret_scheduled_for_deletion_fails_naming_the_date():
    """STK-SECRET-008: a secret scheduled for deletion fails, naming the day it goes."""
    deleted = {**SECRET, "DeletedDate": NOW + timedelta(days=7)}
    result = stk_secret_live.secret_not_scheduled_for_deletion(deleted, NOW)
    assert result.status is Status.FAIL and "scheduled for deletion on 2026-12-13 (in 7 day(s))" in result.reason
    assert stk_secret_live.secret_not_scheduled_for_deletion(SECRET, NOW).status is Status.PASS


@pytest.mark.parametrize(("rules", "extra", "status"), [
    ({"AutomaticallyAfterDays": 30}, {}, Status.PASS),
    ({"AutomaticallyAfterDays": 365}, {}, Status.FAIL),
    ({"ScheduleExpression": "rate(10 days)"}, {}, Status.PASS),
    ({"ScheduleExpression": "rate(2160 hours)"}, {}, Status.FAIL),  # 90 days > 30
    ({"ScheduleExpression": "cron(0 0 1 */6 ? *)"}, {"NextRotationDate": "+180"}, Status.FAIL),
    ({"ScheduleExpression": "cron(0 0 * * ? *)"}, {"NextRotationDate": "+1"}, Status.PASS),
])
def test_a_rotation_schedule_longer_than_the_policy_fails(rules, extra, status):
    """STK-SECRET-004: a schedule stretched past the allowed age fails before the age itself runs out."""
    now = datetime(2026, 12, 4, tzinfo=UTC)
    last = now - timedelta(days=1)
    secret = {"RotationRules": rules, "LastRotatedDate": last, "NextRotationDate": now + timedelta(days=5)}
    if "NextRotationDate" in extra:
        secret["NextRotationDate"] = last + timedelta(days=int(extra["NextRotationDate"]))
    assert stk_secret_live.secret_rotation_age(secret, now, 30).status is status
