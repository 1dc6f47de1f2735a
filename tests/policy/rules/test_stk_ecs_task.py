"""The cases of platform_spec/rules/stk_ecs_task.py (STK-ECS-004, STK-ECS-005), run by the shared tests
(tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props
from tests.policy.templates import hardened_task, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-ECS-004": {"pass": template({"Task": hardened_task()}),
                    "fail": template({"Task": hardened_task(Privileged=True)})},
    "STK-ECS-005": {"pass": template({"Task": hardened_task()}),
                    "fail": template({"Task": hardened_task(ReadonlyRootFilesystem=False)})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "privileged-container": (lambda t: props(t, "AWS::ECS::TaskDefinition")["ContainerDefinitions"][0].update(
        Privileged=True), "STK-ECS-004"),
    "writable-root": (lambda t: props(t, "AWS::ECS::TaskDefinition")["ContainerDefinitions"][0].update(
        ReadonlyRootFilesystem=False), "STK-ECS-005"),
}
