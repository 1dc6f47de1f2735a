"""Synthesis through the assembly cache, and the findings of a synthesis that failed (Aspects and cdk-nag packs,
from the entry point's 'error: ...' lines)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from platform_spec.exit_codes import EXIT_INCOMPLETE, EXIT_USAGE
from platform_utils import source_map
from policies.gate.merge import severity
from policies.gate.result import GateError
from policies.gate.scanners.nag import nag_to_catalog
from policies.report_formats import ReportFinding

_ERROR_LINE = re.compile(r"^error: (/\S+): (.+)$")
_NAG_ID = re.compile(r"^(?P<id>[A-Za-z0-9.]+-[A-Za-z0-9-]+?)(?:\[.*?\])?: ")
_DECLARED_AT = re.compile(r"(?:^| )\(declared at (?P<site>[^()\s]+:\d+)\)$")


def error_lines(stderr: str) -> list[str]:
    """The entry point's 'error: ...' lines, each whole: a line that only continues the one before it (a message
    ending in a line feed, then '(declared at FILE:LINE)') is joined to it."""
    lines: list[str] = []
    for raw in stderr.splitlines():
        line = raw.strip()
        if line.startswith("error: "):
            lines.append(line)
        elif lines and line and _DECLARED_AT.fullmatch(line) and not _DECLARED_AT.search(lines[-1]):
            lines[-1] = f"{lines[-1]} {line}"
    return lines


def synth_findings(stderr: str) -> list[ReportFinding]:
    """Findings from the entry point's 'error: /path: message (declared at FILE:LINE)' lines (Aspects and
    cdk-nag packs), each with the catalog rule it maps to and the Python line that declares the construct."""
    findings = []
    mapping = nag_to_catalog()
    for line in error_lines(stderr):
        match = _ERROR_LINE.match(line)
        if not match:
            continue
        path, message = match.groups()
        declared = _DECLARED_AT.search(message)
        source = source_map.Site.parse(declared.group("site")) if declared else None
        message = message[:declared.start()].rstrip() if declared else message
        if message.startswith("[STK-"):
            rule_id = message[1:message.index("]")]
            findings.append(ReportFinding("aspect", rule_id, rule_id, severity(rule_id), path, "", message,
                                          source=source))
            continue
        nag = _NAG_ID.match(message)
        rule_id = nag.group("id") if nag else "synth"
        catalog_id = rule_id.removeprefix("StreamTech-") if rule_id.startswith("StreamTech-STK-") else \
            mapping.get(rule_id, "")
        findings.append(ReportFinding("nag", rule_id, catalog_id, severity(catalog_id), path, "", message,
                                      source=source))
    return findings


def synthesize(suffix: str, cdk_out: Path) -> tuple[list[ReportFinding], float]:
    """`cdk synth` through the assembly cache (a clean synthesis of unchanged inputs is reused), copied into
    `cdk_out`; the findings when synthesis fails. The cache synthesizes without CDK's built-in template check:
    cfn-lint runs its rules in the template stage, once."""
    from cdk_app.assembly_cache import ExportFailed, SynthesisFailed, export, synthesized  # stdlib-only module

    start = time.perf_counter()
    try:
        assembly = synthesized({"environmentSuffix": suffix})
    except SynthesisFailed as exc:
        findings = synth_findings(exc.output)
        if "Subprocess exited with error 2" in exc.output:
            first = next((line for line in exc.output.splitlines() if line.startswith("error: ")),
                         exc.output.strip())
            raise GateError(first.removeprefix("error: "), EXIT_USAGE) from None
        if not findings:
            # The app's code raised: its one line (where, what) first, the traceback's end after it
            crash = next((line for line in error_lines(exc.output) if line.startswith("error: synthesis failed")),
                         None)
            output = exc.output.strip()[-2000:]
            head = crash.removeprefix("error: ") if crash else f"{exc}:" if output else str(exc)
            raise GateError(f"{head}\n{output}".rstrip("\n"), EXIT_INCOMPLETE) from None
        return findings, time.perf_counter() - start
    try:
        export(assembly, cdk_out)
    except ExportFailed as exc:  # --cdk-out in the way (2, nothing copied) or a copy that failed once begun (3)
        raise GateError(str(exc), exc.exit_code) from None
    return [], time.perf_counter() - start
