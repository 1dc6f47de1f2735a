"""The cases of platform_spec/rules/stk_waf.py (STK-WAF-001), run by the shared tests
(tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import every_rule_counts, props
from tests.policy.templates import template, web_acl

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-WAF-001": {"pass": template({"Acl": web_acl()}), "fail": template({"Acl": web_acl(rules=False)})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "web-acl-without-rules": (lambda t: props(t, "AWS::WAFv2::WebACL").update(Rules=[]), "STK-WAF-001"),
    "web-acl-rules-all-count": (lambda t: every_rule_counts(props(t, "AWS::WAFv2::WebACL")), "STK-WAF-001"),
}
