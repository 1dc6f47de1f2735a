"""The cases of platform_spec/rules/stk_kms.py (STK-KMS-001, STK-KMS-002), run by the shared tests
(tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props
from tests.policy.templates import log_group, other_key, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-KMS-001": {"pass": template({"Logs": log_group()}),
                    "fail": template({"Logs": log_group(KmsKeyId="alias/aws/logs")})},
    "STK-KMS-002": {"pass": template({"Other": other_key(True)}), "fail": template({"Other": other_key(False)})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "log-group-aws-key": (lambda t: props(t, "AWS::Logs::LogGroup").update(KmsKeyId="alias/aws/logs"), "STK-KMS-001"),
    "kms-rotation-off": (lambda t: props(t, "AWS::KMS::Key").update(EnableKeyRotation=False), "STK-KMS-002"),
    "bucket-sse-s3": (lambda t: props(t, "AWS::S3::Bucket").update(BucketEncryption={
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}),
        "STK-KMS-001"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-KMS-001", "log group", lambda p: props(p, "AWS::Logs::LogGroup").update(KmsKeyId="alias/aws/logs")),
    ("STK-KMS-001", "queue", lambda p: props(p, "AWS::SQS::Queue").update(KmsMasterKeyId="alias/aws/sqs")),
    ("STK-KMS-001", "topic", lambda p: props(p, "AWS::SNS::Topic").update(KmsMasterKeyId="alias/aws/sns")),
    ("STK-KMS-001", "bucket", lambda p: props(p, "AWS::S3::Bucket").update(BucketEncryption={
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})),
    ("STK-KMS-002", "rotation off", lambda p: props(p, "AWS::KMS::Key").update(EnableKeyRotation=False)),
]
