"""SARIF reporting descriptors for catalog rules: the gate's and opscli's SARIF share them."""

from __future__ import annotations

from platform_spec import catalog


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
