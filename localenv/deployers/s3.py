"""Deployers of S3 buckets and bucket policies."""

from __future__ import annotations

import json

from localenv.deployers.base import DeployContext, deployer, tags


@deployer("AWS::S3::Bucket")
def s3_bucket(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    s3 = ctx.client("s3")
    # CloudFormation generates the name: <stack>-<logical id>-<random>, lowercase, at most 63 characters.
    name = f"{ctx.stack_name}-{lid}".lower()[:56] + "-local"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": ctx.config.region})
    if p.get("BucketEncryption"):
        # CloudFormation says ServerSideEncryptionByDefault where the API says ApplyServerSideEncryptionByDefault.
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
             "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled"))}
            for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]]})
    if p.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"])
    if p.get("VersioningConfiguration"):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={
            "Status": p["VersioningConfiguration"]["Status"]})
    if tags(p):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags(p)})
    if p.get("OwnershipControls"):
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=p["OwnershipControls"])
    if p.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={
            "EventBridgeConfiguration": {}})
    return name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}


@deployer("AWS::S3::BucketPolicy")
def s3_bucket_policy(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    s3 = ctx.client("s3")
    s3.put_bucket_policy(Bucket=p["Bucket"], Policy=json.dumps(p["PolicyDocument"]))
    return f"{p['Bucket']}-policy", {}
