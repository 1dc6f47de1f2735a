"""The HTML report: one self-contained static file (inline CSS and SVG, no scripts, nothing fetched when it is
opened) for a manager or an auditor: the verdict, a posture matrix (services × rules: PASS, FAIL, ERROR,
ACCEPTED at a glance), the architecture coloured by posture, the findings that need attention with the
catalog's words and remediation, and the coverage."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from html import escape
from typing import Any

from opscli import __version__
from opscli.diagram import svg
from opscli.model import Finding, Report, coverage_line, resource_parts, service_of, short_name
from platform_spec import catalog
from platform_spec.result import Status

WORST = [Status.FAIL, Status.ERROR, Status.ACCEPTED, Status.PASS, Status.NOT_APPLICABLE]
CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#263238;max-width:1400px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #cfd8dc}
.meta{color:#607d8b;font-size:13px}
.verdict{display:inline-block;padding:6px 12px;border-radius:4px;color:#fff;font-weight:bold;margin:10px 0}
.cards span{display:inline-block;margin-right:18px;font-size:15px}
table{border-collapse:collapse;font-size:12px;margin-top:8px} th,td{border:1px solid #cfd8dc;padding:4px 6px;
text-align:left;vertical-align:top} th{background:#eceff1}
td.PASS{background:#e8f5e9;color:#2e7d32} td.FAIL{background:#c62828;color:#fff;font-weight:bold}
td.ERROR{background:#8e24aa;color:#fff;font-weight:bold} td.ACCEPTED{background:#f9a825;color:#000}
td.NOT_APPLICABLE{color:#90a4ae} td.none{background:#fafafa}
.matrix th.rule{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}
.status{font-weight:bold} .FAILtext{color:#c62828} .ERRORtext{color:#8e24aa} .ACCEPTEDtext{color:#b28704}
.diagram{overflow-x:auto;border:1px solid #eceff1;padding:8px}
"""
VERDICT = {0: ("#2e7d32", "COMPLIANT"), 1: ("#c62828", "FINDINGS"),
           3: ("#8e24aa", "INCOMPLETE: some checks could not look"), 130: ("#8e24aa", "INTERRUPTED")}


def worst(statuses: list[Status]) -> Status | None:
    return min(statuses, key=WORST.index) if statuses else None


def matrix(findings: list[Finding]) -> tuple[list[str], list[str], dict[tuple[str, str], list[Finding]]]:
    """(services, rules, (service, rule) -> findings)."""
    cells: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        cells.setdefault((service_of(f), f.rule_id), []).append(f)
    return sorted({s for s, _ in cells}), sorted({r for _, r in cells}), cells


def type_status(findings: list[Finding]) -> dict[str, str]:
    """Resource type -> its worst status (for the architecture picture)."""
    by_type: dict[str, list[Status]] = {}
    for f in findings:
        parts = resource_parts(f.resource)
        if parts is not None:
            by_type.setdefault(parts[0], []).append(f.status)
    return {t: w.value for t, s in by_type.items() if (w := worst(s)) is not None}


def to_html(report: Report, exit_code: int, template: Mapping[str, Any] | None = None,
            now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    template = template if template is not None else report.template
    counts = report.counts()
    colour, verdict = VERDICT.get(exit_code, ("#8e24aa", f"exit {exit_code}"))
    services, rules, cells = matrix(report.findings)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>opscli {escape(report.command)} — {escape(report.target.get('suffix', ''))}</title>",
           f"<style>{CSS}</style></head><body>",
           f"<h1>opscli {escape(report.command)}: "
           f"{escape(report.target.get('stack') or report.target.get('suffix', ''))}</h1>",
           f'<div class="meta">{now.strftime("%Y-%m-%d %H:%M UTC")} · opscli {escape(__version__)} · '
           f'{report.api_calls} read-only API calls in {report.seconds:.1f} s · exit code {exit_code}</div>',
           f'<div class="verdict" style="background:{colour}">{escape(verdict)}</div>',
           '<div class="cards">' + "".join(f'<span class="status {s}text">{n} {s}</span>'
                                           for s, n in counts.items() if n) + "</div>"]
    if report.coverage is not None:
        out.append(f'<p class="meta">coverage: {escape(coverage_line(report.coverage))}</p>')
    out += ["<h2>Posture matrix</h2>", '<p class="meta">Services × catalog rules; each cell is the worst status of '
            'that rule on that service\'s resources, with the number of checks.</p>',
            '<table class="matrix"><tr><th>service</th>' +
            "".join(f'<th class="rule" title="{escape(catalog.CATALOG[r].title) if r in catalog.CATALOG else r}">'
                    f"{escape(r)}</th>" for r in rules) + "</tr>"]
    for service in services:
        row = [f"<tr><th>{escape(service)}</th>"]
        for rule in rules:
            found = cells.get((service, rule), [])
            state = worst([f.status for f in found])
            if state is None:
                row.append('<td class="none"></td>')
            else:
                row.append(f'<td class="{state.value}" title="{len(found)} check(s)">{state.value} {len(found)}</td>')
        out.append("".join(row) + "</tr>")
    out.append("</table>")
    if template is not None:
        out += ["<h2>Architecture</h2>", '<p class="meta">Drawn from the synthesized template; a box is coloured by '
                "the worst status of its resources in this run.</p>",
                f'<div class="diagram">{svg(template, type_status(report.findings))}</div>']
    attention = [f for f in report.findings if f.status in (Status.FAIL, Status.ERROR, Status.ACCEPTED)]
    out += [f"<h2>Needs attention ({len(attention)})</h2>"]
    if attention:
        out.append("<table><tr><th>status</th><th>severity</th><th>rule</th><th>resource</th><th>what was found</th>"
                   "<th>remediation</th></tr>")
        for f in attention:
            rule = catalog.CATALOG.get(f.rule_id)
            out.append(f'<tr><td class="{f.status.value}">{f.status.value}</td><td>{escape(f.severity)}</td>'
                       f"<td><b>{escape(f.rule_id)}</b><br>{escape(rule.title if rule else f.title)}</td>"
                       f'<td title="{escape(f.resource)}">{escape(short_name(f.resource))}</td>'
                       f"<td>{escape(f.reason)}</td><td>{escape(rule.remediation if rule else '')}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p>Nothing: every check passed.</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
