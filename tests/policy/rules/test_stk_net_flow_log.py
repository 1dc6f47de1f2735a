"""The cases of platform_spec/rules/stk_net_flow_log.py (STK-NET-003), run by the shared tests (tests/policy/fixtures.py
gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import drop
from tests.policy.templates import logged_vpc, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-NET-003": {"pass": template(logged_vpc("ALL")), "fail": template(logged_vpc("REJECT"))},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "flow-log-removed": (lambda t: drop(t, "AWS::EC2::FlowLog"), "STK-NET-003"),
}
