"""The gate's stages in order: synthesis, then the template stage (Checkov, cfn-lint and the template engine side
by side) over the assembly's templates, merged and located; a GateResult, nothing printed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from platform_spec.exit_codes import EXIT_USAGE
from policies.gate.locate import locate, unlocated
from policies.gate.merge import merge
from policies.gate.result import GateError, GateResult
from policies.gate.scanners.cfnlint import cfnlint_scan
from policies.gate.scanners.checkov import checkov_scan
from policies.gate.scanners.nag import nag_counts
from policies.gate.scanners.template import template_scan
from policies.gate.synthesis import synthesize

TEMPLATE_STAGE = ("checkov", "cfn-lint", "template engine")

Step = Callable[[str], None]


def assembly_templates(cdk_out: Path) -> list[Path]:
    """The stack templates of the cloud assembly in `cdk_out`, from its manifest (cdk synth leaves templates of
    earlier runs with other suffixes in place, and those must not be judged against this suffix)."""
    manifest = cdk_out / "manifest.json"
    if not manifest.exists():
        return sorted(cdk_out.glob("*.template.json"))
    try:
        artifacts = json.loads(manifest.read_text()).get("artifacts", {})
        return sorted(cdk_out / a["properties"]["templateFile"] for a in artifacts.values()
                      if a.get("type") == "aws:cloudformation:stack")
    except (OSError, ValueError, AttributeError, KeyError, TypeError) as exc:
        # a manifest that cannot say which templates are the stacks is no assembly to scan, never a crash
        raise GateError(f"{str(manifest)!r} is not a readable cloud assembly manifest ({type(exc).__name__}: "
                        f"{exc})", EXIT_USAGE) from None


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
