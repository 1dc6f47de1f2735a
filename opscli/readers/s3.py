"""Readers of the intake bucket and its policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import ReadContext, _call, _json, _optional, need, reader, tag_list
from opscli.stack import Declared


@reader("AWS::S3::Bucket", ("s3:GetBucketEncryption", "s3:GetPublicAccessBlock", "s3:GetBucketVersioning",
                            "s3:GetBucketTagging", "s3:GetBucketOwnershipControls",
                            "s3:GetBucketNotificationConfiguration"),
        "BucketName BucketEncryption PublicAccessBlockConfiguration VersioningConfiguration OwnershipControls "
        "NotificationConfiguration Tags")
def bucket(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    s3 = ctx.aws.client("s3")
    name = r.physical_id
    props: dict[str, Any] = {"BucketName": name}
    missing = ("NoSuchBucket",)
    enc = _optional("GetBucketEncryption", s3.get_bucket_encryption, "ServerSideEncryptionConfigurationNotFoundError",
                    *missing, Bucket=name)
    if enc is None:
        props["BucketEncryption"] = None
    else:
        rules = need(need(enc, "ServerSideEncryptionConfiguration", Mapping, operation="GetBucketEncryption"),
                     "Rules", list, operation="GetBucketEncryption")
        # The API says ApplyServerSideEncryptionByDefault where CloudFormation says ServerSideEncryptionByDefault.
        props["BucketEncryption"] = {"ServerSideEncryptionConfiguration": [
            {("ServerSideEncryptionByDefault" if k == "ApplyServerSideEncryptionByDefault" else k): v
             for k, v in rule.items()} for rule in rules if isinstance(rule, Mapping)]}
    block = _optional("GetPublicAccessBlock", s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration",
                      *missing, Bucket=name)
    props["PublicAccessBlockConfiguration"] = None if block is None else need(
        block, "PublicAccessBlockConfiguration", Mapping, operation="GetPublicAccessBlock")
    versioning = _call("GetBucketVersioning", s3.get_bucket_versioning, *missing, Bucket=name)
    if "Status" in versioning:
        props["VersioningConfiguration"] = {"Status": versioning["Status"]}
    tags = _optional("GetBucketTagging", s3.get_bucket_tagging, "NoSuchTagSet", *missing, Bucket=name)
    props["Tags"] = [] if tags is None else tag_list(need(tags, "TagSet", list, operation="GetBucketTagging"))
    owner = _optional("GetBucketOwnershipControls", s3.get_bucket_ownership_controls, "OwnershipControlsNotFoundError",
                      *missing, Bucket=name)
    props["OwnershipControls"] = None if owner is None else need(owner, "OwnershipControls", Mapping,
                                                                  operation="GetBucketOwnershipControls")
    notification = _call("GetBucketNotificationConfiguration", s3.get_bucket_notification_configuration, *missing,
                         Bucket=name)
    if "EventBridgeConfiguration" in notification:
        props["NotificationConfiguration"] = {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    return props


@reader("AWS::S3::BucketPolicy", ("s3:GetBucketPolicy",), "Bucket PolicyDocument")
def bucket_policy(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    name = ctx.resolve(r.properties.get("Bucket"))
    answer = _call("GetBucketPolicy", ctx.aws.client("s3").get_bucket_policy, "NoSuchBucket", "NoSuchBucketPolicy",
                   Bucket=name)
    return {"Bucket": name, "PolicyDocument": _json(need(answer, "Policy", str, operation="GetBucketPolicy"),
                                                    "GetBucketPolicy", "Policy")}
