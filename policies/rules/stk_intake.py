"""STK-S3-001/002 and STK-SQS-001/002: the ingest bucket and the intake queues."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies.result import Result
from policies.rules.intrinsics import as_dict, is_true, ref_target
from policies.rules.tls_policy import denies_insecure_transport

PUBLIC_ID = "STK-S3-001"
BUCKET_TLS_ID = "STK-S3-002"
DLQ_ID = "STK-SQS-001"
QUEUE_TLS_ID = "STK-SQS-002"
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
        results.append((logical_id, Result.ok("bucket policy denies non-TLS requests") if ok else Result.fail(
            "no bucket policy denying aws:SecureTransport=false: plaintext requests are accepted")))
    return results


def queue_results(resources: Mapping[str, Any]) -> list[tuple[str, str, Result]]:
    """(rule id, queue logical id, result) for STK-SQS-001 and STK-SQS-002 over every queue of the template."""
    dead_letter_targets = set()
    for resource in resources.values():
        if resource.get("Type") == "AWS::SQS::Queue":
            redrive = as_dict(as_dict(resource.get("Properties")).get("RedrivePolicy"))
            dead_letter_targets.add(ref_target(redrive.get("deadLetterTargetArn")))
    policies: dict[str, Any] = {}
    for resource in resources.values():
        if resource.get("Type") == "AWS::SQS::QueuePolicy":
            props = as_dict(resource.get("Properties"))
            for queue in props.get("Queues", []) if isinstance(props.get("Queues"), list) else []:
                policies[ref_target(queue) or ""] = props.get("PolicyDocument")
    results = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::SQS::Queue":
            continue
        redrive = as_dict(as_dict(resource.get("Properties")).get("RedrivePolicy"))
        if logical_id in dead_letter_targets:
            results.append((DLQ_ID, logical_id, Result.ok("is a dead-letter queue")))
        elif redrive.get("deadLetterTargetArn") and int(redrive.get("maxReceiveCount", 0) or 0) >= 1:
            results.append((DLQ_ID, logical_id, Result.ok(
                f"dead-letter queue after {redrive['maxReceiveCount']} receives")))
        else:
            results.append((DLQ_ID, logical_id, Result.fail("no dead-letter queue: a poison message is retried forever")))
        tls = denies_insecure_transport(policies.get(logical_id), "sqs")
        results.append((QUEUE_TLS_ID, logical_id, Result.ok("queue policy denies non-TLS requests") if tls else
                        Result.fail("no queue policy denying aws:SecureTransport=false")))
    return results
