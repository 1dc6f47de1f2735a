"""Machine-readable reports for CI systems: JSON, SARIF 2.1.0 and JUnit XML, from one finding shape."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from xml.etree import ElementTree as ET

from platform_spec import catalog
from platform_spec.sarif import (
    FALLBACK_LOCATION,
    FINGERPRINT,
    ROOT_BASE,
    fingerprint,
    location,
    sarif_rules,
)
from platform_spec.sarif import LEVEL as SARIF_LEVEL
from platform_spec.sarif import SCHEMA as SARIF_SCHEMA
from platform_utils.source_map import Site


@dataclass(frozen=True)
class ReportFinding:
    engine: str  # aspect | nag | checkov | template | live
    rule_id: str  # the engine's id (catalog id, cdk-nag rule, Checkov check)
    catalog_id: str  # the catalog rule it maps to, or "" when none does
    severity: str
    resource: str  # construct path, template logical id or ARN
    location: str  # file the finding is in (template path) or "" for live resources
    message: str
    line: int = 0  # the line in `location` (0: unknown)
    # The Python line that declares the resource (cdk_app/constructs/api.py, 45), from the source map (None: unknown)
    source: Site | None = None
    # Every engine that reported this (catalog rule, resource), as "engine rule-id" (merge() fills it)
    seen_by: tuple[str, ...] = ()


def to_json(findings: Sequence[ReportFinding], *, summary: dict | None = None) -> str:
    return json.dumps({"summary": summary or {}, "findings": [_with_words(f) for f in findings]}, indent=2,
                      sort_keys=True) + "\n"


def _with_words(f: ReportFinding) -> dict:
    """The finding, and for a catalog rule what it requires, why, and what to do now and in code."""
    data = asdict(f)
    data["source"] = f.source.to_dict() if f.source else None
    rule = catalog.CATALOG.get(f.catalog_id)
    if rule is not None:
        data["rule"] = {"title": rule.title, "rationale": rule.rationale, "now": rule.now, "in_code": rule.in_code}
    return data


def to_sarif(findings: Sequence[ReportFinding], *, tool: str, version: str = "1", category: str = "policy-gate/",
             help_base: str | None = None) -> str:
    """SARIF for code scanning: a catalog rule's result carries its security-severity and markdown help; each result
    sits at the Python line that declares its resource when known, else at its line in the template, else on the
    app's definition (cdk.json) as a whole, with no line made up; fingerprints from rule, resource and engine id
    keep an alert one alert."""
    rules = sarif_rules({f.catalog_id or f.rule_id for f in findings}, base=help_base)
    results = []
    for f in findings:
        rule_id = f.catalog_id or f.rule_id
        file, line = f.source or ((f.location, f.line) if f.location and f.line else (FALLBACK_LOCATION[0], None))
        result = {
            "ruleId": rule_id,
            "kind": "fail",
            "level": SARIF_LEVEL.get(f.severity, "warning"),
            "message": {"text": f"{f.resource}: {f.message}" + (f" (seen by {', '.join(f.seen_by)})"
                                                                 if len(f.seen_by) > 1 else "")},
            "partialFingerprints": {FINGERPRINT: fingerprint(rule_id, f.resource, f.rule_id)},
            "properties": {"engine": f.engine, "engineRuleId": f.rule_id, "catalogId": f.catalog_id,
                           "severity": f.severity, "resource": f.resource, "seenBy": list(f.seen_by)},
            "locations": [location(file, line, f.resource or "stack")],
        }
        results.append(result)
    sarif = {"version": "2.1.0", "$schema": SARIF_SCHEMA,
             "runs": [{"tool": {"driver": {"name": tool, "version": version, "rules": rules}},
                       "automationDetails": {"id": category},
                       "originalUriBaseIds": ROOT_BASE,
                       "results": results}]}
    return json.dumps(sarif, indent=2, sort_keys=True) + "\n"


def to_junit(findings: Sequence[ReportFinding], *, suite: str, checks_run: Sequence[str] = ()) -> str:
    """One testcase per finding (a failure) plus one passing testcase per check that found nothing."""
    failed_ids = {f.rule_id for f in findings}
    passed = sorted(set(checks_run) - failed_ids)
    root = ET.Element("testsuites")
    element = ET.SubElement(root, "testsuite", name=suite, tests=str(len(findings) + len(passed)),
                            failures=str(len(findings)), errors="0")
    for f in findings:
        case = ET.SubElement(element, "testcase", classname=f"{suite}.{f.engine}", name=f"{f.rule_id} {f.resource}")
        failure = ET.SubElement(case, "failure", message=f.message, type=f.severity)
        failure.text = f"{f.rule_id} ({f.catalog_id or 'no catalog rule'}) on {f.resource} in {f.location}: {f.message}"
    for rule_id in passed:
        ET.SubElement(element, "testcase", classname=f"{suite}.passed", name=rule_id)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
