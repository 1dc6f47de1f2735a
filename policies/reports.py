"""Machine-readable reports for CI systems: JSON, SARIF 2.1.0 and JUnit XML, from one finding shape."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from xml.etree import ElementTree as ET

from platform_spec.sarif import LEVEL as SARIF_LEVEL
from platform_spec.sarif import SCHEMA as SARIF_SCHEMA
from platform_spec.sarif import sarif_rules


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


def to_json(findings: Sequence[ReportFinding], *, summary: dict | None = None) -> str:
    return json.dumps({"summary": summary or {}, "findings": [asdict(f) for f in findings]}, indent=2,
                      sort_keys=True) + "\n"


def to_sarif(findings: Sequence[ReportFinding], *, tool: str, version: str = "1") -> str:
    rules = sarif_rules({f.rule_id for f in findings})
    results = []
    for f in findings:
        result = {
            "ruleId": f.rule_id,
            "level": SARIF_LEVEL.get(f.severity, "warning"),
            "message": {"text": f.message},
            "properties": {"engine": f.engine, "catalogId": f.catalog_id, "severity": f.severity,
                           "resource": f.resource},
        }
        # Code scanning needs a physical location for every result: the file and line where known, else the
        # app's definition (cdk.json), where a synthesis finding (a construct path) starts.
        result["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": f.location or "cdk.json",
                                                                          "uriBaseId": "%SRCROOT%"},
                                                     "region": {"startLine": max(f.line, 1)}},
                                "logicalLocations": [{"fullyQualifiedName": f.resource or "stack"}]}]
        results.append(result)
    sarif = {"version": "2.1.0", "$schema": SARIF_SCHEMA,
             "runs": [{"tool": {"driver": {"name": tool, "version": version, "rules": rules}}, "results": results}]}
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
