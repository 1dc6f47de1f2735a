"""STK-DESTROY-001/002: nothing is retained or snapshotted, and deletion protection is off."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import as_list, is_true
from platform_spec.result import Result
from platform_spec.rule import stack_rule

POLICY_RULE_ID = "STK-DESTROY-001"
PROTECTION_RULE_ID = "STK-DESTROY-002"

BLOCKING_POLICIES = {"Retain", "RetainExceptOnCreate", "Snapshot"}
# CloudFormation snapshots these when no DeletionPolicy is given, so an explicit Delete is required.
SNAPSHOT_BY_DEFAULT = {"AWS::RDS::DBInstance", "AWS::RDS::DBCluster"}


def check_policies(resource: Mapping[str, Any]) -> Result:
    """Judge a whole template resource entry (Type, Properties, DeletionPolicy, UpdateReplacePolicy)."""
    for attr in ("DeletionPolicy", "UpdateReplacePolicy"):
        policy = resource.get(attr)
        if policy in BLOCKING_POLICIES:
            return Result.fail(f"{attr} is {policy}; the resource would outlive the stack")
    if resource.get("Type") in SNAPSHOT_BY_DEFAULT and resource.get("DeletionPolicy") != "Delete":
        return Result.fail("DeletionPolicy is not Delete; CloudFormation snapshots this type by default")
    return Result.ok("deleted with the stack")


def protection_settings(resource_type: str, properties: Mapping[str, Any]) -> list[str]:
    """The deletion-protection settings that are on for this resource (property paths)."""
    found: list[str] = []
    for prop in ("DeletionProtection", "DeletionProtectionEnabled", "DisableApiTermination"):
        if is_true(properties.get(prop)):
            found.append(prop)
    if resource_type == "AWS::ElasticLoadBalancingV2::LoadBalancer":
        for attr in as_list(properties.get("LoadBalancerAttributes")):
            if (isinstance(attr, dict) and attr.get("Key") == "deletion_protection.enabled"
                    and is_true(attr.get("Value"))):
                found.append("LoadBalancerAttributes.deletion_protection.enabled")
    return found


def check_protection(resource_type: str, properties: Mapping[str, Any]) -> Result:
    found = protection_settings(resource_type, properties)
    if found:
        return Result.fail(f"deletion protection is on ({', '.join(found)}); stack deletion would fail")
    return Result.ok("no deletion protection")


def _every_resource(check):
    return lambda resources: [(lid, check(resource)) for lid, resource in resources.items()]


# The resource's own attributes (DeletionPolicy) and properties: Checkov strips DeletionPolicy, so the whole
# template is the engine's; nothing else is read.
stack_rule(POLICY_RULE_ID, (), _every_resource(check_policies))
stack_rule(PROTECTION_RULE_ID, (), _every_resource(lambda r: check_protection(r.get("Type", ""),
                                                                            r.get("Properties", {}) or {})))
