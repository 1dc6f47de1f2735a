"""The cases of platform_spec/rules/stk_api_auth.py (STK-API-004), run by the shared tests (tests/policy/fixtures.py
gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props
from tests.policy.templates import method, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-API-004": {"pass": template({"Method": method("HTTP_PROXY")}),
                    "fail": template({"Method": {**method("HTTP_PROXY"), "Properties": {
                        **method("HTTP_PROXY")["Properties"], "ApiKeyRequired": False}}})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "open-method": (lambda t: props(t, "AWS::ApiGateway::Method").update(ApiKeyRequired=False), "STK-API-004"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-API-004", "open method", lambda p: props(p, "AWS::ApiGateway::Method").update(ApiKeyRequired=False)),
]
