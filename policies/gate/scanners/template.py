"""The template engine's whole-template rules (those Checkov cannot express), in this process."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from platform_spec import catalog, template_engine
from platform_spec.exit_codes import EXIT_USAGE
from policies.gate import ROOT
from policies.gate.merge import severity
from policies.gate.result import GateError
from policies.report_formats import ReportFinding


def read_template(path: Path) -> dict:
    """The template at `path` in the shape the engine's rules read: a JSON object whose resources are objects,
    each with its Properties an object. Anything else is refused (exit 2): a rule would crash on it, and a crash
    is no verdict."""
    where = repr(str(path))  # a name read from the user's directory or manifest: its control characters escaped
    try:
        template = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise GateError(f"{where} is not a readable template: {exc}", EXIT_USAGE) from None
    resources = template.get("Resources", {}) if isinstance(template, dict) else None
    if not isinstance(resources, dict) or not all(
            isinstance(r, dict) and isinstance(r.get("Properties", {}), dict) for r in resources.values()):
        raise GateError(f"{where} is not a CloudFormation template (a JSON object whose Resources are objects, "
                        "each with its Properties an object)", EXIT_USAGE)
    return template


def template_scan(templates: Sequence[Path]) -> tuple[list[ReportFinding], set[str]]:
    """The template engine's whole-template rules (those Checkov cannot express)."""
    rule_ids = {r.id for r in catalog.rules_for(catalog.Engine.TEMPLATE)}
    findings = []
    for path in templates:
        template = read_template(path)
        for f in template_engine.failures(template, rule_ids=rule_ids):
            findings.append(ReportFinding("template", f.rule_id, f.rule_id, severity(f.rule_id),
                                          f"{f.resource_type}.{f.logical_id}", os.path.relpath(path, ROOT),
                                          catalog.get(f.rule_id).message(f.reason)))
    return findings, rule_ids
