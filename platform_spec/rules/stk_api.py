"""STK-API-001/002/003/006: regional endpoint, access logs and tracing, real integrations, an encrypted cache."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, as_list
from platform_spec.result import Result
from platform_spec.rule import plain_rule

REGIONAL_ID = "STK-API-001"
LOGGING_ID = "STK-API-002"
INTEGRATION_ID = "STK-API-003"
CACHE_ID = "STK-API-006"


def check_regional(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != "AWS::ApiGateway::RestApi":
        return Result.na()
    types = [str(t) for t in as_list(as_dict(properties.get("EndpointConfiguration")).get("Types"))] or ["EDGE"]
    if "EDGE" in types:
        return Result.fail("the endpoint is edge-optimized (the default): requests route through CloudFront outside "
                           "Japan")
    return Result.ok(f"endpoint type {', '.join(types)}")


def check_stage_logging(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != "AWS::ApiGateway::Stage":
        return Result.na()
    problems = []
    if not as_dict(properties.get("AccessLogSetting")).get("DestinationArn"):
        problems.append("no access log destination")
    if properties.get("TracingEnabled") is not True:
        problems.append("X-Ray tracing is off")
    return Result.fail("; ".join(problems)) if problems else Result.ok("access logs and tracing on")


def check_integration(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != "AWS::ApiGateway::Method":
        return Result.na()
    if properties.get("HttpMethod") == "OPTIONS":
        return Result.na("CORS preflight methods may be MOCK")
    kind = as_dict(properties.get("Integration")).get("Type")
    if kind in (None, "MOCK"):
        return Result.fail(f"integration type is {kind or 'missing'}: the method serves no backend data")
    return Result.ok(f"integration type {kind}")


def check_cache_encrypted(resource_type: str, properties: Mapping[str, Any]) -> Result:
    """A stage's method settings that cache responses encrypt what they cache: the cache holds metadata answers
    outside the data stores' CMK and TLS (Security Hub APIGateway.5). A stage without caching passes."""
    if resource_type != "AWS::ApiGateway::Stage":
        return Result.na()
    plain = [f"{as_dict(s).get('HttpMethod', '*')} {as_dict(s).get('ResourcePath', '/*')}"
             for s in as_list(properties.get("MethodSettings"))
             if _true(as_dict(s).get("CachingEnabled")) and not _true(as_dict(s).get("CacheDataEncrypted"))]
    if plain:
        return Result.fail(f"caching without encryption for {', '.join(plain[:4])}{', ...' if len(plain) > 4 else ''}")
    cached = any(_true(as_dict(s).get("CachingEnabled")) for s in as_list(properties.get("MethodSettings")))
    return Result.ok("every cached method setting encrypts its cache" if cached else "no method caches")


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


plain_rule(REGIONAL_ID, {"AWS::ApiGateway::RestApi"}, check_regional)
plain_rule(LOGGING_ID, {"AWS::ApiGateway::Stage"}, check_stage_logging)
plain_rule(INTEGRATION_ID, {"AWS::ApiGateway::Method"}, check_integration)
plain_rule(CACHE_ID, {"AWS::ApiGateway::Stage"}, check_cache_encrypted)
