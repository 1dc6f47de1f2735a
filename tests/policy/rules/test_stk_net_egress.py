"""The cases of platform_spec/rules/stk_net_egress.py (STK-NET-005), run by the shared tests (tests/policy/fixtures.py
gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import by_name, props
from tests.policy.templates import guarded_group, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-NET-005": {"pass": template(guarded_group()),
                    "fail": template(guarded_group({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                                    "CidrIp": "0.0.0.0/0"}))},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "db-egress-to-the-world": (lambda t: by_name(t, "AWS::EC2::SecurityGroup", "GroupName", "rds-sg-test")[
        "SecurityGroupEgress"].append({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}),
        "STK-NET-005"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-NET-005", "egress to the world", lambda p: props(p, "AWS::EC2::SecurityGroup", GroupName="rds-sg-test")
     .setdefault("SecurityGroupEgress", []).append({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                                    "CidrIp": "0.0.0.0/0"})),
]
