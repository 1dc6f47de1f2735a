"""Renderers of a Report: a rich table for people, JSON and SARIF 2.1.0 for pipelines (stable schemas)."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from opscli import __version__
from opscli.model import Finding, Report
from platform_spec.result import Status
from policies.reports import sarif_rules

JSON_SCHEMA = "opscli.report/v1"
_STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.ERROR: "bold magenta", Status.NOT_APPLICABLE: "dim"}
_SARIF_KIND = {Status.PASS: "pass", Status.FAIL: "fail", Status.ERROR: "review", Status.NOT_APPLICABLE: "notApplicable"}
_SARIF_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note", "INFO": "note"}


def table(report: Report, console: Console, exit_code: int) -> None:
    grid = Table(title=f"opscli {report.command} — {report.target.get('suffix', '')}", show_lines=False,
                 header_style="bold")
    for column in ("status", "severity", "rule", "check", "resource", "reason"):
        grid.add_column(column, overflow="fold")
    for f in report.findings:
        grid.add_row(f"[{_STYLE[f.status]}]{f.status.value}[/]", f.severity, f.rule_id, f.check_id,
                     escape(f.resource), escape(f.reason))
    console.print(grid)
    counts = ", ".join(f"{n} {status}" for status, n in report.counts().items() if n)
    if report.coverage is not None:
        console.print(f"coverage: {coverage_line(report.coverage)}")
    console.print(f"{len(report.findings)} checks: {counts}; {report.api_calls} API calls in "
                  f"{report.seconds:.1f}s; exit code {exit_code}")


def coverage_line(coverage: dict) -> str:
    """declared / read, and the count behind every reason a declared resource was not read."""
    parts = [f"{coverage['read']} of {coverage['declared']} declared resources read"]
    if coverage.get("missing"):
        parts.append(f"{len(coverage['missing'])} missing")
    if coverage.get("errors"):
        parts.append(f"{len(coverage['errors'])} could not be read")
    if coverage.get("no_reader"):
        parts.append(f"types without a reader: {', '.join(sorted(coverage['no_reader']))}")
    if coverage.get("not_emulated"):
        parts.append(f"not emulated locally: {', '.join(sorted(coverage['not_emulated']))}")
    if coverage.get("unverifiable"):
        parts.append(f"{coverage['unverifiable']} declared properties not in the answers")
    return "; ".join(parts)


def to_json(report: Report, exit_code: int) -> str:
    document = {
        "schema": JSON_SCHEMA,
        "tool": {"name": "opscli", "version": __version__},
        "command": report.command,
        "target": report.target,
        "summary": {"exit_code": exit_code, "api_calls": report.api_calls, "seconds": round(report.seconds, 3),
                    **report.counts()},
        "findings": [f.to_dict() for f in report.findings],
    }
    if report.coverage is not None:
        document["coverage"] = report.coverage
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def findings_from_json(text: str) -> list[Finding]:
    return [Finding.from_dict(item) for item in json.loads(text)["findings"]]


def to_sarif(report: Report) -> str:
    rules = sarif_rules({f.rule_id for f in report.findings})
    results = [{
        "ruleId": f.rule_id,
        "kind": _SARIF_KIND[f.status],
        "level": _SARIF_LEVEL.get(f.severity, "warning") if f.status is Status.FAIL else (
            "error" if f.status is Status.ERROR else "none"),
        "message": {"text": f.reason or f.title or f.rule_id},
        "locations": [{"logicalLocations": [{"fullyQualifiedName": f.resource, "kind": "resource"}]}],
        "properties": f.to_dict(),
    } for f in report.findings]
    document = {
        "version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{"tool": {"driver": {"name": "opscli", "version": __version__, "rules": rules}},
                  "invocations": [{"executionSuccessful": not any(f.status is Status.ERROR for f in report.findings),
                                   "commandLine": f"opscli {report.command}"}],
                  "results": results}],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def findings_from_sarif(text: str) -> list[Finding]:
    return [Finding.from_dict(result["properties"]) for result in json.loads(text)["runs"][0]["results"]]
