"""The template engine's whole-template rules (those Checkov cannot express), in this process."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from platform_spec import catalog, template_engine
from policies.gate import ROOT
from policies.gate.merge import severity
from policies.reports import ReportFinding


def template_scan(templates: Sequence[Path]) -> tuple[list[ReportFinding], set[str]]:
    """The template engine's whole-template rules (those Checkov cannot express)."""
    rule_ids = {r.id for r in catalog.rules_for(catalog.Engine.TEMPLATE)}
    findings = []
    for path in templates:
        template = json.loads(path.read_text())
        for f in template_engine.failures(template, rule_ids=rule_ids):
            findings.append(ReportFinding("template", f.rule_id, f.rule_id, severity(f.rule_id),
                                          f"{f.resource_type}.{f.logical_id}", os.path.relpath(path, ROOT),
                                          catalog.get(f.rule_id).message(f.reason)))
    return findings, rule_ids
