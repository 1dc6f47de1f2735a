"""Readers of the project key and its alias."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import (
    FACTS,
    UNDECLARED,
    Call,
    MalformedAnswer,
    ReadContext,
    ask,
    json_value,
    need,
    pages,
    reader,
    resolved,
    tag_list,
)
from opscli.stack import Present
from platform_spec.rules import stk_policy as resource_policy

KEY = ("arn:aws:kms:{region}:{account}:key/*",)
DESCRIBE_KEY = Call("kms:DescribeKey", KEY)


@reader("AWS::KMS::Key", (DESCRIBE_KEY, Call("kms:GetKeyRotationStatus", KEY), Call("kms:GetKeyPolicy", KEY),
                          Call("kms:ListResourceTags", KEY), Call("kms:ListGrants", KEY)),
        "Description Enabled EnableKeyRotation RotationPeriodInDays KeyPolicy KeyUsage KeySpec MultiRegion Tags",
        derived=lambda p: {"Arn": p.arn("kms", f"key/{p.id}"), "KeyId": p.id})
def kms_key(ctx: ReadContext, r: Present) -> dict[str, Any]:
    kms = ctx.aws.client("kms")
    meta = need(ask("DescribeKey", kms.describe_key, "NotFoundException", KeyId=r.physical_id), "KeyMetadata",
                Mapping, operation="DescribeKey")
    rotation = ask("GetKeyRotationStatus", kms.get_key_rotation_status, KeyId=r.physical_id)
    policy = ask("GetKeyPolicy", kms.get_key_policy, KeyId=r.physical_id, PolicyName="default")
    tags = [t for page in pages(kms, "list_resource_tags", "ListResourceTags", KeyId=r.physical_id)
            for t in need(page, "Tags", list, operation="ListResourceTags")]
    props = {"Description": meta.get("Description", ""),
             "Enabled": need(meta, "Enabled", bool, operation="DescribeKey"),
             "KeyUsage": meta.get("KeyUsage"), "KeySpec": meta.get("KeySpec") or meta.get("CustomerMasterKeySpec"),
             "EnableKeyRotation": need(rotation, "KeyRotationEnabled", bool, operation="GetKeyRotationStatus"),
             "KeyPolicy": json_value(need(policy, "Policy", str, operation="GetKeyPolicy"), "GetKeyPolicy", "Policy"),
             "Tags": tag_list(tags, "TagKey", "TagValue"),
             "MultiRegion": need(meta, "MultiRegion", bool, operation="DescribeKey"),
             FACTS: {"KeyManager": need(meta, "KeyManager", str, operation="DescribeKey"),
                     "KeyState": need(meta, "KeyState", str, operation="DescribeKey"),
                     "KeyArn": _key_arn(meta), "MultiRegionKeys": _multi_region_keys(meta),
                     UNDECLARED: _undeclared_grants(ctx, kms, r.physical_id),
                     "Grants": _grants(ctx, kms, r.physical_id), "Account": resolved(ctx, {"Ref": "AWS::AccountId"})}}
    if "RotationPeriodInDays" in rotation:
        props["RotationPeriodInDays"] = rotation["RotationPeriodInDays"]
    return {k: v for k, v in props.items() if v is not None}


def _key_arn(meta: Mapping[str, Any]) -> str:
    arn = need(meta, "Arn", str, operation="DescribeKey")
    if not arn.startswith("arn:") or len(arn.split(":", 5)) < 6:
        raise MalformedAnswer(f"DescribeKey answered Arn {arn[:60]!r}, which is not an ARN")
    return arn


def _multi_region_keys(meta: Mapping[str, Any]) -> dict[str, Any] | None:
    """The keys that share a multi-Region key's material (its primary and its replicas, by ARN, which names their
    region), from DescribeKey's MultiRegionConfiguration; None for a single-Region key."""
    op = "DescribeKey"
    if not need(meta, "MultiRegion", bool, operation=op):
        return None
    config = need(meta, "MultiRegionConfiguration", Mapping, operation=op)  # AWS sends it for every such key
    replicas = [need(key, "Arn", str, operation=op) for key in need(config, "ReplicaKeys", list, operation=op)]
    return {"Primary": need(need(config, "PrimaryKey", Mapping, operation=op), "Arn", str, operation=op),
            "Replicas": replicas}


def _undeclared_grants(ctx: ReadContext, kms: Any, key: str) -> list[str]:
    """Grants on the key to anyone but an AWS service (ListGrants shows a service's grants under its service
    principal), a role of this stack or a service-linked role of this account."""
    account = resolved(ctx, {"Ref": "AWS::AccountId"}, "")
    roles = {f"arn:aws:iam::{account}:role/{d.physical_id}" for d in ctx.scope.of_type("AWS::IAM::Role")
             if d.physical_id}
    found = []
    for grant in _grants(ctx, kms, key):
        grantee = str(grant.get("GranteePrincipal") or grant.get("GranteeServicePrincipal") or "")
        if grantee.endswith((".amazonaws.com", ".amazonaws.com.cn")) or grantee in roles or \
                grantee.startswith(f"arn:aws:iam::{account}:role/aws-service-role/"):
            continue
        if resource_policy.outside_grantee(grantee, account):
            continue  # a grant to another account is STK-POLICY-001's finding (it names the account): named once
        operations = ", ".join(str(o) for o in grant.get("Operations") or [])
        found.append(f"grant {str(grant.get('GrantId', '?'))[:16]} to {grantee or '(no grantee)'} ({operations})")
    return found


def _grants(ctx: ReadContext, kms: Any, key: str) -> list[Mapping[str, Any]]:
    """Every grant on the key (ListGrants, every page), asked once per read: STK-STACK-002 reads the grants beside
    the declaration, STK-POLICY-001 their grantees."""
    def every() -> list[Mapping[str, Any]]:
        grants = [g for page in pages(kms, "list_grants", "ListGrants", KeyId=key)
                  for g in need(page, "Grants", list, operation="ListGrants")]
        if not all(isinstance(g, Mapping) for g in grants):
            raise MalformedAnswer("ListGrants answered a grant that is not an object")
        return grants
    return ctx.once("ListGrants", key, every)


@reader("AWS::KMS::Alias", (DESCRIBE_KEY,), "AliasName TargetKeyId")
def kms_alias(ctx: ReadContext, r: Present) -> dict[str, Any]:
    meta = need(ask("DescribeKey", ctx.aws.client("kms").describe_key, "NotFoundException", KeyId=r.physical_id),
                "KeyMetadata", Mapping, operation="DescribeKey")
    return {"AliasName": r.physical_id, "TargetKeyId": need(meta, "KeyId", str, operation="DescribeKey")}
