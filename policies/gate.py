"""The policy gate: synthesize with every guardrail and compliance pack, then Checkov (built-in + our checks),
cfn-lint (CloudFormation's resource specification) and the template engine over every template; one report in
JSON, SARIF and JUnit XML.

    python -m policies.gate --suffix prod [--cdk-out cdk.out] [--reports reports] [--skip-synth] [-o table|json]

Exit codes: 0 no unsuppressed finding; 1 findings; 2 usage error (bad suffix or arguments, a
--reports directory that does not exist or a report path there that is a link or not a file);
3 the gate could not run (CDK CLI, Checkov or cfn-lint missing or crashed, the app's code raised,
a report not written); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click

from platform_spec import catalog, files, sarif, source_map, template_engine
from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from platform_spec.stacks import ALLOWED_REGION
from policies.reports import ReportFinding, to_json, to_junit, to_sarif

ROOT = Path(__file__).resolve().parents[1]
_ERROR_LINE = re.compile(r"^error: (/\S+): (.+)$")
_NAG_ID = re.compile(r"^(?P<id>[A-Za-z0-9.]+-[A-Za-z0-9-]+?)(?:\[.*?\])?: ")
_DECLARED_AT = re.compile(r"(?:^| )\(declared at (?P<site>[^()\s]+:\d+)\)$")
TEMPLATE_STAGE = ("checkov", "cfn-lint", "template engine")


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
    not_run: dict[str, str] = field(default_factory=dict)  # stage -> why it did not run
    source_map: str | None = None  # the source map the template stage's findings were located with
    source_warning: str = ""  # why some finding names no Python line ("" when every one does)


def checkov_to_catalog() -> dict[str, str]:
    """Checkov built-in check id -> catalog rule id, from the catalog references (an enforcing rule before a
    deviation that cites the same check)."""
    mapping: dict[str, str] = {}
    for rule in sorted(catalog.CATALOG.values(), key=lambda r: r.accepted_deviation):
        for check_id in rule.references.ids("checkov"):
            mapping.setdefault(check_id, rule.id)
    return mapping


def nag_to_catalog() -> dict[str, str]:
    """cdk-nag rule id (any pack) -> the catalog rule it maps to, from the catalog references; a rule the catalog
    enforces wins over a deviation that cites the same nag id (a finding is a violation, not the deviation)."""
    mapping: dict[str, str] = {}
    for rule in sorted(catalog.CATALOG.values(), key=lambda r: r.accepted_deviation):
        for nag_id in rule.references.ids("cdk_nag"):
            mapping.setdefault(nag_id, rule.id)
    return mapping


def _severity(catalog_id: str, default: str = "HIGH") -> str:
    return catalog.CATALOG[catalog_id].severity.value if catalog_id in catalog.CATALOG else default


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
            findings.append(ReportFinding("aspect", rule_id, rule_id, _severity(rule_id), path, "", message,
                                          source=source))
            continue
        nag = _NAG_ID.match(message)
        rule_id = nag.group("id") if nag else "synth"
        catalog_id = rule_id.removeprefix("StreamTech-") if rule_id.startswith("StreamTech-STK-") else \
            mapping.get(rule_id, "")
        findings.append(ReportFinding("nag", rule_id, catalog_id, _severity(catalog_id), path, "", message,
                                      source=source))
    return findings


def merge(findings: Sequence[ReportFinding]) -> list[ReportFinding]:
    """One finding per (catalog rule, resource) across engines, listing every engine that saw it (four cdk-nag
    packs failing one Multi-AZ setting are one finding); a finding no catalog rule maps keeps its own line."""
    merged: dict[tuple[str, str], ReportFinding] = {}
    for f in findings:
        key = (f.catalog_id or f"{f.engine} {f.rule_id}", f.resource)
        seen = f"{f.engine} {f.rule_id}"
        if key in merged:
            first = merged[key]
            if seen not in first.seen_by:
                merged[key] = replace(first, seen_by=(*first.seen_by, seen),
                                      source=first.source or f.source, line=first.line or f.line)
        else:
            merged[key] = replace(f, seen_by=(seen,))
    return list(merged.values())


def template_sources(cdk_out: Path, templates: Sequence[Path]) -> dict[tuple[str, str], source_map.Site]:
    """(template path, logical id) -> the Python line that declares the resource, from the assembly's source map
    (python -m cdk_app writes source-map.json beside the templates); empty without one."""
    sites = source_map.load(cdk_out / source_map.FILE_NAME)
    out: dict[tuple[str, str], source_map.Site] = {}
    for path in templates if sites else []:
        try:
            template = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            continue
        for lid, site in source_map.resource_sites(template, sites).items():
            out[(os.path.relpath(path, ROOT), lid)] = site
    return out


def locate(findings: Sequence[ReportFinding], cdk_out: Path, templates: Sequence[Path]
           ) -> tuple[list[ReportFinding], str | None, str]:
    """Template-stage findings with the Python line that declares each resource, from the source map beside the
    templates; the map's path (None: none applied) and why some finding has no line ("" when none lacks one)."""
    sources = template_sources(cdk_out, templates)
    located = [replace(f, source=sources.get((f.location, logical_id(f)), f.source)) for f in findings]
    map_file = os.path.relpath(cdk_out / source_map.FILE_NAME, ROOT)
    if sources:
        why = "the template names no such resource (a finding on the template as a whole)"
    elif source_map.load(cdk_out / source_map.FILE_NAME):
        why = "the templates carry no aws:cdk:path metadata; their template line is given instead"
    else:
        why = (f"{map_file} is missing or unreadable (python -m cdk_app writes it beside the templates: synthesize "
               "without --skip-synth); their template line is given instead")
    return located, map_file if sources else None, unlocated(located, why)


def logical_id(f: ReportFinding) -> str:
    """The logical id a template-stage finding names (Checkov: 'TYPE.Lid', cfn-lint: 'Resources.Lid')."""
    return f.resource.rsplit(".", 1)[-1]


def unlocated(findings: Sequence[ReportFinding], why: str) -> str:
    """One sentence for the findings that name no Python line (with `why`), or "" when every one does."""
    missing = sorted({f.resource for f in findings if f.source is None})
    if not missing:
        return ""
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    return f"no file:line for {len(missing)} resource(s) with findings ({shown}): {why}"


def synthesize(suffix: str, cdk_out: Path) -> tuple[list[ReportFinding], float]:
    """`cdk synth` through the assembly cache (a clean synthesis of unchanged inputs is reused), copied into
    `cdk_out`; the findings when synthesis fails. The cache synthesizes without CDK's built-in template check:
    cfn-lint runs its rules in the template stage, once."""
    from cdk_app.assembly_cache import SynthesisFailed, export, synthesized  # stdlib-only module

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
            head = crash.removeprefix("error: ") if crash else f"{exc}:"
            raise GateError(f"{head}\n{exc.output.strip()[-2000:]}", EXIT_INCOMPLETE) from None
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
            findings.append(ReportFinding("checkov", check_id, catalog_id, _severity(catalog_id, "MEDIUM"),
                                          check["resource"], location, message,
                                          int(lines[0]) if str(lines[0]).isdigit() else 0))
    return findings, counts, checks_run


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


def scan_templates(templates: Sequence[Path], *, suffix: str | None, step: Step | None = None) -> GateResult:
    """The template stage alone (Checkov, cfn-lint, template engine) over existing templates. Checkov and
    cfn-lint are processes of their own: they run side by side (each on a core), the engine meanwhile."""
    step = step or (lambda _name: None)
    result = GateResult()

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            result.seconds[name] = time.perf_counter() - start

    step("checkov, cfn-lint, template engine")
    with ThreadPoolExecutor(max_workers=2) as pool:
        checkov = pool.submit(timed, "checkov", lambda: checkov_scan(templates, suffix=suffix))
        lint = pool.submit(timed, "cfn_lint", lambda: cfnlint_scan(templates))
        engine_findings, engine_rules = timed("template_engine", lambda: template_scan(templates))
        findings, counts, checks = checkov.result()
        lint_findings, lint_counts = lint.result()
    result.seconds = {k: result.seconds[k] for k in ("checkov", "cfn_lint", "template_engine")}
    result.findings = findings + lint_findings + engine_findings
    result.counts.update(counts)
    result.counts.update(lint_counts)
    result.checks_run = checks | engine_rules
    return result


Step = Callable[[str], None]


def run(suffix: str, *, cdk_out: Path, skip_synth: bool = False, step: Step | None = None) -> GateResult:
    result = GateResult()
    if not skip_synth:
        if step:
            step("synthesis (cdk synth, Aspects, cdk-nag packs)")
        findings, seconds = synthesize(suffix, cdk_out)
        result.seconds["synth"] = seconds
        result.findings.extend(merge(findings))
        if findings:
            result.source_warning = unlocated(result.findings, "synthesis named no line of cdk_app/ that declares "
                                                               "them (a construct CDK adds outside the app's code)")
            why = "synthesis failed, so there is no template to scan"
            result.not_run = dict.fromkeys(TEMPLATE_STAGE, why)
            return result  # nothing was written to scan
    else:
        result.not_run["cdk-nag packs"] = "--skip-synth: only the template stage ran"
    templates = assembly_templates(cdk_out)
    if not templates:
        raise GateError(f"no *.template.json in {cdk_out}: synthesize first or drop --skip-synth", EXIT_USAGE)
    scanned = scan_templates(templates, suffix=suffix, step=step)
    located, result.source_map, result.source_warning = locate(scanned.findings, cdk_out, templates)
    result.findings.extend(merge(located))
    result.seconds.update(scanned.seconds)
    result.counts.update(scanned.counts)
    result.counts.update(nag_counts(cdk_out, templates))
    result.counts["templates"] = len(templates)
    result.checks_run = scanned.checks_run
    return result


REPORT_NAMES = ("gate.json", "gate.sarif", "gate.junit.xml")


def reports_directory(named: Path | None) -> Path:
    """Where the reports go, checked before anything runs: reports/ (this tool's own, made when missing), or a
    directory the user named, which must exist (none is made: a missing one is more often a typo than a wish).
    A report file there that is a symbolic link or not a regular file is refused, as opscli's --report is."""
    directory = named if named is not None else ROOT / "reports"
    if Path(os.path.abspath(directory)) == ROOT / "reports":
        try:
            directory.mkdir(exist_ok=True)
        except OSError as exc:
            raise GateError(f"reports directory {directory} cannot be made: {exc.strerror or exc}",
                            EXIT_USAGE) from None
    elif not directory.is_dir():
        raise GateError(f"--reports {named} is not a directory (none is made for a path you name: create it, or "
                        "leave --reports out for reports/)", EXIT_USAGE)
    for name in REPORT_NAMES:
        try:
            files.writable_target(directory / name, "report")
        except files.FileRefused as exc:
            raise GateError(str(exc), EXIT_USAGE) from None
    return directory


def write_reports(result: GateResult, directory: Path) -> list[Path]:
    """gate.json, gate.sarif and gate.junit.xml in `directory`, each whole or not at all (files.write_whole)."""
    summary = {"findings": len(result.findings), "seconds": {k: round(v, 2) for k, v in result.seconds.items()},
               "not_run": result.not_run, **result.counts,
               "source_map": {"file": result.source_map, "warning": result.source_warning or None}}
    outputs = {
        directory / "gate.json": to_json(result.findings, summary=summary),
        directory / "gate.sarif": to_sarif(result.findings, tool="streamtech-policy-gate",
                                           help_base=sarif.help_base()),
        directory / "gate.junit.xml": to_junit(result.findings, suite="policy-gate",
                                                checks_run=sorted(result.checks_run)),
    }
    for path, text in outputs.items():
        try:
            files.write_whole(path, text, "report")
        except files.FileRefused as exc:
            raise GateError(str(exc), EXIT_INCOMPLETE) from None
    return list(outputs)


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


# The module docstring's paragraph, unwrapped by click ("\b"): the contract is written once.
EXIT_CODES = "\b\nExit codes:" + (__doc__ or "").partition("Exit codes:")[2].rstrip()


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.option("--suffix", default="dev", show_default=True, help="Environment suffix to synthesize.")
@click.option("--cdk-out", type=click.Path(path_type=Path, file_okay=False), default=ROOT / "cdk.out",
              help="Cloud assembly directory (default: cdk.out).")
@click.option("--reports", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Existing directory for gate.json, gate.sarif and gate.junit.xml (default: reports, made when "
                   "missing).")
@click.option("--skip-synth", is_flag=True, help="Scan the templates already in --cdk-out.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Result format on stdout (the report files are always written).")
@click.option("--no-color", is_flag=True, help="No colors (also NO_COLOR).")
def gate(suffix: str, cdk_out: Path, reports: Path | None, skip_synth: bool, output: str, no_color: bool) -> int:
    """Synthesize TapStack<suffix> with every guardrail and compliance pack, then Checkov, cfn-lint and the
    template engine over its templates. Results on stdout (catalog ids first), progress on stderr."""
    from rich.console import Console

    from platform_spec.naming import suffix_problems  # stdlib-only module

    problems = suffix_problems(suffix)
    if problems:
        raise click.UsageError("; ".join(problems))
    reports = reports_directory(reports)
    err = Console(stderr=True, no_color=no_color or bool(os.environ.get("NO_COLOR")), soft_wrap=True)
    if err.is_terminal:
        with err.status("policy gate") as status:
            result = run(suffix, cdk_out=cdk_out, skip_synth=skip_synth,
                         step=lambda name: status.update(f"policy gate: {name}"))
    else:
        result = run(suffix, cdk_out=cdk_out, skip_synth=skip_synth, step=lambda name: err.print(f"gate: {name}"))
    paths = write_reports(result, reports)
    code = EXIT_FINDINGS if result.findings else EXIT_OK
    if result.source_warning:
        err.print(f"gate: warning: {result.source_warning}", markup=False, highlight=False)
    if output == "json":
        click.echo((reports / "gate.json").read_text(), nl=False)
        return code
    for line in summary_lines(result):
        click.echo(line)
    for finding in result.findings:
        click.echo(f"  {finding_line(finding)}")
    click.echo(f"  reports: {', '.join(os.path.relpath(p, ROOT) for p in paths)}")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """The one error boundary: a usage error is EXIT_USAGE, a gate that could not run EXIT_INCOMPLETE, never a
    traceback."""
    try:
        return gate.main(args=list(argv) if argv is not None else None, prog_name="python -m policies.gate",
                         standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        return EXIT_INTERRUPTED
    except GateError as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
