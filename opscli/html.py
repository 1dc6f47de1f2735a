"""The HTML report: one self-contained static file (inline CSS and SVG, no scripts, nothing fetched when it is opened)
that an auditor can file as evidence. The header says what was looked at (stack, account, region, endpoint), when,
by which opscli, who ran it (the caller's ARN), on which template (its SHA-256 as read) and from which commit. Then
come the verdict, the trend of FAIL over the past runs that could look (the local history; the runs that could not
are counted beside it), and a posture matrix (catalog rules x services: PASS, FAIL, ERROR, ACCEPTED at a glance).
After it, an audit's perimeter (who can reach in, where the data goes, red where a finding fails the path), the
architecture coloured by posture; the findings that need attention, each with its rationale, evidence (what was
found, read with which calls), controls, what to do now and in code, and since when it has failed; the register of
accepted deviations (approver, reason, expiry); and the coverage. It fits 1,400 px and prints to PDF."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from opscli import __version__
from opscli.diagram import svg
from opscli.explain import explanation
from opscli.fleet import finding_id
from opscli.history import Past, day
from opscli.model import (
    Finding,
    Report,
    coverage_line,
    path_status,
    resource_parts,
    service_of,
    short_name,
    source_of,
    unverified_groups,
    worst,
)
from opscli.perimeter import svg as perimeter_svg
from opscli.sanitize import visible
from platform_spec import catalog
from platform_spec.path import IN, Path
from platform_spec.result import Status

CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#263238;max-width:1352px}
*{box-sizing:border-box} td,th{overflow-wrap:anywhere}
.evidence td{max-width:420px} .small{font-size:11px;color:#546e7a}
.trend rect.bar-fail{fill:#c62828}
@media print{body{margin:0;max-width:none} h2{break-after:avoid} tr,.diagram,svg{break-inside:avoid}
.verdict,td.FAIL,td.ERROR,td.ACCEPTED,td.PASS{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #cfd8dc}
.meta{color:#607d8b;font-size:13px}
.verdict{display:inline-block;padding:6px 12px;border-radius:4px;color:#fff;font-weight:bold;margin:10px 0}
.cards span{display:inline-block;margin-right:18px;font-size:15px}
table{border-collapse:collapse;font-size:12px;margin-top:8px} th,td{border:1px solid #cfd8dc;padding:4px 6px;
text-align:left;vertical-align:top} th{background:#eceff1}
td.PASS{background:#e8f5e9;color:#2e7d32} td.FAIL{background:#c62828;color:#fff;font-weight:bold}
td.ERROR{background:#8e24aa;color:#fff;font-weight:bold} td.ACCEPTED{background:#f9a825;color:#000}
td.NOT_APPLICABLE{color:#90a4ae} td.none{background:#fafafa}
.matrix th.service{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:normal}
.matrix td{white-space:nowrap;text-align:center} .matrix th.rule{white-space:nowrap}
.status{font-weight:bold} .FAILtext{color:#c62828} .ERRORtext{color:#8e24aa} .ACCEPTEDtext{color:#b28704}
.diagram{border:1px solid #eceff1;padding:8px} .diagram svg{max-width:100%;height:auto}
.crossings th,.crossings td:first-child{white-space:nowrap}
"""


def escape(text: str) -> str:
    """Text for the page: control, format and bidi characters shown as their escapes (a U+202E in a resource id
    would make the evidence read reversed; an ESC acts on a terminal that shows the file), then HTML-escaped."""
    return html.escape(visible(text, lines=True))


VERDICT = {0: ("#2e7d32", "COMPLIANT"), 1: ("#c62828", "FINDINGS"),
           3: ("#8e24aa", "INCOMPLETE: some checks could not look"), 130: ("#8e24aa", "INTERRUPTED")}


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


def _header(report: Report, exit_code: int) -> list[str]:
    target, made = report.target, report.provenance
    where = [("stack", target.get("stack") or f"suffix {target.get('suffix', '')}"),
             ("account", target.get("account") or "not read"), ("region", target.get("region") or ""),
             ("endpoint", target.get("endpoint") or "AWS")]
    by = [("run by", made.caller or "not read (sts:GetCallerIdentity was not called or did not answer)"),
          ("template sha256", f"{made.template_sha256} (of {made.template_of})" if made.template_sha256 else
           "not read"),
          ("commit", made.commit or "none (not run from the app's git checkout)")]
    return [f"<h1>opscli {escape(report.command)}: {escape(where[0][1])}</h1>",
            '<div class="meta">' + " · ".join(f"{k} <b>{escape(str(v))}</b>" for k, v in where if v) + "</div>",
            f'<div class="meta">{report.created.strftime("%Y-%m-%d %H:%M:%S UTC")} · opscli {escape(__version__)} · '
            f'{report.api_calls} read-only API call{"" if report.api_calls == 1 else "s"} in {report.seconds:.1f} s · '
            f'exit code {exit_code}</div>',
            '<div class="meta provenance">' + " · ".join(f"{k} <b>{escape(v)}</b>" for k, v in by) + "</div>"]


def _trend(past: Past | None) -> list[str]:
    if past is None:
        return ['<p class="meta">No history: this run was not recorded (--no-history, or the history file could '
                "not be used).</p>"]
    out = []
    runs = past.trend
    if runs:
        top = max([1] + [r["FAIL"] for r in runs])
        width, bar = 24 * len(runs), 18
        bars = []
        for n, run in enumerate(runs):
            fail_h = 60 * run["FAIL"] / top
            bars.append(f'<rect class="bar-fail" x="{n * 24}" y="{64 - fail_h:.1f}" width="{bar}" '
                        f'height="{fail_h:.1f}"><title>{escape(day(run["time"]))}: {run["FAIL"]} FAIL</title></rect>')
        rows = "".join(f"<tr><td>{escape(day(r['time']))}</td><td>{r['FAIL']}</td><td>{r['PASS']}</td>"
                       f"<td>{r['exit_code']}</td></tr>" for r in runs[-5:])
        out += [f'<p class="meta">FAIL in the last {len(runs)} run(s) of this command on this stack that could look '
                "(local history).</p>",
                f'<svg class="trend" xmlns="http://www.w3.org/2000/svg" width="{width}" height="66" role="img" '
                f'aria-label="FAIL per run">{"".join(bars)}<line x1="0" y1="64.5" x2="{width}" y2="64.5" '
                'stroke="#90a4ae"/></svg>',
                "<table><tr><th>run</th><th>FAIL</th><th>PASS</th><th>exit</th></tr>" + rows + "</table>"]
    else:
        out.append('<p class="meta">No run of this command on this stack that could look is in the local history '
                   "yet.</p>")
    if past.could_not_look:
        last = past.could_not_look[0]
        out.append(f'<p class="meta">{len(past.could_not_look)} run(s) could not look (exit 3 or 130: an endpoint '
                   "down, the wrong account, checks without an answer) and are left out of the trend and of "
                   f"&quot;failing since&quot;; the last at {escape(day(last['time']))}, exit {last['exit_code']}, "
                   f"{last['ERROR']} ERROR.</p>")
    return out


def _matrix(report: Report) -> list[str]:
    services, rules, cells = matrix(report.findings)
    out = ["<h2>Posture matrix</h2>", '<p class="meta">Catalog rules × services; each cell is the worst status of '
           "that rule on that service's resources, with the number of checks.</p>",
           '<table class="matrix"><tr><th>rule</th>' +
           "".join(f'<th class="service">{escape(s)}</th>' for s in services) + "</tr>"]
    for rule in rules:
        words = catalog.CATALOG[rule].title if rule in catalog.CATALOG else rule
        row = [f'<tr><th class="rule" title="{escape(words)}">{escape(rule)}</th>']
        for service in services:
            found = cells.get((service, rule), [])
            state = worst([f.status for f in found])
            row.append('<td class="none"></td>' if state is None else
                       f'<td class="{state.value}" title="{len(found)} check(s)">{state.value} {len(found)}</td>')
        out.append("".join(row) + "</tr>")
    return [*out, "</table>"]


def _perimeter(report: Report) -> list[str]:
    """The picture of the stack's paths in and out, then the ones that cross the perimeter as a table."""
    paths = report.paths or []
    ins = sum(1 for p in paths if p.direction == IN)
    crossing = [(p, path_status(p, report.findings)) for p in paths if p.outside]
    out = ["<h2>Perimeter</h2>",
           f'<p class="meta">Drawn from the same live read the rules judged: {ins} path(s) in (who a resource policy, '
           f"grant, bus policy or the account's IAM admits), {len(paths) - ins} out (where the data is delivered or "
           f"copied); {len(crossing)} cross the perimeter. An edge is red where a FAIL finding names it (hover for "
           "the rule and what opens it).</p>"]
    if report.incomplete:
        why = {"timeout": "cut short by --timeout", "interrupted": "interrupted"}.get(report.incomplete, "incomplete")
        out.append(f'<p class="meta"><b>Incomplete:</b> the read was {why}; the paths of what was not read are '
                   "missing.</p>")
    out.append(f'<div class="diagram">{perimeter_svg(paths, report.findings)}</div>')
    if crossing:
        out.append('<table class="crossings"><tr><th>status</th><th>rule</th><th>resource</th><th>who or where'
                   "</th><th>through</th><th>why outside · what it may do</th></tr>" +
                   "".join(_crossing(p, status) for p, status in crossing) + "</table>")
    return out


def _crossing(path: Path, status: Status | None) -> str:
    state = status.value if status else "none"
    may = f'<div class="small">may: {escape(", ".join(path.actions))}</div>' if path.actions else ""
    return (f'<tr><td class="{state}">{status.value if status else "-"}</td><td>{escape(path.rule_id)}</td>'
            f'<td>{escape(path.resource)}<br><span class="small">{escape(path.resource_type)}</span></td>'
            f"<td>{'reaches in' if path.direction == IN else 'data to'}: <b>{escape(path.other)}</b></td>"
            f"<td>{escape(path.via)}</td><td>{escape('; '.join(path.why))}{may}</td></tr>")


def _attention(report: Report, past: Past | None) -> list[str]:
    attention = [f for f in report.findings if f.status in (Status.FAIL, Status.ERROR)]
    out = [f"<h2>Needs attention ({len(attention)})</h2>"]
    if not attention:
        return [*out, "<p>Nothing: every check passed.</p>"]
    out.append('<table class="evidence"><tr><th>status</th><th>rule</th><th>resource</th><th>evidence</th>'
               "<th>why it matters · controls</th><th>fix now · in code</th></tr>")
    located = report.located()
    unplaced = report.source_warning(located)
    if unplaced:
        out.append(f'<p class="meta">{escape(unplaced)}</p>')
    for f in attention:
        e = explanation(f)
        resource = e["evidence"]["resource"]
        site = source_of(located, f)
        declared = f'<br><span class="small">declared at <code>{escape(str(site))}</code></span>' if site else ""
        since = past.first_failed.get(finding_id(report, f)) if past is not None else None
        first = f'<div class="small">failing since {escape(day(since))}</div>' if since else ""
        controls = "<br>".join(f"{escape(name)}: {escape(', '.join(ids))}" for name, ids in e["controls"].items())
        out.append(
            f'<tr><td class="{f.status.value}">{f.status.value}<br>{escape(f.severity)}</td>'
            f"<td><b>{escape(f.rule_id)}</b><br>{escape(e['title'])}{first}</td>"
            f"<td><b>{escape(resource.get('logical_id') or short_name(f.resource))}</b><br>"
            f'<span class="small">{escape(resource.get("physical_id") or f.resource)}'
            f"{'<br>' + escape(resource['type']) if resource.get('type') else ''}</span>{declared}</td>"
            f"<td>{escape(f.reason)}<div class=\"small\">read with {escape(', '.join(e['evidence']['read_with']))}"
            f"</div></td>"
            f"<td>{escape(e['rationale'])}<div class=\"small\">{controls}</div></td>"
            f"<td><b>now:</b> {escape(e['remediation']['now'])}<br><b>in code:</b> "
            f"{escape(e['remediation']['in_code'])}</td></tr>")
    return [*out, "</table>"]


def _register(report: Report) -> list[str]:
    out = ["<h2>Register of accepted deviations</h2>"]
    accepted = [f for f in report.findings if f.status is Status.ACCEPTED]
    if report.register:
        out.append('<p class="meta">Live findings accepted for a while by a reviewed accepted-findings file '
                   "(--accepted); each entry is judged by STK-OPS-001.</p>")
        out.append("<table><tr><th>rule</th><th>resource</th><th>reason</th><th>approver</th><th>expires</th>"
                   "<th>accepts</th></tr>" + "".join(
                       f"<tr><td>{escape(r['rule'])}</td><td>{escape(r['resource'])}</td><td>{escape(r['reason'])}"
                       f"</td><td>{escape(r['approver'])}</td><td>{escape(r['expires'])}</td><td>{r['accepts']} "
                       "FAIL</td></tr>" for r in report.register) + "</table>")
    elif accepted:
        out.append("<ul>" + "".join(f"<li><b>{escape(f.rule_id)}</b> {escape(short_name(f.resource))}: "
                                    f"{escape(f.reason)}</li>" for f in accepted) + "</ul>")
    else:
        out.append('<p class="meta">No live finding was accepted in this run.</p>')
    out.append('<p class="meta">Accepted in the design (the catalog; cdk-nag and Checkov suppressions cite them):</p>')
    out.append("<table><tr><th>deviation</th><th>what</th><th>why</th></tr>" + "".join(
        f"<tr><td>{escape(r.id)}</td><td>{escape(r.title)}</td><td>{escape(r.rationale)}</td></tr>"
        for r in catalog.deviations()) + "</table>")
    return out


def _unverified(coverage: Mapping[str, Any]) -> list[str]:
    """The declared properties drift could not compare, by resource."""
    groups = unverified_groups(coverage)
    if not groups:
        return []
    rows = "".join(f"<tr><td>{escape(resource)}</td><td>{escape(', '.join(properties))}</td><td>{escape(why)}</td>"
                   "</tr>" for resource, why, properties in groups)
    return ['<table class="unverified"><tr><th>not compared: resource</th><th>declared properties</th><th>why</th>'
            f"</tr>{rows}</table>"]


def to_html(report: Report, exit_code: int, template: Mapping[str, Any] | None = None,
            past: Past | None = None) -> str:
    template = template if template is not None else report.template
    counts = report.counts()
    colour, verdict = VERDICT.get(exit_code, ("#8e24aa", f"exit {exit_code}"))
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>opscli {escape(report.command)} — {escape(report.target.get('suffix', ''))}</title>",
           f"<style>{CSS}</style></head><body>", *_header(report, exit_code),
           f'<div class="verdict" style="background:{colour}">{escape(verdict)}</div>',
           '<div class="cards">' + "".join(f'<span class="status {s}text">{n} {s}</span>'
                                           for s, n in counts.items() if n) + "</div>"]
    if report.coverage is not None:
        out.append(f'<p class="meta">coverage: {escape(coverage_line(report.coverage))}</p>')
        out += _unverified(report.coverage)
    out += ["<h2>Trend</h2>", *_trend(past), *_matrix(report)]
    if report.paths is not None:
        out += _perimeter(report)
    if template is not None:
        out += ["<h2>Architecture</h2>", '<p class="meta">Drawn from the synthesized template; a box is coloured by '
                "the worst status of its resources in this run.</p>",
                f'<div class="diagram">{svg(template, type_status(report.findings))}</div>']
    out += [*_attention(report, past), *_register(report), "</body></html>"]
    return "\n".join(out) + "\n"
