"""STK-KMS-001: encrypted resources use the project's customer-managed key, never an AWS-managed one.
STK-KMS-002: the key rotates yearly at most. STK-KMS-003 (live only): the key is customer-managed and enabled."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, is_true, ref_target, render
from platform_spec.naming import NAMES
from platform_spec.result import Result
from platform_spec.rule import live_rule, plain_rule, resource_rule, stack_rule

RULE_ID = "STK-KMS-001"
ROTATION_ID = "STK-KMS-002"
KEY_STATE_ID = "STK-KMS-003"
MAX_ROTATION_DAYS = 365  # STK-KMS-002: yearly at most (the AWS default; KMS allows up to 2560)

# Per resource type: (flag that turns encryption on, or None if the key alone does; key property).
KEY_PROPERTIES: dict[str, tuple[tuple[str | None, str], ...]] = {
    "AWS::RDS::DBInstance": (("StorageEncrypted", "KmsKeyId"),
                             ("EnablePerformanceInsights", "PerformanceInsightsKMSKeyId")),
    "AWS::RDS::DBCluster": (("StorageEncrypted", "KmsKeyId"),),
    "AWS::EFS::FileSystem": (("Encrypted", "KmsKeyId"),),
    "AWS::ElastiCache::ReplicationGroup": (("AtRestEncryptionEnabled", "KmsKeyId"),),
    "AWS::Logs::LogGroup": ((None, "KmsKeyId"),),
    "AWS::SNS::Topic": ((None, "KmsMasterKeyId"),),
    "AWS::SQS::Queue": ((None, "KmsMasterKeyId"),),
    "AWS::S3::Bucket": ((None, "BucketEncryption"),),  # judged through its default encryption rule
}
# Flags that must be on for these types (a data store without encryption at rest fails outright).
ENCRYPTION_REQUIRED = {"StorageEncrypted", "Encrypted", "AtRestEncryptionEnabled"}


def _s3_default_encryption(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The bucket's default encryption as {SSEAlgorithm, KMSMasterKeyID} (empty if none)."""
    rules = as_dict(properties.get("BucketEncryption")).get("ServerSideEncryptionConfiguration")
    first = rules[0] if isinstance(rules, list) and rules else {}
    return dict(as_dict(as_dict(first).get("ServerSideEncryptionByDefault")))


def check(resource_type: str, properties: Mapping[str, Any], cmk_ids: Collection[str] | None) -> Result:
    """PASS when every key property references one of `cmk_ids` (logical ids of the project CMK).

    With cmk_ids None, any Ref/GetAtt to a key defined in the same template passes.
    """
    if resource_type == "AWS::S3::Bucket":
        default = _s3_default_encryption(properties)
        if default.get("SSEAlgorithm") != "aws:kms":
            return Result.fail(f"default encryption is {default.get('SSEAlgorithm') or 'not set'}, not aws:kms")
        properties = {"KmsKeyId": default.get("KMSMasterKeyID")}
        resource_type = "AWS::Logs::LogGroup"  # same shape from here on: one key property, always required
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
        if cmk_ids is not None and target not in cmk_ids:
            return Result.fail(f"{key_prop} references '{target}', which is not the project CMK")
    return Result.ok("encrypted with the project CMK")


def check_rotation(resource_type: str, properties: Mapping[str, Any]) -> Result:
    """STK-KMS-002: a customer-managed key has automatic rotation on."""
    if resource_type != "AWS::KMS::Key":
        return Result.na()
    if properties.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        return Result.na("rotation applies to symmetric keys only")
    if not is_true(properties.get("EnableKeyRotation")):
        return Result.fail("EnableKeyRotation is not true")
    period = properties.get("RotationPeriodInDays")
    if isinstance(period, int) and not isinstance(period, bool) and period > MAX_ROTATION_DAYS:
        return Result.fail(f"RotationPeriodInDays is {period}; at most {MAX_ROTATION_DAYS}")
    return Result.ok("automatic rotation is on" + (f" every {period} days" if isinstance(period, int) else ""))


resource_rule(RULE_ID, KEY_PROPERTIES, lambda t, p, c: check(t, p, c.cmk_ids))
plain_rule(ROTATION_ID, {"AWS::KMS::Key"}, check_rotation)

# The aliases of the project's customer-managed keys, one per stack of the app (alias/kms-key-<suffix> of TapStack,
# alias/monitor-kms-key-<suffix> of the posture monitor): read from the naming table, not retyped.
CMK_ALIASES = tuple(re.compile(re.escape(spec.template).replace(re.escape("{suffix}"), r"(?P<suffix>[a-z0-9-]+)"))
                    for spec in NAMES.values() if spec.limit == "kms-alias")


def cmk_alias_suffix(name: str) -> str | None:
    """The environment suffix if `name` is the alias of one of the project's keys, else None."""
    for pattern in CMK_ALIASES:
        match = pattern.fullmatch(name)
        if match:
            return match.group("suffix")
    return None


def project_cmks(resources: Mapping[str, Any]) -> tuple[str | None, frozenset[str]]:
    """(suffix, logical ids of the keys behind the project's key aliases) found in the template."""
    suffix, ids = None, set()
    for resource in resources.values():
        if resource.get("Type") != "AWS::KMS::Alias":
            continue
        props = resource.get("Properties", {})
        found = cmk_alias_suffix(str(props.get("AliasName", "")))
        target = ref_target(props.get("TargetKeyId"))
        if found and target:
            suffix = found
            ids.add(target)
    return suffix, frozenset(ids)


def check_exact_cmk(resources: Mapping[str, Any]) -> Iterable[tuple[str, Result]]:
    """STK-KMS-001 over the whole template: the key is exactly the one behind alias/kms-key-<suffix>."""
    _suffix, cmk_ids = project_cmks(resources)
    for lid, resource in resources.items():
        rtype, props = resource.get("Type", ""), resource.get("Properties", {}) or {}
        if rtype in KEY_PROPERTIES:
            yield lid, (check(rtype, props, cmk_ids) if cmk_ids else
                        Result.fail("the template has no key behind alias/kms-key-<suffix>"))


stack_rule(RULE_ID, {"AWS::KMS::Alias", "AWS::KMS::Key"}, check_exact_cmk, replaces_resource_rule=True)


def key_state(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-KMS-003: the project key is customer-managed and enabled (not disabled or pending deletion)."""
    if facts["KeyManager"] != "CUSTOMER":
        return Result.fail(f"the key is {facts['KeyManager']}-managed, not customer-managed")
    if facts["KeyState"] != "Enabled":
        return Result.fail(f"the key is {facts['KeyState']}: every data store encrypted with it is unreadable",
                           key_state=facts["KeyState"],
                           **({"pending_deletion": True} if facts["KeyState"] == "PendingDeletion" else {}))
    return Result.ok("customer-managed and enabled")


live_rule(KEY_STATE_ID, "kms.key_state", "AWS::KMS::Key", ("KeyManager", "KeyState"), key_state)
