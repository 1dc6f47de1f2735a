"""The cases of platform_spec/rules/stk_iam_escalation.py (STK-IAM-003), run by the shared tests
(tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props, statements
from tests.policy.templates import statement_policy, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-IAM-003": {"pass": template({"Policy": statement_policy(
                        {"Effect": "Allow", "Action": "iam:PassRole",
                         "Resource": "arn:aws:iam::123456789012:role/task-fx"})}),
                    "fail": template({"Policy": statement_policy(
                        {"Effect": "Allow", "Action": ["iam:PassRole", "ecs:RunTask"], "Resource": "*"})})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "pass-any-role": (lambda t: props(t, "AWS::IAM::Policy")["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}), "STK-IAM-003"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-IAM-003", "pass any role", lambda p: statements(props(p, "AWS::IAM::Policy"), "PolicyDocument").append(
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"})),
]
