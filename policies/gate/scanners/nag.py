"""cdk-nag: its rule ids on the catalog, and the compliance counts of the CSV reports it leaves in the assembly
(its findings reach the gate through a failed synthesis: policies/gate/synthesis.py)."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from platform_spec import catalog


def nag_to_catalog() -> dict[str, str]:
    """cdk-nag rule id (any pack) -> the catalog rule it maps to, from the catalog references; a rule the catalog
    enforces wins over a deviation that cites the same nag id (a finding is a violation, not the deviation)."""
    mapping: dict[str, str] = {}
    for rule in sorted(catalog.CATALOG.values(), key=lambda r: r.accepted_deviation):
        for nag_id in rule.references.ids("cdk_nag"):
            mapping.setdefault(nag_id, rule.id)
    return mapping


def nag_counts(cdk_out: Path, templates: Sequence[Path]) -> Counter:
    """Compliance counts over cdk-nag's CSV reports (one per pack and stack) of the given stacks."""
    counts: Counter = Counter()
    stacks = {t.name.removesuffix(".template.json") for t in templates}
    for report in cdk_out.glob("*-NagReport.csv"):
        if not any(report.name.endswith(f"-{stack}-NagReport.csv") for stack in stacks):
            continue
        with report.open(newline="") as handle:
            for row in csv.DictReader(handle):
                counts[f"nag_{row['Compliance'].lower().replace('-', '_')}"] += 1
    return counts
