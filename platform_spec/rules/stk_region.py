"""STK-REGION-001: the stack's region is ap-northeast-1, concretely (not a deploy-time token)."""

from __future__ import annotations

from platform_spec.result import Result
from platform_spec.stacks import ALLOWED_REGION

RULE_ID = "STK-REGION-001"


def check(region: str | None) -> Result:
    if region is None or region.startswith("${Token") or region == "":
        return Result.fail(f"region is not fixed at synthesis; set env region {ALLOWED_REGION}")
    if region != ALLOWED_REGION:
        return Result.fail(f"region '{region}' is outside Japan; only {ALLOWED_REGION} is allowed")
    return Result.ok(f"region is {ALLOWED_REGION}")
