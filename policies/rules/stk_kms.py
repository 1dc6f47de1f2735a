"""STK-KMS-001: encrypted resources use the project's customer-managed key, never an AWS-managed one."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from policies.result import Result
from policies.rules.intrinsics import is_true, ref_target, render

RULE_ID = "STK-KMS-001"

# Per resource type: (flag that turns encryption on, or None if the key alone does; key property).
KEY_PROPERTIES: dict[str, tuple[tuple[str | None, str], ...]] = {
    "AWS::RDS::DBInstance": (("StorageEncrypted", "KmsKeyId"), ("EnablePerformanceInsights", "PerformanceInsightsKMSKeyId")),
    "AWS::RDS::DBCluster": (("StorageEncrypted", "KmsKeyId"),),
    "AWS::EFS::FileSystem": (("Encrypted", "KmsKeyId"),),
    "AWS::ElastiCache::ReplicationGroup": (("AtRestEncryptionEnabled", "KmsKeyId"),),
    "AWS::Logs::LogGroup": ((None, "KmsKeyId"),),
    "AWS::SNS::Topic": ((None, "KmsMasterKeyId"),),
    "AWS::SQS::Queue": ((None, "KmsMasterKeyId"),),
}
# Flags that must be on for these types (a data store without encryption at rest fails outright).
ENCRYPTION_REQUIRED = {"StorageEncrypted", "Encrypted", "AtRestEncryptionEnabled"}


def check(resource_type: str, properties: Mapping[str, Any], cmk_ids: Collection[str]) -> Result:
    """PASS when every key property of the resource references one of `cmk_ids` (logical ids of the CMK)."""
    specs = KEY_PROPERTIES.get(resource_type)
    if specs is None:
        return Result.na()
    for flag, key_prop in specs:
        if flag is not None and not is_true(properties.get(flag)):
            if flag in ENCRYPTION_REQUIRED:
                return Result.fail(f"{flag} is not true: the resource is not encrypted at rest")
            continue  # optional feature (e.g. Performance Insights) is off: nothing to encrypt
        value = properties.get(key_prop)
        if value is None:
            return Result.fail(f"{key_prop} is not set: an AWS-managed key would be used instead of the project CMK")
        target = ref_target(value)
        if target is None:
            shown = render(value) or str(value)
            if "alias/aws/" in shown:
                return Result.fail(f"{key_prop} uses the AWS-managed key '{shown}', not the project CMK")
            return Result.fail(f"{key_prop} '{shown}' is not a reference to the project CMK")
        if target not in cmk_ids:
            return Result.fail(f"{key_prop} references '{target}', which is not the project CMK")
    return Result.ok("encrypted with the project CMK")
