"""The cases of platform_spec/rules/stk_net_public.py (STK-NET-001), run by the shared tests (tests/policy/fixtures.py
gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props, public_subnet_id
from tests.policy.templates import db, params, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-NET-001": {"pass": template({"Params": params(), "Db": db()}),
                    "fail": template({"Params": params(), "Db": db(PubliclyAccessible=True)})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "rds-public": (lambda t: props(t, "AWS::RDS::DBInstance").update(PubliclyAccessible=True), "STK-NET-001"),
    "db-in-public-subnet": (lambda t: props(t, "AWS::RDS::DBSubnetGroup")["SubnetIds"].append(
        {"Ref": public_subnet_id(t)}), "STK-NET-001"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-NET-001", "public database", lambda p: props(p, "AWS::RDS::DBInstance").update(PubliclyAccessible=True)),
]
