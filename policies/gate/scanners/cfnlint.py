"""cfn-lint (CloudFormation's resource specification) over the templates, in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from platform_spec.exit_codes import EXIT_INCOMPLETE
from platform_spec.stacks import ALLOWED_REGION
from policies.gate import ROOT
from policies.gate.result import GateError
from policies.report_formats import ReportFinding

#: cfn-lint, run by this interpreter in a process of its own (so it runs beside Checkov and the synthesis).
CFN_LINT = "import sys; from cfnlint.runner import main; sys.exit(main())"


def cfnlint_scan(templates: Sequence[Path]) -> tuple[list[ReportFinding], Counter]:
    """cfn-lint over `templates` (one process): a property or value CloudFormation would reject fails here, not
    at deploy time. Errors are findings; warnings and informational matches are counted (CDK's own output has a
    few W3005 "dependency already enforced" warnings that are harmless)."""
    args = [sys.executable, "-c", CFN_LINT, "--format", "json", "--regions", ALLOWED_REGION, "--",
            *(str(Path(t).resolve()) for t in templates)]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=600)
    except FileNotFoundError:
        raise GateError("cfn-lint could not start", EXIT_INCOMPLETE) from None
    try:
        matches = json.loads(proc.stdout or "[]") if not proc.returncode & 1 else None
    except json.JSONDecodeError:
        matches = None
    if not isinstance(matches, list):
        raise GateError(f"cfn-lint did not produce a report (exit {proc.returncode}):\n{proc.stderr[-2000:]}",
                        EXIT_INCOMPLETE)
    findings: list[ReportFinding] = []
    counts: Counter[str] = Counter()
    for match in matches:
        level = str(match.get("Level", "Error")).lower()
        counts[f"cfn_lint_{level}s"] += 1
        if level != "error":
            continue
        path = match.get("Location", {}).get("Path") or []
        resource = ".".join(str(p) for p in path[:2]) or "template"
        findings.append(ReportFinding("cfn-lint", match["Rule"]["Id"], "", "HIGH", resource,
                                      os.path.relpath(match.get("Filename", ""), ROOT), match.get("Message", "")))
    return findings, counts
