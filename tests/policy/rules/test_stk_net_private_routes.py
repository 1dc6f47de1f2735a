"""The cases of platform_spec/rules/stk_net_private_routes.py (STK-NET-004), run by the shared tests
(tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import private_route_to_igw
from tests.policy.templates import private_subnet_routed, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-NET-004": {"pass": template(private_subnet_routed("NatGatewayId", "nat-1")),
                    "fail": template(private_subnet_routed("GatewayId", {"Ref": "Igw"}))},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "private-subnet-to-igw": (lambda t: private_route_to_igw(t), "STK-NET-004"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-NET-004", "private route to the IGW", private_route_to_igw),
]
