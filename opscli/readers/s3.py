"""Readers of the intake bucket and its policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import botocore.exceptions

from opscli.readers.base import ReadContext, _call, _json, _not_found, need, reader, tag_list
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
    try:
        enc = _call("GetBucketEncryption", s3.get_bucket_encryption, *missing, Bucket=name)
        rules = need(need(enc, "ServerSideEncryptionConfiguration", Mapping, operation="GetBucketEncryption"),
                     "Rules", list, operation="GetBucketEncryption")
        # The API says ApplyServerSideEncryptionByDefault where CloudFormation says ServerSideEncryptionByDefault.
        props["BucketEncryption"] = {"ServerSideEncryptionConfiguration": [
            {("ServerSideEncryptionByDefault" if k == "ApplyServerSideEncryptionByDefault" else k): v
             for k, v in rule.items()} for rule in rules if isinstance(rule, Mapping)]}
    except botocore.exceptions.ClientError as exc:
        if not _not_found(exc, "ServerSideEncryptionConfigurationNotFoundError"):
            raise
        props["BucketEncryption"] = None
    try:
        block = _call("GetPublicAccessBlock", s3.get_public_access_block, *missing, Bucket=name)
        props["PublicAccessBlockConfiguration"] = need(block, "PublicAccessBlockConfiguration", Mapping,
                                                       operation="GetPublicAccessBlock")
    except botocore.exceptions.ClientError as exc:
        if not _not_found(exc, "NoSuchPublicAccessBlockConfiguration"):
            raise
        props["PublicAccessBlockConfiguration"] = None
    versioning = _call("GetBucketVersioning", s3.get_bucket_versioning, *missing, Bucket=name)
    if "Status" in versioning:
        props["VersioningConfiguration"] = {"Status": versioning["Status"]}
    try:
        tags = _call("GetBucketTagging", s3.get_bucket_tagging, *missing, Bucket=name)
        props["Tags"] = tag_list(need(tags, "TagSet", list, operation="GetBucketTagging"))
    except botocore.exceptions.ClientError as exc:
        if not _not_found(exc, "NoSuchTagSet"):
            raise
        props["Tags"] = []
    try:
        owner = _call("GetBucketOwnershipControls", s3.get_bucket_ownership_controls, *missing, Bucket=name)
        props["OwnershipControls"] = need(owner, "OwnershipControls", Mapping,
                                          operation="GetBucketOwnershipControls")
    except botocore.exceptions.ClientError as exc:
        if not _not_found(exc, "OwnershipControlsNotFoundError"):
            raise
        props["OwnershipControls"] = None
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
