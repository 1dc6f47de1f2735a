"""Live-only rules over the existing secrets the stack reads (STK-SECRET-003 to 008, and their residency,
STK-RES-009): rotation, pending versions, last access, key and scheduled deletion. The secrets are not resources
of the stack (it never creates one), so these judge DescribeSecret / ListSecretVersionIds answers as AWS gives
them; opscli never reads a secret's value. Nothing here is registered with platform_spec.rule: `opscli
rotate-check secrets` runs SECRET_CHECKS on each secret the stack reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from platform_spec.result import CouldNotLook, Result
from platform_spec.rules import stk_policy
from platform_spec.rules.stk_res_stores import SECRET_REPLICAS_ID

PENDING_STUCK_AFTER = timedelta(hours=24)
DELETION_ID = "STK-SECRET-008"
# The checks `opscli rotate-check secrets` runs on each secret: (check id, catalog rule id).
SECRET_CHECKS: tuple[tuple[str, str], ...] = (
    ("secret.rotation_enabled", "STK-SECRET-003"), ("secret.rotation_age", "STK-SECRET-004"),
    ("secret.pending", "STK-SECRET-005"), ("secret.last_accessed", "STK-SECRET-006"), ("secret.cmk", "STK-SECRET-007"),
    ("secret.deletion", DELETION_ID), ("secret.replicas", SECRET_REPLICAS_ID),
    ("secret.resource_policy", stk_policy.RULE_ID))

# --- Secrets ------------------------------------------------------------------------------------

def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    raise CouldNotLook(f"expected a timestamp, got {value!r}")


def secret_not_scheduled_for_deletion(secret: Mapping[str, Any], now: datetime) -> Result:
    """STK-SECRET-008: the secret is not scheduled for deletion (DescribeSecret answers DeletedDate only then):
    after that date the password or key it holds is gone, and so is every service that reads it."""
    if secret.get("DeletedDate") is None:
        return Result.ok("not scheduled for deletion")
    when = _utc(secret["DeletedDate"])
    days = -((now - when) // timedelta(days=1))  # whole days left, rounded up
    return Result.fail(f"scheduled for deletion on {when:%Y-%m-%d} " +
                       (f"(in {days} day(s))" if when > now else "(the date has passed)") +
                       ": the services that read it fail once it is gone")


def secret_rotation_enabled(secret: Mapping[str, Any]) -> Result:
    if not secret.get("RotationEnabled"):
        function = secret.get("RotationLambdaARN")  # a function kept from before rotation was turned off
        return Result.fail("rotation is not enabled", **({"rotation_function": function}
                                                         if isinstance(function, str) and function else {}))
    if not secret.get("RotationLambdaARN") and not secret.get("RotationRules", {}).get("ScheduleExpression"):
        return Result.fail("rotation is enabled but no rotation function is configured")
    return Result.ok(f"rotation enabled ({secret.get('RotationLambdaARN', 'managed rotation')})")


def rotation_interval_days(secret: Mapping[str, Any]) -> float | None:
    """How many days the rotation schedule leaves between rotations: AutomaticallyAfterDays, a rate() schedule,
    or (a cron schedule) the gap between the last rotation and the next; None when nothing says."""
    import re

    rules = secret.get("RotationRules") or {}
    if isinstance(rules.get("AutomaticallyAfterDays"), int):
        return float(rules["AutomaticallyAfterDays"])
    rate = re.fullmatch(r"rate\((\d+) (minutes?|hours?|days?)\)", str(rules.get("ScheduleExpression", "")).strip())
    if rate:
        per_day = {"minute": 1440, "hour": 24, "day": 1}[rate.group(2).rstrip("s")]
        return int(rate.group(1)) / per_day
    if secret.get("LastRotatedDate") and secret.get("NextRotationDate"):
        return (_utc(secret["NextRotationDate"]) - _utc(secret["LastRotatedDate"])).total_seconds() / 86400
    return None


def secret_rotation_age(secret: Mapping[str, Any], now: datetime, max_age_days: int) -> Result:
    interval = rotation_interval_days(secret)
    if interval is not None and interval > max_age_days:
        return Result.fail(f"rotation is scheduled every {interval:g} days; at most {max_age_days} allowed",
                           schedule_too_long=True, max_age_days=max_age_days)
    last = secret.get("LastRotatedDate")
    if last is None:
        return Result.fail("never rotated")
    age = now - _utc(last)
    if age > timedelta(days=max_age_days):
        return Result.fail(f"last rotated {age.days} days ago; at most {max_age_days} allowed")
    upcoming = secret.get("NextRotationDate")
    if upcoming is None:
        return Result.fail(f"rotated {age.days} days ago but no next rotation is scheduled")
    if _utc(upcoming) < now:
        return Result.fail(f"next rotation was due {_utc(upcoming):%Y-%m-%d} and has not happened")
    return Result.ok(f"rotated {age.days} days ago; next {_utc(upcoming):%Y-%m-%d}")


def secret_pending_versions(versions: Sequence[Mapping[str, Any]], now: datetime) -> Result:
    for version in versions:
        stages = version.get("VersionStages", [])
        if "AWSPENDING" in stages and "AWSCURRENT" not in stages:
            created = version.get("CreatedDate")
            if created is None or now - _utc(created) > PENDING_STUCK_AFTER:
                return Result.fail(f"version {version.get('VersionId', '?')} stuck in AWSPENDING "
                                   f"(a rotation did not finish)",
                                   **({"version": version["VersionId"]} if version.get("VersionId") else {}))
    return Result.ok("no version stuck in AWSPENDING")


def secret_last_accessed(secret: Mapping[str, Any], now: datetime, max_age_days: int,
                         versions: Sequence[Mapping[str, Any]] = ()) -> Result:
    """Latest access of the secret or any of its versions (AWS records both, at day granularity)."""
    dates = [_utc(d) for d in [secret.get("LastAccessedDate"), *(v.get("LastAccessedDate") for v in versions)] if d]
    accessed = max(dates) if dates else None
    if accessed is None:
        return Result.fail("never accessed: the secret may be unused")
    age = now - _utc(accessed)
    if age > timedelta(days=max_age_days):
        return Result.fail(f"last accessed {age.days} days ago: the secret may be unused")
    return Result.ok(f"accessed {age.days} day(s) ago")


def secret_cmk(secret: Mapping[str, Any], key_manager: str | None) -> Result:
    if not secret.get("KmsKeyId"):
        return Result.fail("encrypted with the AWS-managed key aws/secretsmanager")
    if key_manager != "CUSTOMER":
        return Result.fail(f"key {secret['KmsKeyId']} is {key_manager or 'not'} customer-managed")
    return Result.ok("encrypted with a customer-managed key")
