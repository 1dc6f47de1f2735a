"""The terminal view: the answer first (verdict and counts, then what is not passing by service and severity),
then one row per finding that needs someone (FAIL, ERROR), then what each FAIL means and how to fix it. A clean
run fits one screen; `--all` adds every row (PASS, ACCEPTED, NOT_APPLICABLE). Rows are never broken over lines:
a long resource or reason is cut with an ellipsis (the whole of it is in JSON, SARIF and HTML).

Everything opscli prints through rich goes through `VisibleConsole`, so no character from AWS or from a file
acts on the operator's terminal, whichever view printed it; `cell` is how a view puts such a value into markup."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, RenderableType
from rich.markup import escape
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from opscli.explain import explanation
from opscli.model import (
    Finding,
    Report,
    compliance_view,
    coverage_line,
    resource_parts,
    service_of,
    short_name,
    unverified_groups,
)
from opscli.sanitize import visible
from platform_spec.result import Status

STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.ERROR: "bold magenta", Status.NOT_APPLICABLE: "dim",
         Status.ACCEPTED: "yellow"}
SHORT_SEVERITY = {"CRITICAL": "CRIT", "HIGH": "HIGH", "MEDIUM": "MED", "LOW": "LOW", "INFO": "INFO"}
SEVERITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")
NEEDS_SOMEONE = (Status.FAIL, Status.ERROR)
DETAILS = 5  # FAILs explained below the rows by default (the most severe first); --all explains every one


class VisibleConsole(Console):
    """A rich Console on which no character from outside opscli acts on the terminal. Every string it is given
    (markup, a table cell, a title) is passed through `visible` before rich reads it, so that widths and cuts
    are those of the escapes the operator sees and rich does not silently drop a CR or BEL; every segment it
    renders, whoever built it (a Text, a progress bar), is passed through `visible` again. Only rich's own
    control segments (cursor moves) and the styles it writes from them reach the terminal as codes. Line feeds
    are kept, as they are the views' own layout: a value that must stay on one row goes through `cell`."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(visible(text, lines=True), **kwargs)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control or segment.text.isprintable():
                yield segment
                continue
            shown = visible(segment.text, lines=True)
            yield segment if shown == segment.text else Segment(shown, segment.style)


def cell(value: object, *, lines: bool = False) -> str:
    """A value from outside opscli (AWS's answers, a template, a file) as markup for a view: its control, format
    and bidi characters shown as escapes (one row unless `lines`), then its brackets escaped so that rich shows
    them instead of reading a style or a link."""
    return escape(visible(value, lines=lines))


def verdict(report: Report) -> str:
    counts = report.counts()
    if counts["ERROR"]:
        return "INCOMPLETE" if not counts["FAIL"] else "FAIL"
    if counts["FAIL"]:
        return "FAIL"
    return "PASS" if report.findings else "NOTHING JUDGED"


def resource_cell(f: Finding) -> str:
    """The logical id and, where known, the physical id or ARN (the one an operator looks up in the console)."""
    parts = resource_parts(f.resource)
    if parts is not None and parts[2]:
        return f"{parts[1]} ({parts[2]})"
    return short_name(f.resource)


def _header(report: Report, console: Console, exit_code: int) -> None:
    target = report.target
    where = " · ".join(part for part in (
        target.get("stack") or (f"suffix {target['suffix']}" if target.get("suffix") else ""),
        target.get("region") or "", f"account {target['account']}" if target.get("account") else "",
        target.get("endpoint") or "") if part)
    console.print(f"[bold]opscli {cell(report.command)}[/] — {cell(where)}", overflow="ellipsis", no_wrap=True)
    counts = report.counts()
    shown = " · ".join(f"{n} {status}" for status, n in counts.items() if n) or "no checks"
    word = verdict(report)
    style = {"PASS": "bold green", "FAIL": "bold red"}.get(word, "bold magenta")
    console.print(f"[{style}]{word}[/]  {shown}  (exit code {exit_code}; {report.api_calls} API calls in "
                  f"{report.seconds:.1f}s)")
    if report.coverage is not None:
        console.print(f"coverage: {cell(coverage_line(report.coverage))}")


def _by_service(findings: list[Finding], console: Console) -> None:
    """Services with something not passing, by severity (FAIL) and ERROR."""
    counted: dict[str, Counter] = {}
    for f in findings:
        if f.status in NEEDS_SOMEONE:
            counted.setdefault(service_of(f), Counter())[f.severity if f.status is Status.FAIL else "ERROR"] += 1
    if not counted:
        return
    console.print("not passing, by service:")
    grid = Table(header_style="bold", box=None, pad_edge=False)
    grid.add_column("service", no_wrap=True, overflow="ellipsis")
    columns = [s for s in (*SEVERITY_ORDER, "ERROR") if any(c[s] for c in counted.values())]
    for column in columns:
        grid.add_column(SHORT_SEVERITY.get(column, column), justify="right", no_wrap=True)
    for service, counts in sorted(counted.items()):
        grid.add_row(cell(service), *(str(counts[c]) if counts[c] else "·" for c in columns))
    console.print(grid)


def _rows(findings: list[Finding], console: Console, title: str) -> None:
    errors: dict[str, list[Finding]] = {}
    for f in findings:
        if f.status is Status.ERROR:
            errors.setdefault(f.reason, []).append(f)
    console.print(f"{title}:")
    grid = Table(header_style="bold", expand=True, box=box.MINIMAL, pad_edge=False, show_edge=False)
    grid.add_column("status", no_wrap=True, min_width=9)
    grid.add_column("rule", no_wrap=True, min_width=13)  # catalog ids are never cut
    grid.add_column("resource", no_wrap=True, overflow="ellipsis", ratio=1)
    grid.add_column("found", no_wrap=True, overflow="ellipsis", ratio=1)
    collapsed: set[str] = set()
    for f in findings:
        same = errors.get(f.reason, []) if f.status is Status.ERROR else []
        if len(same) > 1:  # one unreachable endpoint is one row, not fifty
            if f.reason in collapsed:
                continue
            collapsed.add(f.reason)
            rules = ", ".join(sorted({x.rule_id for x in same}))
            grid.add_row(f"[{STYLE[f.status]}]ERROR[/] ×{len(same)}", cell(rules),
                         f"{len({x.resource for x in same})} resources", cell(f.reason))
            continue
        judged = f.status in (Status.FAIL, Status.ACCEPTED)
        severity = f" {SHORT_SEVERITY.get(f.severity, f.severity)}" if judged else ""
        grid.add_row(f"[{STYLE[f.status]}]{f.status.value}[/]{severity}", cell(f.rule_id), cell(resource_cell(f)),
                     cell(f.reason))
    console.print(grid)


def _details(failures: list[Finding], console: Console, limit: int | None) -> None:
    shown = failures if limit is None else failures[:limit]
    for f in shown:
        e = explanation(f)
        console.print(f"\n[bold red]{cell(f.rule_id)}[/] [bold]{cell(e['title'])}[/]")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, style="dim")
        grid.add_column(overflow="fold")
        grid.add_row(" resource", cell(f.resource))
        grid.add_row(" found", cell(f.reason, lines=True))
        for label, text in (("why", e["rationale"]), ("fix now", e["remediation"]["now"]),
                            ("in code", e["remediation"]["in_code"]),
                            ("controls", "; ".join(f"{name} {', '.join(ids)}" for name, ids in e["controls"].items()))):
            if text:
                grid.add_row(f" {label}", cell(text, lines=True))
        console.print(grid)
    if len(shown) < len(failures):
        console.print(f"\n… {len(failures) - len(shown)} more FAIL explained with --all, or in -o json / "
                      "--report html")


def table(report: Report, console: Console, exit_code: int, *, show_all: bool = False) -> None:
    """The report for people (see the module's docstring)."""
    _header(report, console, exit_code)
    _by_service(report.findings, console)
    rows = report.findings if show_all else [f for f in report.findings if f.status in NEEDS_SOMEONE]
    if rows:
        _rows(rows, console, "every check" if show_all else "needs someone")
    elif report.findings:
        others = len(report.findings)
        console.print(f"nothing needs someone: no FAIL, no ERROR (--all lists the {others} checks)")
    if report.compliance:
        compliance_table(compliance_view(report.findings, report.compliance), report.compliance, console)
    severity = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    failures = sorted((f for f in report.findings if f.status is Status.FAIL),
                      key=lambda f: severity.get(f.severity, len(severity)))
    _details(failures, console, None if show_all else DETAILS)
    _unverified(report, console)


def _unverified(report: Report, console: Console) -> None:
    """The declared properties drift could not compare, by resource: wrapped, never cut."""
    groups = unverified_groups(report.coverage or {})
    if not groups:
        return
    count = sum(len(properties) for _, _, properties in groups)
    console.print(f"\nnot compared ({count} declared properties; the resources' physical ids in -o json):")
    grid = Table.grid(padding=(0, 1))  # a wrapped line stays indented under its resource
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for resource, why, properties in groups:
        grid.add_row(" -", f"{cell(short_name(resource))}: {cell(', '.join(properties))} — {cell(why)}")
    console.print(grid)


def compliance_table(view: dict[str, dict], framework: str, console: Console) -> None:
    grid = Table(title=f"by {framework} control", header_style="bold", expand=False)
    for column in ("control", "rules", "PASS", "FAIL", "ERROR", "ACCEPTED"):
        grid.add_column(column, overflow="fold")
    for control, entry in view.items():
        verdict = "bold red" if entry["FAIL"] else "bold magenta" if entry["ERROR"] else "green"
        grid.add_row(f"[{verdict}]{control}[/]", ", ".join(entry["rules"]), str(entry["PASS"]), str(entry["FAIL"]),
                     str(entry["ERROR"]), str(entry["ACCEPTED"]))
    console.print(grid)
