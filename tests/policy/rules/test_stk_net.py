"""The cases of platform_spec/rules/stk_net.py (STK-NET-002), run by the shared tests (tests/policy/fixtures.py
gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props
from tests.policy.templates import security_group, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-NET-002": {"pass": template({"Sg": security_group({"IpProtocol": "tcp", "FromPort": 5433, "ToPort": 5433,
                                                            "SourceSecurityGroupId": "sg-worker"})}),
                    "fail": template({"Sg": security_group({"IpProtocol": "tcp", "FromPort": 5433, "ToPort": 5433,
                                                            "CidrIp": "0.0.0.0/0"})})},
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-NET-002", "group open", lambda p: props(p, "AWS::EC2::SecurityGroup", GroupName="rds-sg-test")
     .setdefault("SecurityGroupIngress", []).append({"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                                                     "CidrIp": "0.0.0.0/0"})),
    ("STK-NET-002", "ingress rule open", lambda p: props(p, "AWS::EC2::SecurityGroupIngress").update(
        CidrIpv6="::/0", IpProtocol="-1")),
]
