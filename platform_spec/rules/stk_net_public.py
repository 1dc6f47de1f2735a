"""STK-NET-001: no data store is reachable from the internet by placement: the database is not publicly accessible,
and the subnet groups and mount targets use no public subnet."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from platform_spec.intrinsics import is_true, ref_target
from platform_spec.result import Result
from platform_spec.rule import plain_rule, stack_rule
from platform_spec.rules.topology import ROUTING, public_subnets

PUBLIC_ID = "STK-NET-001"
INSTANCE = "AWS::RDS::DBInstance"


def check_not_public(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != INSTANCE:
        return Result.na()
    if is_true(properties.get("PubliclyAccessible")):
        return Result.fail("PubliclyAccessible is true", publicly_accessible=True)
    return Result.ok("not publicly accessible")


plain_rule(PUBLIC_ID, {INSTANCE}, check_not_public)


def check_private_placement(resources: Mapping[str, Any]) -> Iterable[tuple[str, Result]]:
    """STK-NET-001 over the whole template: subnet groups and mount targets use no public subnet."""
    public = public_subnets(resources)
    for lid, resource in resources.items():
        rtype, props = resource.get("Type", ""), resource.get("Properties", {}) or {}
        if rtype in ("AWS::RDS::DBSubnetGroup", "AWS::ElastiCache::SubnetGroup"):
            exposed = sorted(str(s) for s in {ref_target(s) for s in props.get("SubnetIds", [])} & public)
            yield lid, (Result.fail(f"includes public subnets {', '.join(exposed)}") if exposed
                        else Result.ok("private subnets only"))
        if rtype == "AWS::EFS::MountTarget" and ref_target(props.get("SubnetId")) in public:
            yield lid, Result.fail("mount target in a public subnet")


stack_rule(PUBLIC_ID, ROUTING, check_private_placement)
