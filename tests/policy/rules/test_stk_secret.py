"""The cases of platform_spec/rules/stk_secret.py (STK-SECRET-001, STK-SECRET-002), run by the shared tests
(tests/policy/fixtures.py gathers every rule's); and its predicates on plain values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from platform_spec.result import Status
from platform_spec.rules import stk_secret
from tests.policy.mutations import set_env
from tests.policy.templates import log_group, secret, task_definition, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-SECRET-001": {"pass": template({"Logs": log_group()}), "fail": template({"Secret": secret()})},
    "STK-SECRET-002": {"pass": template({"Task": task_definition()}),
                       "fail": template({"Task": task_definition(environment=[{"Name": "DB_PASSWORD",
                                                                               "Value": "x"}])})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "secret-created": (lambda t: t["Resources"].update(Sneaky={"Type": "AWS::SecretsManager::Secret",
                                                              "Properties": {"Name": "sneaky-x"}}), "STK-SECRET-001"),
    "password-in-env": (lambda t: set_env(t, "DB_PASSWORD", "hunter2"), "STK-SECRET-002"),
}


def test_secret_predicates():
    assert stk_secret.check_created("AWS::SecretsManager::Secret").failed
    assert stk_secret.check_created("AWS::SecretsManager::RotationSchedule").failed
    assert stk_secret.check_created("AWS::ECS::Service").status is Status.NOT_APPLICABLE
    td = "AWS::ECS::TaskDefinition"
    clean = {"ContainerDefinitions": [{"Name": "a", "Environment": [{"Name": "DB_HOST", "Value": "x"}]}]}
    leaky = {"ContainerDefinitions": [{"Name": "a", "Environment": [
        {"Name": "REDIS_AUTH_TOKEN", "Value": "x"},
        {"Name": "CONFIG", "Value": "{{resolve:secretsmanager:db:SecretString:password}}"}]}]}
    assert stk_secret.check_environment(td, clean).status is Status.PASS
    result = stk_secret.check_environment(td, leaky)
    assert result.failed and "a/REDIS_AUTH_TOKEN" in result.reason and "a/CONFIG" in result.reason
    assert stk_secret.check_environment("AWS::ECS::Service", leaky).status is Status.NOT_APPLICABLE
