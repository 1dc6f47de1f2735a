"""STK-S3-003: the intake bucket's objects belong to the bucket owner; ACLs are off.

With ACLs enabled an uploader keeps ownership of what it writes and an ACL can make one object public past the
bucket policy; BucketOwnerEnforced turns every ACL off, so the bucket policy alone says who reads what."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, as_list
from platform_spec.result import Result
from platform_spec.rule import plain_rule

RULE_ID = "STK-S3-003"
TYPE = "AWS::S3::Bucket"


def check(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != TYPE:
        return Result.na()
    rules = [as_dict(r).get("ObjectOwnership") for r in as_list(as_dict(properties.get("OwnershipControls"))
                                                                 .get("Rules"))]
    if rules == ["BucketOwnerEnforced"]:
        return Result.ok("object ownership BucketOwnerEnforced: ACLs are disabled")
    shown = ", ".join(str(r) for r in rules) or "not set (ACLs enabled)"
    return Result.fail(f"object ownership is {shown}, not BucketOwnerEnforced: ACLs can grant access")


plain_rule(RULE_ID, {TYPE}, check)
