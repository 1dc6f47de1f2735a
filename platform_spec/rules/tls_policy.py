"""Resource policies that deny every request made without TLS (aws:SecureTransport=false)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, as_list


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def denies_insecure_transport(policy: Any, service: str, client_actions: Iterable[str] = ()) -> bool:
    """True when a statement denies every principal all `service` actions (or all of `client_actions`)
    whenever aws:SecureTransport is false."""
    if not isinstance(policy, Mapping):
        return False
    wildcard = {"*", f"{service}:*"}
    for statement in _as_list(policy.get("Statement", [])):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Deny":
            continue
        if statement.get("Principal") not in ("*", {"AWS": "*"}):
            continue
        actions = {a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)}
        if not actions & wildcard and not (client_actions and set(client_actions) <= actions):
            continue
        secure = as_dict(as_dict(statement.get("Condition")).get("Bool")).get("aws:SecureTransport")
        if str(secure).lower() == "false":
            return True
    return False


def with_tls_deny(document: Any, action: str, resource: Any) -> dict[str, Any]:
    """The policy to put back: the resource's statements as they are, and the Deny of requests without TLS (as CDK's
    enforce_ssl writes it), its resource named by reference (the fix resolves it to the real ARN)."""
    kept = [s for s in as_list(as_dict(document).get("Statement")) if isinstance(s, Mapping)]
    deny = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": action,
            "Resource": resource, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    return {"Version": "2012-10-17", "Statement": [*kept, deny]}
