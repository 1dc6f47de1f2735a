"""STK-ECS-001/002/003: encrypted IAM-authorized EFS mounts, HA services, Container Insights."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, as_list, ref_target
from platform_spec.result import Result
from platform_spec.rule import live_rule, plain_rule, stack_rule

EFS_ID = "STK-ECS-001"
SERVICE_ID = "STK-ECS-002"
INSIGHTS_ID = "STK-ECS-003"


def check_efs_volumes(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != "AWS::ECS::TaskDefinition":
        return Result.na()
    volumes = [v for v in as_list(properties.get("Volumes"))
               if isinstance(v, Mapping) and "EFSVolumeConfiguration" in v]
    if not volumes:
        return Result.na("no EFS volumes")
    for volume in volumes:
        config = as_dict(volume["EFSVolumeConfiguration"])
        name = volume.get("Name", "?")
        if config.get("TransitEncryption") != "ENABLED":
            return Result.fail(f"volume '{name}' mounts EFS without transit encryption")
        if as_dict(config.get("AuthorizationConfig")).get("IAM") != "ENABLED":
            return Result.fail(f"volume '{name}' mounts EFS without IAM authorization")
    return Result.ok("EFS volumes use TLS and IAM authorization")


def check_service(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != "AWS::ECS::Service":
        return Result.na()
    problems, evidence = [], {}
    desired = properties.get("DesiredCount", 1)
    if not isinstance(desired, int) or desired < 2:
        problems.append(f"DesiredCount is {desired!r}; at least 2 tasks are required")
        evidence["desired_count"] = desired
    network = as_dict(as_dict(properties.get("NetworkConfiguration")).get("AwsvpcConfiguration"))
    if network.get("AssignPublicIp") == "ENABLED":
        problems.append("tasks get public IP addresses")
        evidence["public_ip"] = True
    return Result.fail("; ".join(problems), **evidence) if problems else Result.ok(f"{desired} tasks, private")


def check_container_insights(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != "AWS::ECS::Cluster":
        return Result.na()
    for setting in as_list(properties.get("ClusterSettings")):
        setting = as_dict(setting)
        if setting.get("Name") == "containerInsights" and setting.get("Value") in ("enabled", "enhanced"):
            return Result.ok(f"Container Insights {setting['Value']}")
    return Result.fail("Container Insights is not enabled")


plain_rule(EFS_ID, {"AWS::ECS::TaskDefinition"}, check_efs_volumes)
plain_rule(SERVICE_ID, {"AWS::ECS::Service"}, check_service)
plain_rule(INSIGHTS_ID, {"AWS::ECS::Cluster"}, check_container_insights)


def check_scaled(resources: Mapping[str, Any]) -> Iterable[tuple[str, Result]]:
    """STK-ECS-002 over the whole template: every service has an Application Auto Scaling target."""
    scaled = set()
    for resource in resources.values():
        if resource.get("Type") == "AWS::ApplicationAutoScaling::ScalableTarget":
            resource_id = (resource.get("Properties") or {}).get("ResourceId")
            parts = resource_id.get("Fn::Join", ["", []])[1] if isinstance(resource_id, dict) else []
            scaled |= {ref_target(part) for part in parts}
    for lid, resource in resources.items():
        if resource.get("Type") == "AWS::ECS::Service":
            yield lid, (Result.ok("auto scaling registered") if lid in scaled
                        else Result.fail("no Application Auto Scaling target for this service"))


stack_rule(SERVICE_ID, {"AWS::ApplicationAutoScaling::ScalableTarget"}, check_scaled)


def tasks_running(props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-ECS-002 (live half): the service is active and runs at least two tasks (its desired count)."""
    desired, running = props.get("DesiredCount"), facts["RunningCount"]
    if facts["Status"] != "ACTIVE":
        return Result.fail(f"service status is {facts['Status']}")
    if not isinstance(desired, int) or running < max(desired, 2):
        return Result.fail(f"{running} of {desired} tasks running; at least 2 are required")
    return Result.ok(f"{running}/{desired} tasks running")


live_rule(SERVICE_ID, "ecs.tasks_running", "AWS::ECS::Service", ("RunningCount", "Status"), tasks_running)
