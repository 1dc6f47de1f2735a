"""The local deployers' registry: a deployer creates one CloudFormation resource type in the emulator through its
service's API, from the template's resolved properties, and answers what CloudFormation would (the Ref value and
the GetAtt attributes). Each module of localenv.deployers registers the types of one AWS service with @deployer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from cdk_app.config import AppConfig


class DeployContext(Protocol):
    """What a deployer uses of the deployment (localenv.deploy.Deployer): the emulator's clients, the stack's
    name, the app's configuration and the account the emulator answers for."""

    stack_name: str
    config: AppConfig
    account: str

    def client(self, service: str) -> Any: ...


# (the deployment, the logical id, the resolved properties) -> (the Ref value, the GetAtt attributes)
Deploy = Callable[[DeployContext, str, dict], tuple[str, dict]]

DEPLOYERS: dict[str, Deploy] = {}


def deployer(resource_type: str) -> Callable[[Deploy], Deploy]:
    """Register the decorated function as the deployer of `resource_type` (one per type)."""
    def register(fn: Deploy) -> Deploy:
        if resource_type in DEPLOYERS:
            first = DEPLOYERS[resource_type]
            raise ValueError(f"{resource_type} has two deployers: {first.__module__}.{first.__qualname__} and "
                             f"{fn.__module__}.{fn.__qualname__}")
        DEPLOYERS[resource_type] = fn
        return fn
    return register


def tags(props: Mapping[str, Any], key: str = "Tags") -> list[dict[str, str]]:
    """The template's tags as the Key/Value list most APIs take (values as strings)."""
    return [{"Key": t["Key"], "Value": str(t["Value"])} for t in props.get(key, []) or []]


def tag_map(props: Mapping[str, Any], key: str = "Tags") -> dict[str, str]:
    """The template's tags as the {key: value} map some APIs take (SQS, Lambda, API Gateway, Logs)."""
    return {t["Key"]: t["Value"] for t in tags(props, key)}
