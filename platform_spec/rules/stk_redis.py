"""STK-REDIS-001/002: Redis replication groups are highly available, TLS-only and AUTH-protected."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import as_int, is_true
from platform_spec.result import Result
from platform_spec.rule import live_rule, plain_rule

HA_ID = "STK-REDIS-001"
TRANSIT_ID = "STK-REDIS-002"
TYPE = "AWS::ElastiCache::ReplicationGroup"


def node_count(properties: Mapping[str, Any]) -> int | None:
    """Nodes per shard: NumCacheClusters (cluster mode off) or 1 + ReplicasPerNodeGroup (cluster mode on); None
    when the one given is not a whole number."""
    if "NumCacheClusters" in properties:
        return as_int(properties["NumCacheClusters"])
    if "ReplicasPerNodeGroup" in properties:
        replicas = as_int(properties["ReplicasPerNodeGroup"])
        return None if replicas is None else 1 + replicas
    return 1


def check_high_availability(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != TYPE:
        return Result.na()
    problems = []
    nodes = node_count(properties)
    if nodes is None:
        return Result.fail("node count is not a number")
    if nodes < 2:
        problems.append(f"{nodes} node(s) per shard; at least 2 are required")
    if not is_true(properties.get("MultiAZEnabled")):
        problems.append("MultiAZEnabled is not true")
    if not is_true(properties.get("AutomaticFailoverEnabled")):
        problems.append("AutomaticFailoverEnabled is not true")
    if not problems:
        return Result.ok(f"{nodes} nodes, Multi-AZ, automatic failover")
    return Result.fail("; ".join(problems), nodes=nodes, **({"add_replica": True} if nodes < 2 else {}))


def check_transit(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != TYPE:
        return Result.na()
    if not is_true(properties.get("TransitEncryptionEnabled")):
        return Result.fail("TransitEncryptionEnabled is not true: clients connect in plaintext")
    mode = properties.get("TransitEncryptionMode")
    if mode != "required":
        return Result.fail(f"TransitEncryptionMode is {mode!r}, not 'required': plaintext clients are still accepted",
                           transit=mode)
    if not properties.get("AuthToken") and not properties.get("UserGroupIds"):
        return Result.fail("no AuthToken (or RBAC user group): any host reaching the port can use the cache")
    return Result.ok("TLS required and AUTH on")


plain_rule(HA_ID, {TYPE}, check_high_availability)
plain_rule(TRANSIT_ID, {TYPE}, check_transit)


def redis_members_spread(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-REDIS-001 (live half): the members really sit in at least two AZs."""
    azs = sorted(set(facts["MemberAvailabilityZones"]))
    if len(facts["MemberAvailabilityZones"]) < 2 or len(azs) < 2:
        return Result.fail(f"{len(facts['MemberAvailabilityZones'])} member(s) in {len(azs)} AZ(s) "
                           f"({', '.join(azs) or 'none'}); at least 2 members in 2 AZs are required")
    return Result.ok(f"{len(facts['MemberAvailabilityZones'])} members in {len(azs)} AZs")


live_rule(HA_ID, "redis.members_spread", TYPE, ("MemberAvailabilityZones",), redis_members_spread)
