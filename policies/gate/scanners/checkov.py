"""Checkov (its built-in CloudFormation checks and ours, policies/checkov_checks) over the templates, in one
process of Checkov's own environment (policies/checkov_batch.py); its check ids on the catalog."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from platform_spec import catalog
from platform_spec.exit_codes import EXIT_INCOMPLETE, EXIT_OK
from platform_utils.numbers import whole
from policies.gate import ROOT
from policies.gate.merge import severity
from policies.gate.result import GateError
from policies.report_formats import ReportFinding


def checkov_to_catalog() -> dict[str, str]:
    """Checkov built-in check id -> catalog rule id, from the catalog references (an enforcing rule before a
    deviation that cites the same check)."""
    mapping: dict[str, str] = {}
    for rule in sorted(catalog.CATALOG.values(), key=lambda r: r.accepted_deviation):
        for check_id in rule.references.ids("checkov"):
            mapping.setdefault(check_id, rule.id)
    return mapping


def _run_checkov(python: str, jobs: Sequence[tuple[Path, str | None]], env: dict[str, str]) -> list[dict]:
    """Every (template, suffix) through Checkov in one process (policies/checkov_batch.py): a report each."""
    args = [python, "-m", "policies.checkov_batch", "--external-checks-dir", str(ROOT / "policies" / "checkov_checks")]
    for template, suffix in jobs:
        args += ["--template", suffix, str(template)] if suffix else [str(template)]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    except FileNotFoundError:
        raise GateError(f"Checkov was not found at {python}: run scripts/setup.sh", EXIT_INCOMPLETE) from None
    try:
        reports = json.loads(proc.stdout) if proc.returncode == EXIT_OK else None
    except json.JSONDecodeError:
        reports = None
    if not isinstance(reports, list):
        raise GateError(f"Checkov did not produce a report (exit {proc.returncode}):\n{proc.stderr[-2000:]}",
                        EXIT_INCOMPLETE)
    return reports


def _custom_check_reason(check_id: str, path: str, resource: str, suffix: str | None,
                         cache: dict[str, dict]) -> str:
    """The predicate's reason for a failed custom check (Checkov's CloudFormation runner drops check details)."""
    from platform_spec.context import Context
    from platform_spec.registry import BY_ID

    rule = BY_ID.get(check_id)
    if rule is None or not path:
        return ""
    if path not in cache:
        cache[path] = json.loads(Path(path).read_text())
    logical_id = resource.rsplit(".", 1)[-1]
    entry = cache[path].get("Resources", {}).get(logical_id, {})
    result = rule.evaluate(entry.get("Type", ""), entry.get("Properties"), Context(suffix=suffix))
    return result.reason if result.failed else ""


def checkov_scan(templates: Sequence[Path], *, suffix: str | None
                 ) -> tuple[list[ReportFinding], Counter, set[str]]:
    """Run Checkov (built-in CloudFormation checks + policies/checkov_checks) over `templates`, in one process."""
    return checkov_scan_jobs([(Path(t), suffix) for t in templates])


def checkov_scan_jobs(jobs: Sequence[tuple[Path, str | None]]) -> tuple[list[ReportFinding], Counter, set[str]]:
    """Checkov over each (template, environment suffix) in one process (Checkov's interpreter: CHECKOV_PYTHON,
    default .venv-checkov/bin/python); templates of several environments may share the run."""
    python = os.environ.get("CHECKOV_PYTHON") or str(ROOT / ".venv-checkov" / "bin" / "python")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STREAMTECH_SUFFIX", None)
    suffixes = {str(Path(t).resolve()): s for t, s in jobs}
    reports = _run_checkov(python, [(Path(t).resolve(), s) for t, s in jobs], env)
    mapping = checkov_to_catalog()
    templates_cache: dict[str, dict] = {}
    findings: list[ReportFinding] = []
    counts: Counter[str] = Counter()
    checks_run: set[str] = set()
    for report in reports:
        results = report.get("results", {})
        for key in ("passed_checks", "failed_checks", "skipped_checks"):
            counts[f"checkov_{key.split('_')[0]}"] += len(results.get(key, []))
            checks_run.update(c["check_id"] for c in results.get(key, []))
        for check in results.get("failed_checks", []):
            check_id = check["check_id"]
            catalog_id = check_id if check_id in catalog.CATALOG else mapping.get(check_id, "")
            location = os.path.relpath(check.get("file_abs_path") or check.get("file_path", ""), ROOT)
            path = check.get("file_abs_path") or ""
            detail = "; ".join(check.get("details") or []) or _custom_check_reason(
                check_id, path, check["resource"], suffixes.get(path), templates_cache)
            message = f"{check['check_name']}{': ' + detail if detail else ''}"
            lines = check.get("file_line_range") or [0]
            findings.append(ReportFinding("checkov", check_id, catalog_id, severity(catalog_id, "MEDIUM"),
                                          check["resource"], location, message,
                                          whole(str(lines[0])) or 0))
    return findings, counts, checks_run
