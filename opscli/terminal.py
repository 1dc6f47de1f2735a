"""The terminal view: the answer first (verdict and counts, then what is not passing by service and severity),
then one entry per finding that needs someone (FAIL, ERROR), then what each FAIL means and how to fix it. A clean
run fits one screen; `--all` adds every entry (PASS, ACCEPTED, NOT_APPLICABLE). Nothing that names, proves or
fixes is cut: a resource, a reason (why a check could not look, the evidence of a FAIL) or a command is wrapped,
and only at spaces (`flow`), so that an id, an ARN, a CIDR or a command-line token is never broken.

Everything opscli prints through rich goes through `VisibleConsole`, so no character from AWS or from a file
acts on the operator's terminal, whichever view printed it; `cell` is how a view puts such a value into markup."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from rich.cells import cell_len
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
    source_of,
    unverified_groups,
)
from opscli.sanitize import visible
from platform_spec.result import Status
from platform_utils import source_map

STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.ERROR: "bold magenta", Status.NOT_APPLICABLE: "dim",
         Status.ACCEPTED: "yellow"}
SHORT_SEVERITY = {"CRITICAL": "CRIT", "HIGH": "HIGH", "MEDIUM": "MED", "LOW": "LOW", "INFO": "INFO"}
SEVERITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")
NEEDS_SOMEONE = (Status.FAIL, Status.ERROR)
DETAILS = 5  # FAILs explained below the rows by default (the most severe first); --all explains every one
DETAIL_LABEL = len("resource")  # the widest label of an explained FAIL


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


def flow(text: str | list[str], width: int, *, hang: int = 0, first: int = 0) -> list[tuple[int, str]]:
    """`text` laid out in lines of at most `width` cells, broken only at spaces (or between the given words): (the
    column a line starts at, its text). The first line starts at column `first` (after whatever the caller put
    before it), the others at `hang`. A word too long to follow on its line starts the next one; one too long for a
    line at `hang` gets a line of its own, moved left as far as it must to fit `width`, and one longer than `width`
    stays whole (the terminal wraps it): an id, an ARN or a command-line token is never broken, so that it can be
    copied. The first line is kept even when empty: the caller's prefix stands on it."""
    out: list[tuple[int, str]] = []
    start, size = first, 0  # the line being filled: its column, its width in cells, and its words
    words: list[str] = []
    for word in (text.split(" ") if isinstance(text, str) else text):
        need = cell_len(word)
        if start + size + (1 if words else 0) + need <= width or (not out and not words and first == 0):
            size += (1 if words else 0) + need
            words.append(word)
            continue
        if words or not out:
            out.append((start, " ".join(words)))
        start, words, size = hang, [], 0
        if hang + need <= width:
            words, size = [word], need
        else:
            out.append((min(hang, max(0, width - need)), word))
    if words or not out:
        out.append((start, " ".join(words)))
    return out


def flowed(console: Console, prefix: Text | str, value: object, *, hang: int, style: str = "",
           lines: bool = False) -> None:
    """Print `prefix` (opscli's own words), then `value` (from outside opscli: shown as `visible` shows it, as
    text, never markup) flowed after it as `flow` lays it out, its other lines at column `hang`; with `lines`,
    each line of `value` starts a new line at `hang`. Printed as whole lines (soft wrap): rich neither cuts nor
    folds them."""
    prefix_text = Text(prefix) if isinstance(prefix, str) else prefix
    first = cell_len(prefix_text.plain)
    head: Text | None = prefix_text
    hang = min(hang, console.width // 2)  # a narrow terminal: the text keeps half of each line
    for n, paragraph in enumerate(visible(value, lines=lines).replace("\t", " ").split("\n")):
        for column, line in flow(paragraph, console.width, hang=hang, first=first if n == 0 else hang):
            lead, head = head or Text(" " * column), None
            if line or lead.plain.strip():  # not a line of blanks where the first word did not fit
                console.print(Text.assemble(lead, (line, style)), soft_wrap=True, highlight=False)


def shell_words(command: str) -> list[str]:
    """The words of a command line as opscli writes one (opscli.explain): split at the spaces outside quotes
    ('...', "...", $'...' with its backslash escapes), each word whole, quotes and all."""
    words: list[str] = []
    word: list[str] = []
    quote = ""  # "" outside quotes; "'", '"' or "$" inside them
    chars = iter(command)
    for char in chars:
        if not quote and char == " ":
            if word:
                words.append("".join(word))
                word = []
            continue
        word.append(char)
        if char == "\\" and quote != "'":  # an escaped character never ends a word or a quote
            word.append(next(chars, ""))
        elif not quote and char in "'\"":
            quote = "$" if char == "'" and word[-2:-1] == ["$"] else char
        elif quote and char == ("'" if quote == "$" else quote):
            quote = ""
    if word:
        words.append("".join(word))
    return words


def flowed_command(console: Console, prefix: Text | str, command: str, *, hang: int) -> None:
    """Print `prefix`, then a command line flowed after it as `flowed` does, but broken only between shell words
    (never inside a quoted one) and with a backslash ending every line but the last: pasted, the lines are one
    command, so no word that starts a line is ever run as a command of its own."""
    prefix_text = Text(prefix) if isinstance(prefix, str) else prefix
    head: Text | None = prefix_text
    hang = min(hang, console.width // 2)
    lines = flow([visible(word) for word in shell_words(command)], console.width - 2, hang=hang,
                 first=cell_len(prefix_text.plain))
    for n, (column, line) in enumerate(lines):
        lead, head = head or Text(" " * column), None
        end = " \\" if n < len(lines) - 1 and line else ""
        if line or lead.plain.strip():
            console.print(Text.assemble(lead, line + end), soft_wrap=True, highlight=False)


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
    flowed(console, Text.assemble((f"opscli {visible(report.command)}", "bold"), " — "), where, hang=2)
    counts = report.counts()
    shown = " · ".join(f"{n} {status}" for status, n in counts.items() if n) or "no checks"
    word = verdict(report)
    style = {"PASS": "bold green", "FAIL": "bold red"}.get(word, "bold magenta")
    calls = f"{report.api_calls} API call{'' if report.api_calls == 1 else 's'}"
    console.print(f"[{style}]{word}[/]  {shown}  (exit code {exit_code}; {calls} in {report.seconds:.1f}s)")
    if report.coverage is not None:
        flowed(console, "coverage: ", coverage_line(report.coverage), hang=2)


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
    """One entry per finding: its status, rule and resource, then what was found on the lines below, each wrapped
    at spaces (never cut). Identical ERRORs are one entry: an unreachable endpoint is one, not fifty."""
    errors: dict[str, list[Finding]] = {}
    for f in findings:
        if f.status is Status.ERROR:
            errors.setdefault(f.reason, []).append(f)
    entries: list[tuple[Text, str, str, str]] = []  # (status, rule, resource, found)
    collapsed: set[str] = set()
    for f in findings:
        same = errors.get(f.reason, []) if f.status is Status.ERROR else []
        if len(same) > 1:
            if f.reason in collapsed:
                continue
            collapsed.add(f.reason)
            rules = sorted({x.rule_id for x in same})
            resources = f"{len({x.resource for x in same})} resources"
            entries.append((Text.assemble(("ERROR", STYLE[f.status]), f" ×{len(same)}"),
                            rules[0] if len(rules) == 1 else f"{len(rules)} rules",
                            resources if len(rules) == 1 else f"{resources}: {', '.join(rules)}", f.reason))
            continue
        judged = f.status in (Status.FAIL, Status.ACCEPTED)
        severity = f" {SHORT_SEVERITY.get(f.severity, f.severity)}" if judged else ""
        entries.append((Text.assemble((f.status.value, STYLE[f.status]), severity), f.rule_id, resource_cell(f),
                        f.reason))
    console.print(f"{title}:")
    status_width = max(cell_len(status.plain) for status, *_ in entries)
    rule_width = max(cell_len(visible(rule)) for _, rule, *_ in entries)
    hang = status_width + 2 + rule_width + 2
    for status, rule, resource, found in entries:
        status.pad_right(status_width + 2 - cell_len(status.plain))
        flowed(console, Text.assemble(status, f"{visible(rule):<{rule_width}}  "), resource, hang=hang,
               style="bold")
        flowed(console, " " * (hang + 2), found, hang=hang + 2)


def _details(failures: list[Finding], console: Console, limit: int | None,
             located: source_map.Located | None = None) -> None:
    shown = failures if limit is None else failures[:limit]
    for f in shown:
        site = source_of(located, f) if located is not None else None
        e = explanation(f)
        console.print()
        flowed(console, Text.assemble((visible(f.rule_id), "bold red"), " "), e["title"], hang=2, style="bold")
        # What AWS answered ("found") may hold a line feed: shown as its escape, it cannot draw lines that look
        # like opscli's own ("fix now  ..."). A command is laid out to be pasted whole (flowed_command).
        for label, text, lines in (
                ("resource", f.resource, False), ("declared", str(site or ""), False),  # its Python line
                ("found", f.reason, False), ("why", e["rationale"], True),
                ("fix now", e["remediation"]["now"], True), ("in code", e["remediation"]["in_code"], True),
                ("controls", "; ".join(f"{name} {', '.join(ids)}" for name, ids in e["controls"].items()), True)):
            if not text:
                continue
            label_text = Text.assemble((f" {label:<{DETAIL_LABEL}}", "dim"), " ")
            if label == "fix now" and e["remediation"].get("kind") == "command":
                flowed_command(console, label_text, text, hang=DETAIL_LABEL + 2)
            else:
                flowed(console, label_text, text, hang=DETAIL_LABEL + 2, lines=lines)
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
    _details(failures, console, None if show_all else DETAILS, report.located() if failures else None)
    _unverified(report, console)


def _unverified(report: Report, console: Console) -> None:
    """The declared properties drift could not compare, by resource: wrapped, never cut."""
    groups = unverified_groups(report.coverage or {})
    if not groups:
        return
    count = sum(len(properties) for _, _, properties in groups)
    console.print(f"\nnot compared ({count} declared properties; the resources' physical ids in -o json):")
    for resource, why, properties in groups:  # wrapped at spaces, indented under its resource: an id stays whole
        flowed(console, " - ", f"{short_name(resource)}: {', '.join(properties)} — {why}", hang=3)


def compliance_table(view: dict[str, dict], framework: str, console: Console) -> None:
    """The findings by the framework's controls: the counts first (fixed width), then the control and its rules
    flowed after them, so that a long control id (Prowler's run to 57 characters) is never broken."""
    counts = (("PASS", "PASS", "green"), ("FAIL", "FAIL", "bold red"), ("ERROR", "ERR", "bold magenta"),
              ("ACCEPTED", "ACC", "yellow"))
    lead = " ".join(f"{head:>4}" for _, head, _ in counts) + "  "
    console.print(f"by {framework} control:")
    console.print(Text(lead + "control: rules", style="bold"), soft_wrap=True)
    for control, entry in view.items():
        numbers = Text(" ").join(Text(f"{entry[status]:>4}", style=style if entry[status] and status != "PASS"
                                      else "") for status, _, style in counts)
        flowed(console, Text.assemble(numbers, "  "), f"{control}: {', '.join(entry['rules'])}", hang=len(lead))


def rules_table(rules: Iterable[Any], console: Console) -> None:
    """The catalog: id and severity (fixed width), then the title and the engines that enforce the rule flowed
    after them, never broken inside a word."""
    rules = list(rules)
    id_width = max((len(r.id) for r in rules), default=2)
    lead = id_width + 2 + len("CRITICAL") + 2
    console.print(Text(f"{'id':<{id_width}}  {'severity':<8}  title · engines", style="bold"), soft_wrap=True)
    for r in rules:
        engines = ", ".join(e.value for e in r.engines) or "accepted deviation"
        flowed(console, f"{r.id:<{id_width}}  {r.severity.value:<8}  ", f"{r.title} · {engines}", hang=lead)
