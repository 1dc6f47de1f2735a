"""Deployers of the project key and its alias."""

from __future__ import annotations

import json

from localenv.deployers.base import DeployContext, deployer, tags


@deployer("AWS::KMS::Key")
def kms_key(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    kms = ctx.client("kms")
    meta = kms.create_key(Description=p.get("Description", lid), Policy=json.dumps(p.get("KeyPolicy", {})),
                          Tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in tags(p)])["KeyMetadata"]
    if p.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=meta["KeyId"])
    return meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]}


@deployer("AWS::KMS::Alias")
def kms_alias(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    ctx.client("kms").create_alias(AliasName=p["AliasName"], TargetKeyId=p["TargetKeyId"])
    return p["AliasName"], {}
