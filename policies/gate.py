"""The policy gate: synthesize with every guardrail and compliance pack, then Checkov (built-in + our checks)
and the template engine over every template; one report in JSON, SARIF and JUnit XML.

    python -m policies.gate --suffix prod [--cdk-out cdk.out] [--reports reports] [--skip-synth]

Exit codes: 0 no unsuppressed finding; 1 findings; 2 usage error (bad suffix or arguments);
3 the gate could not run (CDK CLI or Checkov missing or crashed).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from platform_spec import catalog, template_engine
from policies.reports import ReportFinding, to_json, to_junit, to_sarif

ROOT = Path(__file__).resolve().parents[1]
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_TOOL = 0, 1, 2, 3
_ERROR_LINE = re.compile(r"^error: (/\S+): (.+)$")
_NAG_ID = re.compile(r"^(?P<id>[A-Za-z0-9.]+-[A-Za-z0-9-]+?)(?:\[.*?\])?: ")


class GateError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class GateResult:
    findings: list[ReportFinding] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    checks_run: set[str] = field(default_factory=set)


def checkov_to_catalog() -> dict[str, str]:
    """Checkov built-in check id -> catalog rule id, from the catalog references."""
    mapping: dict[str, str] = {}
    for rule in catalog.CATALOG.values():
        for check_id in rule.references.ids("checkov"):
            mapping.setdefault(check_id, rule.id)
    return mapping


def _severity(catalog_id: str, default: str = "HIGH") -> str:
    return catalog.CATALOG[catalog_id].severity.value if catalog_id in catalog.CATALOG else default


def synth_findings(stderr: str) -> list[ReportFinding]:
    """Findings from the entry point's 'error: /path: message' lines (Aspects and cdk-nag packs)."""
    findings = []
    for line in stderr.splitlines():
        match = _ERROR_LINE.match(line.strip())
        if not match:
            continue
        path, message = match.groups()
        if message.startswith("[STK-"):
            rule_id = message[1:message.index("]")]
            findings.append(ReportFinding("aspect", rule_id, rule_id, _severity(rule_id), path, "", message))
            continue
        nag = _NAG_ID.match(message)
        rule_id = nag.group("id") if nag else "synth"
        catalog_id = rule_id.removeprefix("StreamTech-") if rule_id.startswith("StreamTech-STK-") else ""
        findings.append(ReportFinding("nag", rule_id, catalog_id, _severity(catalog_id), path, "", message))
    return findings


def synthesize(suffix: str, cdk_out: Path) -> tuple[list[ReportFinding], float]:
    """`cdk synth` through the assembly cache (a clean synthesis of unchanged inputs is reused), copied into
    `cdk_out`; the findings when synthesis fails."""
    from cdk_app.assembly_cache import SynthesisFailed, export, synthesized  # stdlib-only module

    start = time.perf_counter()
    try:
        assembly = synthesized({"environmentSuffix": suffix})
    except SynthesisFailed as exc:
        findings = synth_findings(exc.output)
        if "Subprocess exited with error 2" in exc.output:
            first = next((l for l in exc.output.splitlines() if l.startswith("error: ")), exc.output.strip())
            raise GateError(first.removeprefix("error: "), EXIT_USAGE) from None
        if not findings:
            raise GateError(f"{exc}:\n{exc.output.strip()[-2000:]}", EXIT_TOOL) from None
        return findings, time.perf_counter() - start
    export(assembly, cdk_out)
    return [], time.perf_counter() - start


def nag_counts(cdk_out: Path, templates: Sequence[Path]) -> Counter:
    """Compliance counts over cdk-nag's CSV reports (one per pack and stack) of the given stacks."""
    counts: Counter = Counter()
    stacks = {t.name.removesuffix(".template.json") for t in templates}
    for report in cdk_out.glob("*-NagReport.csv"):
        if not any(report.name.endswith(f"-{stack}-NagReport.csv") for stack in stacks):
            continue
        with report.open(newline="") as handle:
            for row in csv.DictReader(handle):
                counts[f"nag_{row['Compliance'].lower().replace('-', '_')}"] += 1
    return counts


def _run_checkov(python: str, jobs: Sequence[tuple[Path, str | None]], env: dict[str, str]) -> list[dict]:
    """Every (template, suffix) through Checkov in one process (policies/checkov_batch.py): a report each."""
    args = [python, "-m", "policies.checkov_batch", "--external-checks-dir", str(ROOT / "policies" / "checkov_checks")]
    for template, suffix in jobs:
        args += ["--template", suffix, str(template)] if suffix else [str(template)]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    except FileNotFoundError:
        raise GateError(f"Checkov was not found at {python}: run scripts/setup.sh", EXIT_TOOL) from None
    try:
        reports = json.loads(proc.stdout) if proc.returncode == 0 else None
    except json.JSONDecodeError:
        reports = None
    if not isinstance(reports, list):
        raise GateError(f"Checkov did not produce a report (exit {proc.returncode}):\n{proc.stderr[-2000:]}",
                        EXIT_TOOL)
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
    findings, counts, checks_run = [], Counter(), set()
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
            findings.append(ReportFinding("checkov", check_id, catalog_id, _severity(catalog_id, "MEDIUM"),
                                          check["resource"], location, message))
    return findings, counts, checks_run


def template_scan(templates: Sequence[Path]) -> tuple[list[ReportFinding], set[str]]:
    """The template engine's whole-template rules (those Checkov cannot express)."""
    rule_ids = {r.id for r in catalog.rules_for(catalog.Engine.TEMPLATE)}
    findings = []
    for path in templates:
        template = json.loads(path.read_text())
        for f in template_engine.failures(template, rule_ids=rule_ids):
            findings.append(ReportFinding("template", f.rule_id, f.rule_id, _severity(f.rule_id),
                                          f"{f.resource_type}.{f.logical_id}", os.path.relpath(path, ROOT),
                                          catalog.get(f.rule_id).message(f.reason)))
    return findings, rule_ids


def assembly_templates(cdk_out: Path) -> list[Path]:
    """The stack templates of the cloud assembly in `cdk_out`, from its manifest (cdk synth leaves templates of
    earlier runs with other suffixes in place, and those must not be judged against this suffix)."""
    manifest = cdk_out / "manifest.json"
    if not manifest.exists():
        return sorted(cdk_out.glob("*.template.json"))
    artifacts = json.loads(manifest.read_text()).get("artifacts", {})
    return sorted(cdk_out / a["properties"]["templateFile"] for a in artifacts.values()
                  if a.get("type") == "aws:cloudformation:stack")


def scan_templates(templates: Sequence[Path], *, suffix: str | None) -> GateResult:
    """The template stage alone (Checkov + template engine) over existing templates."""
    result = GateResult()
    start = time.perf_counter()
    findings, counts, checks = checkov_scan(templates, suffix=suffix)
    result.seconds["checkov"] = time.perf_counter() - start
    start = time.perf_counter()
    engine_findings, engine_rules = template_scan(templates)
    result.seconds["template_engine"] = time.perf_counter() - start
    result.findings = findings + engine_findings
    result.counts.update(counts)
    result.checks_run = checks | engine_rules
    return result


def run(suffix: str, *, cdk_out: Path, skip_synth: bool = False) -> GateResult:
    result = GateResult()
    if not skip_synth:
        findings, seconds = synthesize(suffix, cdk_out)
        result.seconds["synth"] = seconds
        result.findings.extend(findings)
        if findings:
            return result  # nothing was written to scan
    templates = assembly_templates(cdk_out)
    if not templates:
        raise GateError(f"no *.template.json in {cdk_out}: synthesize first or drop --skip-synth", EXIT_USAGE)
    scanned = scan_templates(templates, suffix=suffix)
    result.findings.extend(scanned.findings)
    result.seconds.update(scanned.seconds)
    result.counts.update(scanned.counts)
    result.counts.update(nag_counts(cdk_out, templates))
    result.counts["templates"] = len(templates)
    result.checks_run = scanned.checks_run
    return result


def write_reports(result: GateResult, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    summary = {"findings": len(result.findings), "seconds": {k: round(v, 2) for k, v in result.seconds.items()},
               **result.counts}
    outputs = {
        directory / "gate.json": to_json(result.findings, summary=summary),
        directory / "gate.sarif": to_sarif(result.findings, tool="streamtech-policy-gate"),
        directory / "gate.junit.xml": to_junit(result.findings, suite="policy-gate",
                                                checks_run=sorted(result.checks_run)),
    }
    for path, text in outputs.items():
        path.write_text(text)
    return list(outputs)


def summary_lines(result: GateResult) -> list[str]:
    seconds = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
    c = result.counts
    lines = [
        f"policy gate: {len(result.findings)} unsuppressed finding(s) ({seconds})",
        f"  cdk-nag packs: {c.get('nag_compliant', 0)} compliant, {c.get('nag_suppressed', 0)} suppressed, "
        f"{c.get('nag_non_compliant', 0)} non-compliant",
        f"  checkov: {c.get('checkov_passed', 0)} passed, {c.get('checkov_skipped', 0)} suppressed, "
        f"{c.get('checkov_failed', 0)} failed over {c.get('templates', 0)} template(s)",
    ]
    by_rule = Counter(f"{f.engine} {f.rule_id}" for f in result.findings)
    lines += [f"  FAIL {key} x{count}" for key, count in sorted(by_rule.items())]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policies.gate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suffix", default="dev", help="environment suffix to synthesize (default: dev)")
    parser.add_argument("--cdk-out", type=Path, default=ROOT / "cdk.out")
    parser.add_argument("--reports", type=Path, default=ROOT / "reports")
    parser.add_argument("--skip-synth", action="store_true", help="scan the templates already in --cdk-out")
    args = parser.parse_args(argv)
    from platform_spec.naming import suffix_problems  # stdlib-only module

    problems = suffix_problems(args.suffix)
    if problems:
        print(f"error: {'; '.join(problems)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = run(args.suffix, cdk_out=args.cdk_out, skip_synth=args.skip_synth)
    except GateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    paths = write_reports(result, args.reports)
    for line in summary_lines(result):
        print(line)
    for finding in result.findings:
        print(f"  - [{finding.engine}] {finding.resource}: {finding.message}", file=sys.stderr)
    print(f"  reports: {', '.join(os.path.relpath(p, ROOT) for p in paths)}")
    return EXIT_FINDINGS if result.findings else EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
