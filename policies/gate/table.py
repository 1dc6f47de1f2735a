"""The gate's result as text lines for stdout (`-o table`): each stage's counts or why it did not run, and one
line per finding."""

from __future__ import annotations

from platform_spec import catalog
from policies.gate.result import GateResult
from policies.report_formats import ReportFinding


def summary_lines(result: GateResult) -> list[str]:
    """The counts of each stage that ran, and for each that did not, why: a stage that did not run never reads
    like one that passed ("checkov: 0 passed" after a failed synthesis did)."""
    seconds = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
    c = result.counts
    lines = [f"policy gate: {len(result.findings)} unsuppressed finding(s) ({seconds})"]
    counted = {
        "cdk-nag packs": f"{c.get('nag_compliant', 0)} compliant, {c.get('nag_suppressed', 0)} suppressed, "
                         f"{c.get('nag_non_compliant', 0)} non-compliant",
        "checkov": f"{c.get('checkov_passed', 0)} passed, {c.get('checkov_skipped', 0)} suppressed, "
                   f"{c.get('checkov_failed', 0)} failed over {c.get('templates', 0)} template(s)",
        "cfn-lint": f"{c.get('cfn_lint_errors', 0)} error(s), {c.get('cfn_lint_warnings', 0)} warning(s), "
                    f"{c.get('cfn_lint_informationals', 0)} informational",
    }
    for stage, text in counted.items():
        lines.append(f"  {stage}: NOT RUN ({result.not_run[stage]})" if stage in result.not_run
                     else f"  {stage}: {text}")
    if "template engine" in result.not_run:
        lines.append(f"  template engine: NOT RUN ({result.not_run['template engine']})")
    return lines


def finding_line(f: ReportFinding) -> str:
    """One (catalog rule, resource): the catalog id first (the one to look up), its severity, the resource and
    the Python line that declares it, what was found, the catalog's fix in code, and every engine that saw it."""
    first = f.catalog_id or f"({f.engine})"
    where = f" ({f.source})" if f.source else (f" ({f.location}:{f.line})" if f.location and f.line else "")
    engines = ", ".join(f.seen_by or (f"{f.engine} {f.rule_id}",))
    rule = catalog.CATALOG.get(f.catalog_id)
    fix = f" Fix: {rule.in_code}" if rule is not None and rule.in_code else ""
    message = f.message if not fix or f.message.endswith((".", "!", "?")) else f"{f.message}."
    return f"FAIL {first} {f.severity} {f.resource}{where}: {message}{fix} [{engines}]"
