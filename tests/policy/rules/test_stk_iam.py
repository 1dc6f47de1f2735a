"""The cases of platform_spec/rules/stk_iam.py (STK-IAM-001), run by the shared tests (tests/policy/fixtures.py
gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props, statements
from tests.policy.templates import iam_policy, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-IAM-001": {"pass": template({"Policy": iam_policy("s3:GetObject")}),
                    "fail": template({"Policy": iam_policy("*")})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "iam-star": (lambda t: props(t, "AWS::IAM::Policy")["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "*", "Resource": "*"}), "STK-IAM-001"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-IAM-001", "star in a policy", lambda p: statements(props(p, "AWS::IAM::Policy"), "PolicyDocument").append(
        {"Effect": "Allow", "Action": "*", "Resource": "*"})),
    ("STK-IAM-001", "admin attached", lambda p: props(p, "AWS::IAM::Role").setdefault("ManagedPolicyArns", []).append(
        "arn:aws:iam::aws:policy/AdministratorAccess")),
]
