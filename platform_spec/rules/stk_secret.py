"""STK-SECRET-001/002: no created or modified secrets; no credentials in plain container environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import as_list, render
from platform_spec.result import Result
from platform_spec.rule import plain_rule, resource_rule

CREATED_RULE_ID = "STK-SECRET-001"
ENV_RULE_ID = "STK-SECRET-002"

# Types that create a secret or write into an existing one.
SECRET_WRITING_TYPES = {
    "AWS::SecretsManager::Secret": "creates a secret",
    "AWS::SecretsManager::SecretTargetAttachment": "writes connection details into an existing secret",
    "AWS::SecretsManager::RotationSchedule": "changes the rotation of a secret",
    "AWS::SecretsManager::ResourcePolicy": "changes the resource policy of a secret",
}
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.IGNORECASE)


def check_created(resource_type: str) -> Result:
    what = SECRET_WRITING_TYPES.get(resource_type)
    if what is None:
        return Result.na()
    return Result.fail(f"{resource_type} {what}; import existing secrets by name or ARN instead")


def plain_secret_variables(container_definitions: Any) -> list[str]:
    """`container/VARIABLE` for every environment variable that looks like or carries a credential."""
    found: list[str] = []
    for container in as_list(container_definitions):
        if not isinstance(container, Mapping):
            continue
        cname = render(container.get("Name")) or "?"
        for var in as_list(container.get("Environment")):
            if not isinstance(var, Mapping):
                continue
            name = render(var.get("Name")) or ""
            value = render(var.get("Value")) or ""
            if SECRET_NAME.search(name) or "resolve:secretsmanager" in value or "resolve:ssm-secure" in value:
                found.append(f"{cname}/{name}")
    return found


def check_environment(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != "AWS::ECS::TaskDefinition":
        return Result.na()
    found = plain_secret_variables(properties.get("ContainerDefinitions"))
    if found:
        return Result.fail(f"credential-like plain environment variables {', '.join(found)}; use `secrets`")
    return Result.ok("no credentials in plain environment variables")


resource_rule(CREATED_RULE_ID, SECRET_WRITING_TYPES, lambda t, p, c: check_created(t))
plain_rule(ENV_RULE_ID, {"AWS::ECS::TaskDefinition"}, check_environment)
