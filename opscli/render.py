"""Renderers of a Report: a rich table for people, JSON and SARIF 2.1.0 for pipelines (stable schemas).

The table is written through `terminal.VisibleConsole` wherever it goes (a terminal, a pipe, a --report file);
JSON and SARIF keep AWS's text as data, with every character a terminal acts on as a JSON escape."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from opscli import __version__, terminal
from opscli.explain import explanation
from opscli.html import to_html
from opscli.model import Finding, Report, compliance_view, declared_id, path_status, short_name, source_of
from opscli.sanitize import visible_json
from platform_spec import sarif
from platform_spec.exit_codes import EXIT_INCOMPLETE
from platform_spec.result import Status
from platform_spec.sarif import LEVEL as SARIF_LEVEL
from platform_spec.sarif import SCHEMA as SARIF_SCHEMA
from platform_spec.sarif import sarif_rules
from platform_utils import source_map

JSON_SCHEMA = "opscli.report/v1"
_SARIF_KIND = {Status.PASS: "pass", Status.FAIL: "fail", Status.ERROR: "review", Status.NOT_APPLICABLE: "notApplicable",
               Status.ACCEPTED: "fail"}  # an accepted FAIL stays a failure, with an accepted suppression


def to_json(report: Report, exit_code: int) -> str:
    """The stable JSON report (schema opscli.report/v1); its "provenance" (caller, template hash, commit); with
    --compliance, a "compliance" object too; from an audit, its "paths" across the stack's perimeter, each with the
    status of the finding that judges it. Each finding on a declared resource has its "source" (the Python file
    and line that declare it, null where none is known), and "source_map" says which map placed them and, when
    some could not be, why."""
    located = report.located()
    document = {
        "schema": JSON_SCHEMA,
        "tool": {"name": "opscli", "version": __version__},
        "command": report.command,
        "time": report.created.isoformat(),
        "target": report.target,
        "summary": {"exit_code": exit_code, "api_calls": report.api_calls, "seconds": round(report.seconds, 3),
                    **report.counts()},
        "findings": [{**f.to_dict(), "source": _source(located, f), "explanation": explanation(f)}
                     for f in report.findings],
        "source_map": {"file": located.origin, "warning": report.source_warning(located)},
    }
    # Who ran it and on what: the caller's ARN, the template's SHA-256 as read, the checkout's commit (null: unknown)
    document["provenance"] = report.provenance.to_dict()
    if report.coverage is not None:
        document["coverage"] = report.coverage
    if report.paths is not None:
        document["paths"] = [{**path.to_dict(), "status": getattr(path_status(path, report.findings), "value", None)}
                             for path in report.paths]
    if report.compliance:
        document["compliance"] = {"framework": report.compliance,
                                  "controls": compliance_view(report.findings, report.compliance)}
    return visible_json(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)) + "\n"


def _source(located: source_map.Located, f: Finding) -> dict[str, Any] | None:
    site = source_of(located, f)
    return site.to_dict() if site is not None else None


def findings_from_json(text: str) -> list[Finding]:
    names = {f.name for f in dataclasses.fields(Finding)}
    return [Finding.from_dict({k: v for k, v in item.items() if k in names}) for item in json.loads(text)["findings"]]


SARIF_NOTIFICATIONS = 100  # ERROR findings listed as tool notifications when they are not results


def to_sarif(report: Report, *, sites: Mapping[str, str] | None = None, include_pass: bool = False,
             help_base: str | None = None, exit_code: int | None = None) -> str:
    """SARIF 2.1.0 for GitHub code scanning. By default only failing results (FAIL, and ACCEPTED as a suppressed
    failure): code scanning shows every result whatever its kind. A check that could not look (ERROR) is a tool
    execution notification and makes the run unsuccessful, as exit code 3 does (its `exitCode`); `include_pass` adds
    every result with its kind.
    Each result is located at the Python line that declares its resource (the report's source map, or `sites`),
    a result on something the stack does not declare (a secret it imports) at the stack's line; where no line is
    known, on the app's cdk.json as a whole, never on a made-up line. Its partialFingerprints come from rule,
    logical id and check (never a physical id), and automationDetails keeps audit, drift and rotate-check
    uploads apart."""
    stack = report.stack
    located = (report.located() if sites is None else
               source_map.locate(report.template, source_map.SourceMap(sites), stack))
    fallback = located.stack if located.stack is not None else sarif.FALLBACK_LOCATION
    kept = [f for f in report.findings if include_pass or f.status in (Status.FAIL, Status.ACCEPTED)]

    def location(f: Finding) -> dict:
        site = source_of(located, f)
        file, line = site if site is not None else (
            sarif.FALLBACK_LOCATION if declared_id(f) is not None else fallback)
        return sarif.location(file, line, f.resource or stack)

    def result(f: Finding) -> dict:
        failed = f.status in (Status.FAIL, Status.ACCEPTED)
        where = short_name(f.resource)
        explained = explanation(f)
        text = f"{where}: {f.reason or f.title or f.rule_id}"
        if failed and explained["remediation"]["now"]:
            text += f" Fix now: {explained['remediation']['now']}"
        out = {"ruleId": f.rule_id, "kind": _SARIF_KIND[f.status],
               "level": SARIF_LEVEL.get(f.severity, "warning") if failed else "none",
               "message": {"text": text}, "locations": [location(f)],
               "partialFingerprints": {sarif.FINGERPRINT: sarif.fingerprint(f.rule_id, where, f.check_id)},
               "properties": {**f.to_dict(), "source": _source(located, f), "explanation": explained}}
        if f.status is Status.ACCEPTED:  # SARIF's own way: code scanning shows it as dismissed, with why
            out["suppressions"] = [{"kind": "external", "status": "accepted", "justification": f.reason}]
        return out

    errors = [f for f in report.findings if f.status is Status.ERROR]
    # A run that could not complete (exit code 3: a check could not look, or a report could not be written after
    # the run) did not execute successfully, whatever its results say; the exit code is SARIF's own `exitCode`.
    invocation: dict[str, Any] = {"executionSuccessful": not errors and exit_code != EXIT_INCOMPLETE,
                                  "commandLine": f"opscli {report.command}"}
    if exit_code is not None:
        invocation["exitCode"] = exit_code
    if errors and not include_pass:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": f"{f.rule_id} could not be judged on {f.resource}: {f.reason}"}}
            for f in errors[:SARIF_NOTIFICATIONS]]
    unplaced = report.source_warning(located)
    if unplaced:  # where the results were put, and why not on their lines
        invocation["toolConfigurationNotifications"] = [{"level": "warning", "message": {"text": unplaced}}]
    document = {
        "version": "2.1.0", "$schema": SARIF_SCHEMA,
        "runs": [{"tool": {"driver": {"name": "opscli", "version": __version__,
                                      **({"informationUri": f"{help_base}/README.md"} if help_base else {}),
                                      "rules": sarif_rules({f.rule_id for f in kept}, base=help_base)}},
                  "automationDetails": {"id": f"opscli/{report.command.replace(' ', '-')}/{stack}/"},
                  "originalUriBaseIds": sarif.ROOT_BASE,
                  "invocations": [invocation],
                  "results": [result(f) for f in kept]}],
    }
    return visible_json(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)) + "\n"


def findings_from_sarif(text: str) -> list[Finding]:
    names = {f.name for f in dataclasses.fields(Finding)}
    return [Finding.from_dict({k: v for k, v in result["properties"].items() if k in names})
            for result in json.loads(text)["runs"][0]["results"]]


REPORT_FORMATS = ("json", "sarif", "table", "html", "asff", "ocsf")


def render(report: Report, fmt: str, exit_code: int, *, show_all: bool = False,
           sites: Mapping[str, str] | None = None, include_pass: bool = False, past: Any = None) -> str:
    """The report as text in `fmt` (the terminal view without colors, at 120 columns), for a --report file."""
    if fmt == "json":
        return to_json(report, exit_code)
    if fmt == "sarif":
        return to_sarif(report, sites=sites, include_pass=include_pass, help_base=sarif.help_base(),
                        exit_code=exit_code)
    if fmt == "html":
        return to_html(report, exit_code, past=past)
    if fmt in ("asff", "ocsf"):
        from opscli import fleet

        return fleet.asff_text(report, past) if fmt == "asff" else fleet.ocsf_text(report, past)
    import io
    buffer = io.StringIO()
    terminal.table(report, terminal.VisibleConsole(file=buffer, width=120, no_color=True, emoji=False,
                                                   highlight=False, soft_wrap=False), exit_code, show_all=show_all)
    return buffer.getvalue()
