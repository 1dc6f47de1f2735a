"""STK-EFS-001: the EFS file system policy denies every request made without TLS."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from platform_spec.intrinsics import ref_target
from platform_spec.result import Result
from platform_spec.rule import live_rule, plain_rule, stack_rule
from platform_spec.rules import tls_policy
from platform_spec.rules.topology import ROUTING, private_subnets

RULE_ID = "STK-EFS-001"
MOUNT_TARGETS_ID = "STK-EFS-002"
TYPE = "AWS::EFS::FileSystem"


CLIENT_ACTIONS = ("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite",
                  "elasticfilesystem:ClientRootAccess")


def denies_insecure_transport(policy: Any) -> bool:
    """True when some statement denies all principals all (client) actions when aws:SecureTransport is false."""
    return tls_policy.denies_insecure_transport(policy, "elasticfilesystem", CLIENT_ACTIONS)


def check(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != TYPE:
        return Result.na()
    if denies_insecure_transport(properties.get("FileSystemPolicy")):
        return Result.ok("file system policy denies non-TLS access")
    return Result.fail("FileSystemPolicy has no Deny for aws:SecureTransport=false: clients may mount without TLS")


plain_rule(RULE_ID, {TYPE}, check)


def check_mount_targets(resources: Mapping[str, Any]) -> Iterable[tuple[str, Result]]:
    """STK-EFS-002 over the whole template: every file system has a mount target in every private subnet."""
    private = private_subnets(resources)
    mount_subnets: dict[str | None, set[str | None]] = {}
    groups: dict[str | None, Any] = {}  # a file system's mount targets' security groups (for the ones missing)
    for resource in resources.values():
        if resource.get("Type") == "AWS::EFS::MountTarget":
            props = resource.get("Properties", {}) or {}
            file_system = ref_target(props.get("FileSystemId"))
            mount_subnets.setdefault(file_system, set()).add(ref_target(props.get("SubnetId")))
            groups.setdefault(file_system, props.get("SecurityGroups"))
    for lid, resource in resources.items():
        if resource.get("Type") == TYPE:
            missing = sorted(private - mount_subnets.get(lid, set()))
            yield lid, (Result.fail(f"no mount target in private subnets {', '.join(missing)}",
                                    subnets=[{"Ref": subnet} for subnet in missing],
                                    **({"security_groups": groups[lid]} if groups.get(lid) else {})) if missing
                        else Result.ok(f"mount targets in all {len(private)} private subnets"))


stack_rule(MOUNT_TARGETS_ID, ROUTING | {"AWS::EFS::MountTarget"}, check_mount_targets)


def mount_target_available(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-EFS-002 (live half): a declared mount target is available, so tasks in its AZ can mount."""
    if facts["LifeCycleState"] != "available":
        return Result.fail(f"mount target in {facts['AvailabilityZoneName']} is {facts['LifeCycleState']}")
    return Result.ok(f"available in {facts['AvailabilityZoneName']}")


live_rule(MOUNT_TARGETS_ID, "efs.mount_target_available", "AWS::EFS::MountTarget",
          ("LifeCycleState", "AvailabilityZoneName"), mount_target_available)
