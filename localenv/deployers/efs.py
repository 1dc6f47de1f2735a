"""Deployers of the EFS file system, its mount targets and access points."""

from __future__ import annotations

import json

from localenv.deployers.base import DeployContext, deployer, tags


@deployer("AWS::EFS::FileSystem")
def file_system(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    efs = ctx.client("efs")
    fs = efs.create_file_system(
        CreationToken=f"{ctx.stack_name}-{lid}", Encrypted=bool(p.get("Encrypted")), KmsKeyId=p["KmsKeyId"],
        PerformanceMode=p.get("PerformanceMode", "generalPurpose"),
        ThroughputMode=p.get("ThroughputMode", "bursting"), Tags=tags(p, "FileSystemTags"))
    if p.get("LifecyclePolicies"):
        efs.put_lifecycle_configuration(FileSystemId=fs["FileSystemId"], LifecyclePolicies=p["LifecyclePolicies"])
    if p.get("FileSystemPolicy"):
        efs.put_file_system_policy(FileSystemId=fs["FileSystemId"], Policy=json.dumps(p["FileSystemPolicy"]))
    return fs["FileSystemId"], {"Arn": fs["FileSystemArn"], "FileSystemId": fs["FileSystemId"]}


@deployer("AWS::EFS::MountTarget")
def mount_target(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    target = ctx.client("efs").create_mount_target(FileSystemId=p["FileSystemId"], SubnetId=p["SubnetId"],
                                                    SecurityGroups=p.get("SecurityGroups", []))
    return target["MountTargetId"], {"IpAddress": target.get("IpAddress", "")}


@deployer("AWS::EFS::AccessPoint")
def access_point(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    args = {"FileSystemId": p["FileSystemId"], "Tags": tags(p, "AccessPointTags")}
    if p.get("PosixUser"):
        args["PosixUser"] = {"Uid": int(p["PosixUser"]["Uid"]), "Gid": int(p["PosixUser"]["Gid"])}
    if p.get("RootDirectory"):
        root = p["RootDirectory"]
        args["RootDirectory"] = {"Path": root.get("Path", "/")}
        if root.get("CreationInfo"):
            info = root["CreationInfo"]
            args["RootDirectory"]["CreationInfo"] = {"OwnerUid": int(info["OwnerUid"]),
                                                     "OwnerGid": int(info["OwnerGid"]),
                                                     "Permissions": info["Permissions"]}
    point = ctx.client("efs").create_access_point(**args)
    return point["AccessPointId"], {"Arn": point["AccessPointArn"], "AccessPointId": point["AccessPointId"]}
