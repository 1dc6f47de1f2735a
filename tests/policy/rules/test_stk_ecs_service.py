"""The cases of platform_spec/rules/stk_ecs_service.py (STK-ECS-006), run by the shared tests
(tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props
from tests.policy.templates import service_with, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-ECS-006": {"pass": template(service_with()),
                    "fail": template(service_with(EnableExecuteCommand=True))},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "ecs-exec-on": (lambda t: props(t, "AWS::ECS::Service").update(EnableExecuteCommand=True), "STK-ECS-006"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-ECS-006", "ECS Exec on", lambda p: props(p, "AWS::ECS::Service").update(EnableExecuteCommand=True)),
]
