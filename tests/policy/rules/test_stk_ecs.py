"""The cases of platform_spec/rules/stk_ecs.py (STK-ECS-001, STK-ECS-002, STK-ECS-003), run by the shared tests
(tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import efs_volume, props
from tests.policy.templates import cluster, service, task_definition, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-ECS-001": {"pass": template({"Task": task_definition()}),
                    "fail": template({"Task": task_definition(iam="DISABLED")})},
    "STK-ECS-002": {"pass": template(service(2)), "fail": template(service(1))},
    "STK-ECS-003": {"pass": template({"Cluster": cluster("enabled")}),
                    "fail": template({"Cluster": cluster("disabled")})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "efs-mount-without-tls": (lambda t: efs_volume(t).update(TransitEncryption="DISABLED"), "STK-ECS-001"),
    "service-one-task": (lambda t: props(t, "AWS::ECS::Service").update(DesiredCount=1), "STK-ECS-002"),
    "insights-off": (lambda t: props(t, "AWS::ECS::Cluster").update(
        ClusterSettings=[{"Name": "containerInsights", "Value": "disabled"}]), "STK-ECS-003"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-ECS-002", "one task, public IP", lambda p: props(p, "AWS::ECS::Service").update(
        DesiredCount=1, NetworkConfiguration={"AwsvpcConfiguration": {"AssignPublicIp": "ENABLED"}})),
    ("STK-ECS-003", "no insights", lambda p: props(p, "AWS::ECS::Cluster").update(
        ClusterSettings=[{"Name": "containerInsights", "Value": "disabled"}])),
]
