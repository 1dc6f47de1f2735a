"""Deployers of the ECS cluster, task definitions and services (CloudFormation's PascalCase to the ECS API's
camelCase)."""

from __future__ import annotations

from typing import Any

from localenv.deployers.base import DeployContext, deployer, tags


@deployer("AWS::ECS::Cluster")
def ecs_cluster(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    cluster = ctx.client("ecs").create_cluster(
        clusterName=p["ClusterName"], settings=_camel(p.get("ClusterSettings", [])),
        tags=[{"key": t["Key"], "value": t["Value"]} for t in tags(p)])["cluster"]
    return cluster["clusterName"], {"Arn": cluster["clusterArn"]}


@deployer("AWS::ECS::TaskDefinition")
def task_definition(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    args = {k[:1].lower() + k[1:]: v for k, v in p.items() if k not in ("Tags", "ContainerDefinitions", "Volumes")}
    args["containerDefinitions"] = _camel(p["ContainerDefinitions"])
    args["volumes"] = _camel(p.get("Volumes", []))
    args["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in tags(p)]
    args["runtimePlatform"] = _camel(args.get("runtimePlatform", {}))
    arn = ctx.client("ecs").register_task_definition(**args)["taskDefinition"]["taskDefinitionArn"]
    return arn, {"TaskDefinitionArn": arn}


@deployer("AWS::ECS::Service")
def ecs_service(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    args = {"cluster": p["Cluster"], "serviceName": p["ServiceName"], "taskDefinition": p["TaskDefinition"],
            "desiredCount": int(p.get("DesiredCount", 1)), "launchType": p.get("LaunchType", "FARGATE"),
            "networkConfiguration": _camel(p.get("NetworkConfiguration", {})),
            "tags": [{"key": t["Key"], "value": t["Value"]} for t in tags(p)]}
    for key in ("PropagateTags", "EnableECSManagedTags", "EnableExecuteCommand", "PlatformVersion",
                "HealthCheckGracePeriodSeconds", "DeploymentConfiguration", "LoadBalancers"):
        if key in p:
            args[key[:1].lower() + key[1:]] = _camel(p[key])
    service = ctx.client("ecs").create_service(**args)["service"]
    return service["serviceArn"], {"Name": service["serviceName"], "ServiceArn": service["serviceArn"]}


def _camel(value: Any, *, keep: frozenset[str] = frozenset({"Options"})) -> Any:
    """CloudFormation PascalCase keys to the ECS API's camelCase, recursively (map-valued keys kept)."""
    special = {"IAM": "iam", "EFSVolumeConfiguration": "efsVolumeConfiguration", "FilesystemId": "fileSystemId",
               "ValueFrom": "valueFrom", "CpuArchitecture": "cpuArchitecture"}
    if isinstance(value, list):
        return [_camel(v, keep=keep) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = special.get(k, k[:1].lower() + k[1:])
            out[key] = v if k in keep else _camel(v, keep=keep)
        return out
    return value
