"""The cases of platform_spec/rules/stk_iam_trust.py (STK-IAM-002), run by the shared tests
(tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props, statements
from tests.policy.templates import role, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-IAM-002": {"pass": template({"Role": role({"Service": "ecs-tasks.amazonaws.com"})}),
                    "fail": template({"Role": role({"Service": "ecs-tasks.amazonaws.com"},
                                                   {"AWS": "arn:aws:iam::999999999999:root"})})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "role-trusts-everyone": (lambda t: props(t, "AWS::IAM::Role")["AssumeRolePolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}), "STK-IAM-002"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-IAM-002", "trusts everyone", lambda p: statements(props(p, "AWS::IAM::Role"), "AssumeRolePolicyDocument")
     .append({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})),
]
