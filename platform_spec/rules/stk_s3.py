"""STK-S3-001/002: the ingest bucket blocks public access and its policy denies every request made without TLS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, is_true, ref_target
from platform_spec.result import Result
from platform_spec.rule import plain_rule, stack_rule
from platform_spec.rules.tls_policy import denies_insecure_transport, with_tls_deny

PUBLIC_ID = "STK-S3-001"
BUCKET_TLS_ID = "STK-S3-002"
BLOCK_SETTINGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")


def check_public_access_block(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != "AWS::S3::Bucket":
        return Result.na()
    block = as_dict(properties.get("PublicAccessBlockConfiguration"))
    off = [name for name in BLOCK_SETTINGS if not is_true(block.get(name))]
    if off:
        return Result.fail(f"public access is not fully blocked ({', '.join(off)} off)")
    return Result.ok("all four public access blocks on")


def bucket_policy_results(resources: Mapping[str, Any]) -> list[tuple[str, Result]]:
    """(bucket logical id, STK-S3-002 result) for every bucket of the template."""
    policies: dict[str, Any] = {}
    for resource in resources.values():
        if resource.get("Type") == "AWS::S3::BucketPolicy":
            props = as_dict(resource.get("Properties"))
            policies[ref_target(props.get("Bucket")) or ""] = props.get("PolicyDocument")
    results = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::S3::Bucket":
            continue
        ok = denies_insecure_transport(policies.get(logical_id), "s3")
        arn = {"Fn::GetAtt": [logical_id, "Arn"]}
        results.append((logical_id, Result.ok("bucket policy denies non-TLS requests") if ok else Result.fail(
            "no bucket policy denying aws:SecureTransport=false: plaintext requests are accepted",
            document=with_tls_deny(policies.get(logical_id), "s3:*", [arn, {"Fn::Join": ["", [arn, "/*"]]}]))))
    return results


plain_rule(PUBLIC_ID, {"AWS::S3::Bucket"}, check_public_access_block)
stack_rule(BUCKET_TLS_ID, {"AWS::S3::BucketPolicy"}, bucket_policy_results)
