"""STK-EFS-001: the EFS file system policy denies every request made without TLS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies.result import Result
from policies.rules.intrinsics import as_dict

RULE_ID = "STK-EFS-001"
TYPE = "AWS::EFS::FileSystem"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def denies_insecure_transport(policy: Any) -> bool:
    """True when some statement denies all principals all (client) actions when aws:SecureTransport is false."""
    if not isinstance(policy, Mapping):
        return False
    for statement in _as_list(policy.get("Statement", [])):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Deny":
            continue
        principal = statement.get("Principal")
        if principal not in ("*", {"AWS": "*"}):
            continue
        actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
        if not any(a in ("*", "elasticfilesystem:*") for a in actions) and not {
                "elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite",
                "elasticfilesystem:ClientRootAccess"} <= set(actions):
            continue
        secure = as_dict(as_dict(statement.get("Condition")).get("Bool")).get("aws:SecureTransport")
        if str(secure).lower() == "false":
            return True
    return False


def check(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != TYPE:
        return Result.na()
    if denies_insecure_transport(properties.get("FileSystemPolicy")):
        return Result.ok("file system policy denies non-TLS access")
    return Result.fail("FileSystemPolicy has no Deny for aws:SecureTransport=false: clients may mount without TLS")
