"""The cases of platform_spec/rules/stk_kms.py (STK-KMS-001, STK-KMS-002), run by the shared tests
(tests/policy/fixtures.py gathers every rule's); and its predicate on plain values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from platform_spec.result import Status
from platform_spec.rules import stk_kms
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


CMK = {"Fn::GetAtt": ["Cmk", "Arn"]}


@pytest.mark.parametrize("type_, props, status", [
    ("AWS::RDS::DBInstance", {"StorageEncrypted": True, "KmsKeyId": CMK}, Status.PASS),
    ("AWS::RDS::DBInstance", {"StorageEncrypted": "true", "KmsKeyId": CMK, "EnablePerformanceInsights": True,
                              "PerformanceInsightsKMSKeyId": CMK}, Status.PASS),
    ("AWS::RDS::DBInstance", {"StorageEncrypted": True, "KmsKeyId": CMK, "EnablePerformanceInsights": True},
     Status.FAIL),
    ("AWS::RDS::DBInstance", {"StorageEncrypted": False, "KmsKeyId": CMK}, Status.FAIL),
    ("AWS::RDS::DBInstance", {"StorageEncrypted": True}, Status.FAIL),
    ("AWS::EFS::FileSystem", {"Encrypted": True, "KmsKeyId": "alias/aws/elasticfilesystem"}, Status.FAIL),
    ("AWS::ElastiCache::ReplicationGroup", {"AtRestEncryptionEnabled": True, "KmsKeyId": {"Ref": "Other"}},
     Status.FAIL),
    ("AWS::Logs::LogGroup", {"KmsKeyId": "arn:aws:kms:ap-northeast-1:1:key/x"}, Status.FAIL),
    ("AWS::Logs::LogGroup", {"KmsKeyId": {"Ref": "Cmk"}}, Status.PASS),
    ("AWS::SNS::Topic", {"KmsMasterKeyId": CMK}, Status.PASS),
    ("AWS::EC2::VPC", {}, Status.NOT_APPLICABLE),
])
def test_kms_predicate(type_, props, status):
    assert stk_kms.check(type_, props, {"Cmk"}).status is status
