"""The cases of platform_spec/rules/stk_api_waf.py (STK-API-005), run by the shared tests (tests/policy/fixtures.py
gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import drop, drop_first
from tests.policy.templates import guarded_stage, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-API-005": {"pass": template(guarded_stage(True)), "fail": template(guarded_stage(False))},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "waf-association-removed": (lambda t: drop(t, "AWS::WAFv2::WebACLAssociation"), "STK-API-005"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-API-005", "no web ACL", lambda p: drop_first(p, "AWS::WAFv2::WebACLAssociation")),
]
