"""The scanners' findings on the catalog: a catalog rule's severity, and one finding per (catalog rule, resource)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from platform_spec import catalog
from policies.report_formats import ReportFinding


def severity(catalog_id: str, default: str = "HIGH") -> str:
    """The catalog rule's severity, or `default` for a finding no catalog rule maps."""
    return catalog.CATALOG[catalog_id].severity.value if catalog_id in catalog.CATALOG else default


def merge(findings: Sequence[ReportFinding]) -> list[ReportFinding]:
    """One finding per (catalog rule, resource) across engines, listing every engine that saw it (four cdk-nag
    packs failing one Multi-AZ setting are one finding); a finding no catalog rule maps keeps its own line."""
    merged: dict[tuple[str, str], ReportFinding] = {}
    for f in findings:
        key = (f.catalog_id or f"{f.engine} {f.rule_id}", f.resource)
        seen = f"{f.engine} {f.rule_id}"
        if key in merged:
            first = merged[key]
            if seen not in first.seen_by:
                merged[key] = replace(first, seen_by=(*first.seen_by, seen),
                                      source=first.source or f.source, line=first.line or f.line)
        else:
            merged[key] = replace(f, seen_by=(seen,))
    return list(merged.values())
