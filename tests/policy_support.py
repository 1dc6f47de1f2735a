"""Helpers shared by the policy tests: reading suppressions from a synthesized construct tree."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import CfnResource, Stack


def synthesized_suppressions(stack: Stack) -> list[dict[str, Any]]:
    """Every cdk-nag and Checkov suppression in the stack, keyed by construct path without the stack name."""
    entries = []
    for node in stack.node.find_all():
        if not isinstance(node, CfnResource):
            continue
        path = node.node.path.split("/", 1)[1]
        for item in (node.get_metadata("cdk_nag") or {}).get("rules_to_suppress", []):
            entries.append({"path": path, "engine": "cdk-nag", "rule": item["id"],
                            "applies_to": item.get("applies_to") or [], "reason": item["reason"]})
        for item in (node.get_metadata("checkov") or {}).get("skip", []):
            entries.append({"path": path, "engine": "checkov", "rule": item["id"], "applies_to": [],
                            "reason": item["comment"]})
    return sorted(entries, key=lambda e: (e["path"], e["engine"], e["rule"], json.dumps(e["applies_to"])))
