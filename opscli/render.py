"""Renderers of a Report: a rich table for people, JSON and SARIF 2.1.0 for pipelines (stable schemas)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from opscli import __version__
from opscli.core import STACK_PREFIX
from opscli.html import to_html
from opscli.model import FRAMEWORKS, Finding, Report, coverage_line, resource_parts, service_of, short_name
from platform_spec import catalog
from platform_spec.result import Status
from platform_spec.sarif import LEVEL as SARIF_LEVEL
from platform_spec.sarif import SCHEMA as SARIF_SCHEMA
from platform_spec.sarif import sarif_rules

JSON_SCHEMA = "opscli.report/v1"
_STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.ERROR: "bold magenta", Status.NOT_APPLICABLE: "dim",
          Status.ACCEPTED: "yellow"}
_SEVERITY = {"CRITICAL": "CRIT", "HIGH": "HIGH", "MEDIUM": "MED", "LOW": "LOW", "INFO": "INFO"}
_SARIF_KIND = {Status.PASS: "pass", Status.FAIL: "fail", Status.ERROR: "review", Status.NOT_APPLICABLE: "notApplicable",
               Status.ACCEPTED: "fail"}  # an accepted FAIL stays a failure, with an accepted suppression


def table(report: Report, console: Console, exit_code: int, *, only_failed: bool = False) -> None:
    """The findings for people: one row each, fitted to the console's width (the resource by its short name),
    identical ERRORs collapsed into one row with their count; then coverage, a summary by service and
    severity, and the totals."""
    shown = [f for f in report.findings if not only_failed or f.status in (Status.FAIL, Status.ERROR)]
    errors: dict[str, list[Finding]] = {}
    for f in shown:
        if f.status is Status.ERROR:
            errors.setdefault(f.reason, []).append(f)
    grid = Table(title=f"opscli {report.command} — {report.target.get('suffix', '')}", header_style="bold",
                 expand=True)
    grid.add_column("status", no_wrap=True, min_width=6)
    grid.add_column("sev", no_wrap=True, min_width=4)
    grid.add_column("rule", no_wrap=True, min_width=14)  # catalog ids are never cut
    grid.add_column("resource", overflow="fold", ratio=1)
    grid.add_column("reason", overflow="fold", ratio=2)
    collapsed: set[str] = set()
    for f in shown:
        same = errors.get(f.reason, []) if f.status is Status.ERROR else []
        if len(same) > 1:
            if f.reason in collapsed:
                continue
            collapsed.add(f.reason)
            grid.add_row(f"[{_STYLE[f.status]}]ERROR[/] ×{len(same)}", "", ", ".join(sorted({x.rule_id for x in same})),
                         f"{len({x.resource for x in same})} resources", escape(f.reason))
            continue
        grid.add_row(f"[{_STYLE[f.status]}]{f.status.value}[/]", _SEVERITY.get(f.severity, f.severity), f.rule_id,
                     escape(short_name(f.resource)), escape(f.reason))
    if shown:
        console.print(grid)
    elif only_failed:
        console.print("no FAIL or ERROR")
    if report.compliance:
        compliance_table(compliance_view(report.findings, report.compliance), report.compliance, console)
    if report.coverage is not None:
        console.print(f"coverage: {coverage_line(report.coverage)}")
    summary = summary_line(report.findings)
    if summary:
        console.print(summary)
    counts = ", ".join(f"{n} {status}" for status, n in report.counts().items() if n)
    console.print(f"{len(report.findings)} checks: {counts}; {report.api_calls} API calls in "
                  f"{report.seconds:.1f}s; exit code {exit_code}")


def summary_line(findings: list[Finding]) -> str:
    """FAIL and ERROR counted by service, with the severities of the FAILs: one line."""
    by_service: dict[str, Counter] = {}
    for f in findings:
        if f.status in (Status.FAIL, Status.ERROR):
            key = f.severity if f.status is Status.FAIL else "ERROR"
            by_service.setdefault(service_of(f), Counter())[key] += 1
    if not by_service:
        return ""
    order = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO", "ERROR"]
    parts = [f"{service} " + " ".join(f"{n} {k}" for k in order if (n := counts[k]))
             for service, counts in sorted(by_service.items())]
    return "not passing, by service: " + "; ".join(parts)


def to_json(report: Report, exit_code: int) -> str:
    """The stable JSON report (schema opscli.report/v1); with --compliance, a "compliance" object too."""
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
    if report.compliance:
        document["compliance"] = {"framework": report.compliance,
                                  "controls": compliance_view(report.findings, report.compliance)}
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def findings_from_json(text: str) -> list[Finding]:
    return [Finding.from_dict(item) for item in json.loads(text)["findings"]]


def resource_lines(template: Any) -> dict[str, int]:
    """Each resource's line in the template as `cdk synth` writes it (JSON, indent 1, keys in their order),
    which is also how CloudFormation's GetTemplate gives it back."""
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        return {}
    lines: dict[str, int] = {}
    inside = False
    for number, line in enumerate(json.dumps(template, indent=1, ensure_ascii=False).splitlines(), 1):
        if line == ' "Resources": {':
            inside = True
        elif inside and line.startswith(" }"):
            break
        elif inside and line.startswith('  "') and not line.startswith('   ') and line.endswith(": {"):
            lines[json.loads(line.strip()[:-3])] = number
    return lines


def to_sarif(report: Report) -> str:
    """SARIF 2.1.0 that code scanning accepts: every result has a physical location (the synthesized template
    and the line of the resource; CDK records no Python source lines, only jsii frames) and its logical
    location; `level` is `none` unless the result is a FAIL (SARIF: kind other than "fail" means level none)."""
    rules = sarif_rules({f.rule_id for f in report.findings})
    stack = report.target.get("stack") or f"{STACK_PREFIX}{report.target.get('suffix', '')}"
    uri = f"cdk.out/{stack}.template.json"  # where `cdk synth` writes it, relative to the repository (%SRCROOT%)
    lines = resource_lines(report.template)

    def location(f: Finding) -> dict:
        parts = resource_parts(f.resource)
        line = lines.get(parts[1]) if parts is not None and parts[1] is not None else None
        return {"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                                     "region": {"startLine": line or 1}},
                "logicalLocations": [{"fullyQualifiedName": f.resource or report.target.get("stack") or "stack",
                                      "kind": "resource"}]}

    def result(f: Finding) -> dict:
        failed = f.status in (Status.FAIL, Status.ACCEPTED)
        out = {"ruleId": f.rule_id, "kind": _SARIF_KIND[f.status],
               "level": SARIF_LEVEL.get(f.severity, "warning") if failed else "none",
               "message": {"text": f.reason or f.title or f.rule_id}, "locations": [location(f)],
               "partialFingerprints": {"streamtechFinding/v1": f"{f.rule_id}|{f.check_id}|{f.resource}"},
               "properties": f.to_dict()}
        if f.status is Status.ACCEPTED:  # SARIF's own way: code scanning shows it as dismissed, with why
            out["suppressions"] = [{"kind": "external", "status": "accepted", "justification": f.reason}]
        return out

    results = [result(f) for f in report.findings]
    document = {
        "version": "2.1.0", "$schema": SARIF_SCHEMA,
        "runs": [{"tool": {"driver": {"name": "opscli", "version": __version__, "rules": rules}},
                  "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "the repository's root"}}},
                  "invocations": [{"executionSuccessful": not any(f.status is Status.ERROR for f in report.findings),
                                   "commandLine": f"opscli {report.command}"}],
                  "results": results}],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def findings_from_sarif(text: str) -> list[Finding]:
    return [Finding.from_dict(result["properties"]) for result in json.loads(text)["runs"][0]["results"]]


REPORT_FORMATS = ("json", "sarif", "table", "html")


def render(report: Report, fmt: str, exit_code: int, *, only_failed: bool = False) -> str:
    """The report as text in `fmt` (the table without colors, at 120 columns), for a --report file."""
    if fmt == "json":
        return to_json(report, exit_code)
    if fmt == "sarif":
        return to_sarif(report)
    if fmt == "html":
        return to_html(report, exit_code)
    import io
    buffer = io.StringIO()
    table(report, Console(file=buffer, width=120, no_color=True, emoji=False, highlight=False, soft_wrap=False),
          exit_code, only_failed=only_failed)
    return buffer.getvalue()




def compliance_view(findings: list[Finding], framework: str) -> dict[str, dict]:
    """The findings grouped by the controls of `framework` their rules map to (catalog references): control ->
    {"rules": [...], PASS/FAIL/ERROR/ACCEPTED/NOT_APPLICABLE counts}. A rule mapped to several controls
    counts under each."""
    field = FRAMEWORKS[framework]
    controls: dict[str, dict] = {}
    for f in findings:
        rule = catalog.CATALOG.get(f.rule_id)
        for control in rule.references.ids(field) if rule else []:
            entry = controls.setdefault(control, {"rules": [], **{s.value: 0 for s in Status}})
            if f.rule_id not in entry["rules"]:
                entry["rules"].append(f.rule_id)
            entry[f.status.value] += 1

    def order(control: str) -> tuple:
        return tuple(int(p) if p.isdigit() else p for p in control.replace("-", ".").split("."))
    return {c: {**controls[c], "rules": sorted(controls[c]["rules"])} for c in sorted(controls, key=order)}


def compliance_table(view: dict[str, dict], framework: str, console: Console) -> None:
    grid = Table(title=f"by {framework} control", header_style="bold", expand=False)
    for column in ("control", "rules", "PASS", "FAIL", "ERROR", "ACCEPTED"):
        grid.add_column(column, overflow="fold")
    for control, entry in view.items():
        verdict = "bold red" if entry["FAIL"] else "bold magenta" if entry["ERROR"] else "green"
        grid.add_row(f"[{verdict}]{control}[/]", ", ".join(entry["rules"]), str(entry["PASS"]), str(entry["FAIL"]),
                     str(entry["ERROR"]), str(entry["ACCEPTED"]))
    console.print(grid)
