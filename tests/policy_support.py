"""Helpers shared by the policy tests: reading suppressions from a synthesized template's metadata."""

from __future__ import annotations

import json
from typing import Any


def synthesized_suppressions(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every cdk-nag and Checkov suppression in the template, keyed by construct path without the stack name
    (the `aws:cdk:path` metadata `cdk synth` writes on every resource)."""
    entries = []
    for resource in template["Resources"].values():
        metadata = resource.get("Metadata") or {}
        if not ({"cdk_nag", "checkov"} & set(metadata)):
            continue
        path = metadata["aws:cdk:path"].split("/", 1)[1]  # a suppression without a path is an error here
        for item in (metadata.get("cdk_nag") or {}).get("rules_to_suppress", []):
            entries.append({"path": path, "engine": "cdk-nag", "rule": item["id"],
                            "applies_to": item.get("applies_to") or [], "reason": item["reason"]})
        for item in (metadata.get("checkov") or {}).get("skip", []):
            entries.append({"path": path, "engine": "checkov", "rule": item["id"], "applies_to": [],
                            "reason": item["comment"]})
    return sorted(entries, key=lambda e: (e["path"], e["engine"], e["rule"], json.dumps(e["applies_to"])))
