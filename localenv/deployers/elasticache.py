"""Deployers of the Redis replication group and its subnet group."""

from __future__ import annotations

from localenv.deployers.base import DeployContext, deployer, tags


@deployer("AWS::ElastiCache::SubnetGroup")
def cache_subnet_group(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    name = p["CacheSubnetGroupName"]
    ctx.client("elasticache").create_cache_subnet_group(
        CacheSubnetGroupName=name, CacheSubnetGroupDescription=p["Description"], SubnetIds=p["SubnetIds"],
        Tags=tags(p))
    return name, {}


@deployer("AWS::ElastiCache::ReplicationGroup")
def replication_group(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    keys = ("ReplicationGroupId", "ReplicationGroupDescription", "Engine", "EngineVersion", "CacheNodeType",
            "NumCacheClusters", "PreferredCacheClusterAZs", "AutomaticFailoverEnabled", "MultiAZEnabled",
            "CacheSubnetGroupName", "SecurityGroupIds", "Port", "AtRestEncryptionEnabled", "KmsKeyId",
            "TransitEncryptionEnabled", "TransitEncryptionMode", "AuthToken", "SnapshotRetentionLimit",
            "AutoMinorVersionUpgrade")
    args = {k: p[k] for k in keys if k in p}
    for key in ("NumCacheClusters", "Port", "SnapshotRetentionLimit"):
        if key in args:
            args[key] = int(args[key])
    if "NumCacheClusters" in args:
        # moto gap: with cluster mode disabled it sizes the group from ReplicasPerNodeGroup and ignores
        # NumCacheClusters; pass both so the emulated members match the template.
        args["ReplicasPerNodeGroup"] = args["NumCacheClusters"] - 1
    group = ctx.client("elasticache").create_replication_group(**args, Tags=tags(p))["ReplicationGroup"]
    primary = group["NodeGroups"][0].get("PrimaryEndpoint", {})
    reader = group["NodeGroups"][0].get("ReaderEndpoint", primary)
    return group["ReplicationGroupId"], {
        "PrimaryEndPoint.Address": primary.get("Address", ""), "PrimaryEndPoint.Port": str(args.get("Port", 6379)),
        "ReaderEndPoint.Address": reader.get("Address", ""), "ReaderEndPoint.Port": str(args.get("Port", 6379))}
