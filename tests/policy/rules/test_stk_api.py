"""The cases of platform_spec/rules/stk_api.py (STK-API-001, STK-API-002, STK-API-003, STK-API-006), run by the
shared tests (tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props
from tests.policy.templates import cached_stage, method, rest_api, stage, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-API-001": {"pass": template({"Api": rest_api("REGIONAL")}), "fail": template({"Api": rest_api("EDGE")})},
    "STK-API-002": {"pass": template({"Stage": stage(True)}), "fail": template({"Stage": stage(False)})},
    "STK-API-003": {"pass": template({"Method": method("HTTP_PROXY")}), "fail": template({"Method": method("MOCK")})},
    "STK-API-006": {"pass": template({"Stage": cached_stage(encrypted=True)}),
                    "fail": template({"Stage": cached_stage(encrypted=False)})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "api-edge": (lambda t: props(t, "AWS::ApiGateway::RestApi").update(EndpointConfiguration={"Types": ["EDGE"]}),
                 "STK-API-001"),
    "api-tracing-off": (lambda t: props(t, "AWS::ApiGateway::Stage").update(TracingEnabled=False), "STK-API-002"),
    "api-mock": (lambda t: props(t, "AWS::ApiGateway::Method").update(Integration={"Type": "MOCK"}), "STK-API-003"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-API-001", "edge", lambda p: props(p, "AWS::ApiGateway::RestApi").update(
        EndpointConfiguration={"Types": ["EDGE"]})),
    ("STK-API-002", "no tracing", lambda p: props(p, "AWS::ApiGateway::Stage").update(TracingEnabled=False)),
    ("STK-API-006", "plain cache", lambda p: props(p, "AWS::ApiGateway::Stage").update(MethodSettings=[
        {"HttpMethod": "*", "ResourcePath": "/*", "CachingEnabled": True, "CacheDataEncrypted": False}])),
]
