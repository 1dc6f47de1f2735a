"""STK-API-004: every API method requires an API key or an authorizer.

The metadata API serves StreamTech's clients only; a method with AuthorizationType NONE and no API key is open
to anyone who finds the URL, and its throttling is then the whole account's. A method added later (a debug
route, a second stage's method) is where this breaks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, is_true
from platform_spec.result import Result
from platform_spec.rule import plain_rule

RULE_ID = "STK-API-004"
TYPE = "AWS::ApiGateway::Method"


def check(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != TYPE:
        return Result.na()
    method = properties.get("HttpMethod", "?")
    authorization = str(properties.get("AuthorizationType") or "NONE").upper()
    if authorization != "NONE":
        return Result.ok(f"{method} is authorized by {authorization}")
    if is_true(properties.get("ApiKeyRequired")):
        return Result.ok(f"{method} requires an API key")
    integration = str(as_dict(properties.get("Integration")).get("Type", "")).upper()
    if str(method).upper() == "OPTIONS" and integration == "MOCK":
        return Result.ok("OPTIONS answered by a mock integration (CORS preflight)")
    return Result.fail(f"{method} requires neither an API key nor an authorizer: anyone can call it")


plain_rule(RULE_ID, {TYPE}, check)
