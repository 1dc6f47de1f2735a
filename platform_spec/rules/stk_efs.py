"""STK-EFS-001: the EFS file system policy denies every request made without TLS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.result import Result
from platform_spec.rule import plain_rule
from platform_spec.rules import tls_policy

RULE_ID = "STK-EFS-001"
TYPE = "AWS::EFS::FileSystem"


CLIENT_ACTIONS = ("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess")


def denies_insecure_transport(policy: Any) -> bool:
    """True when some statement denies all principals all (client) actions when aws:SecureTransport is false."""
    return tls_policy.denies_insecure_transport(policy, "elasticfilesystem", CLIENT_ACTIONS)


def check(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != TYPE:
        return Result.na()
    if denies_insecure_transport(properties.get("FileSystemPolicy")):
        return Result.ok("file system policy denies non-TLS access")
    return Result.fail("FileSystemPolicy has no Deny for aws:SecureTransport=false: clients may mount without TLS")


plain_rule(RULE_ID, {TYPE}, check)
