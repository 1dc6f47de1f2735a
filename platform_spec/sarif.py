"""What the gate's and opscli's SARIF share: the schema, the level of a failed result by catalog severity, and
the reporting descriptors of catalog rules."""

from __future__ import annotations

from platform_spec import catalog

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note", "INFO": "note"}  # of a FAIL


def sarif_rules(rule_ids: set[str]) -> list[dict]:
    """SARIF reportingDescriptors for `rule_ids`, with the catalog's words where the id is a catalog rule."""
    rules = []
    for rule_id in sorted(rule_ids):
        entry = catalog.CATALOG.get(rule_id)
        rule = {"id": rule_id, "shortDescription": {"text": entry.title if entry else rule_id}}
        if entry:
            rule["fullDescription"] = {"text": entry.rationale}
            rule["help"] = {"text": entry.remediation}
        rules.append(rule)
    return rules
