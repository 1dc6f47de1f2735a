"""Readers of Redis and its subnet group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import ATTRIBUTES, FACTS, Call, ReadContext, ask, listed_tags, need, only, reader
from opscli.stack import Present

GROUP = ("arn:aws:elasticache:{region}:{account}:replicationgroup:{redis}",)
SUBNET_GROUP = ("arn:aws:elasticache:{region}:{account}:subnetgroup:{redis_subnets}",)
LIST_TAGS_FOR_RESOURCE = Call("elasticache:ListTagsForResource", GROUP + SUBNET_GROUP)


# What a write-only secret property (an AUTH token) reads as when the answer says one is set.
REDACTED = "(set; value not readable)"


@reader("AWS::ElastiCache::ReplicationGroup", (Call("elasticache:DescribeReplicationGroups", GROUP),
                                               LIST_TAGS_FOR_RESOURCE),
        "ReplicationGroupId ReplicationGroupDescription NumCacheClusters MultiAZEnabled AutomaticFailoverEnabled "
        "AtRestEncryptionEnabled TransitEncryptionEnabled TransitEncryptionMode KmsKeyId SnapshotRetentionLimit "
        "CacheNodeType Engine Port Tags")
def replication_group(ctx: ReadContext, r: Present) -> dict[str, Any]:
    client = ctx.aws.client("elasticache")
    op = "DescribeReplicationGroups"
    answer = ask(op, client.describe_replication_groups, "ReplicationGroupNotFoundFault",
                 ReplicationGroupId=r.physical_id)
    group = only(answer.get("ReplicationGroups"), f"replication group {r.physical_id}", op, by_id=True)
    props: dict[str, Any] = {
        "ReplicationGroupId": r.physical_id,
        "ReplicationGroupDescription": group.get("Description", ""),
        "NumCacheClusters": len(need(group, "MemberClusters", list, operation=op)),
        "MultiAZEnabled": need(group, "MultiAZ", str, operation=op) == "enabled",
        "AutomaticFailoverEnabled": need(group, "AutomaticFailover", str, operation=op) in ("enabled", "enabling"),
        "AtRestEncryptionEnabled": need(group, "AtRestEncryptionEnabled", bool, operation=op),
        "TransitEncryptionEnabled": need(group, "TransitEncryptionEnabled", bool, operation=op),
    }
    if need(group, "AuthTokenEnabled", bool, operation=op):
        # AuthToken is write-only: the answer says whether one is set, never its value (nor does opscli want it).
        props["AuthToken"] = REDACTED
    for key in ("TransitEncryptionMode", "KmsKeyId", "SnapshotRetentionLimit", "CacheNodeType", "Engine",
                "UserGroupIds"):
        if key in group:
            props[key] = group[key]
    node_groups = need(group, "NodeGroups", list, operation=op)
    props[FACTS] = {"MemberAvailabilityZones": [
        need(member, "PreferredAvailabilityZone", str, operation=op)
        for node_group in node_groups if isinstance(node_group, Mapping)
        for member in need(node_group, "NodeGroupMembers", list, operation=op) if isinstance(member, Mapping)]}
    if node_groups and isinstance(node_groups[0], Mapping):
        endpoint = node_groups[0].get("PrimaryEndpoint") or {}
        reader_endpoint = node_groups[0].get("ReaderEndpoint") or {}
        if isinstance(endpoint, Mapping) and "Port" in endpoint:
            props["Port"] = endpoint["Port"]
            props[ATTRIBUTES] = {"PrimaryEndPoint.Address": endpoint.get("Address"),
                                 "PrimaryEndPoint.Port": str(endpoint["Port"]),
                                 "ReaderEndPoint.Address": reader_endpoint.get("Address"),
                                 "ReaderEndPoint.Port": str(reader_endpoint.get("Port", endpoint["Port"]))}
    if "ARN" in group:
        props["Tags"] = listed_tags(client.list_tags_for_resource, "TagList", ResourceName=group["ARN"])
    return props


@reader("AWS::ElastiCache::SubnetGroup", (Call("elasticache:DescribeCacheSubnetGroups", SUBNET_GROUP),
                                          LIST_TAGS_FOR_RESOURCE),
        "CacheSubnetGroupName Description SubnetIds Tags")
def cache_subnet_group(ctx: ReadContext, r: Present) -> dict[str, Any]:
    op = "DescribeCacheSubnetGroups"
    answer = ask(op, ctx.aws.client("elasticache").describe_cache_subnet_groups, "CacheSubnetGroupNotFoundFault",
                 CacheSubnetGroupName=r.physical_id)
    group = only(answer.get("CacheSubnetGroups"), f"cache subnet group {r.physical_id}", op, by_id=True)
    tags = listed_tags(ctx.aws.client("elasticache").list_tags_for_resource, "TagList",
                       ResourceName=need(group, "ARN", str, operation=op))
    return {"CacheSubnetGroupName": r.physical_id, "Tags": tags,
            "Description": group.get("CacheSubnetGroupDescription", ""),
            "SubnetIds": sorted(s["SubnetIdentifier"] for s in need(group, "Subnets", list, operation=op)
                                if isinstance(s, Mapping) and "SubnetIdentifier" in s)}
