"""The app's entry point: read context once, build the app, synthesize, and report guardrail errors clearly."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from aws_cdk import App, CfnResource, cx_api

from cdk_app import source_map
from cdk_app.aspects import apply_guardrails
from cdk_app.compliance import apply_compliance_packs
from cdk_app.config import AppConfig, ConfigError, parse_context
from cdk_app.monitor import MonitorStack, stackset_synthesizer
from cdk_app.monitor_code import MonitorCodeError, layer_zip, read_policy, staged_code
from cdk_app.tap_stack import TapStack
from platform_spec import monitor
from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE


def build_app(app: App, config: AppConfig) -> TapStack:
    """Build the whole app into `app`: the stack, its posture monitor, their guardrails and the compliance packs.

    Used by the entry point and the tests, so the tests synthesize exactly what is deployed.
    """
    stack = TapStack(app, config.stack_name, config=config)
    build_monitor(app, config, watched=stack)
    apply_guardrails(app, config)
    if config.compliance_packs:
        apply_compliance_packs(app, config)
    return stack


def build_monitor(app: App, config: AppConfig, *, watched: TapStack) -> MonitorStack:
    """TapMonitor<suffix>, watching the services of every resource type `watched` declares. With the context
    monitorAssetBucketPrefix, its template is the one a StackSet deploys (assets in the organisation's buckets)."""
    code = staged_code()
    types = {c.cfn_resource_type for c in watched.node.find_all() if isinstance(c, CfnResource)}
    prefix = config.monitor_asset_bucket_prefix
    return MonitorStack(app, monitor.stack_name(config.environment_suffix), config=config, code=code,
                        layer=layer_zip(), read_policies=read_policy(code, config.environment_suffix),
                        watched_sources=monitor.watched_sources(types),
                        synthesizer=stackset_synthesizer(prefix) if prefix else None)


def guardrail_errors(assembly: cx_api.CloudAssembly) -> list[str]:
    """Every error annotation in the assembly, as 'path: message' lines."""
    errors: list[str] = []
    for stack in assembly.stacks_recursively:
        for message in stack.messages:
            if message.level == cx_api.SynthesisMessageLevel.ERROR:
                errors.append(f"{message.id}: {message.entry.data}")
    return errors


def validation_report_errors(report: Path) -> list[str]:
    """'path: message' lines for every violation in CDK's validation report (written when synthesis fails).

    With the feature flag @aws-cdk/core:annotationsInValidationReport, Annotations errors (our Aspects,
    cdk-nag) land here and app.synth() raises instead of returning the assembly.
    """
    data = json.loads(report.read_text())
    lines: list[str] = []
    for plugin in data.get("pluginReports", []):
        if plugin.get("conclusion") != "failure":
            continue
        for violation in plugin.get("violations", []):
            if violation.get("severity", "error") != "error":
                continue
            rule = violation.get("ruleName", "")
            prefix = "" if rule.startswith("Annotation") or violation["description"].startswith("[") else f"[{rule}] "
            for construct in violation.get("violatingConstructs", []):
                lines.append(f"/{construct['constructPath']}: {prefix}{violation['description']}")
    return lines


def synth_errors(app: App) -> list[str]:
    """Synthesize `app`; return every guardrail, compliance-pack or template validation error (empty: clean)."""
    try:
        assembly = app.synth()
    except RuntimeError as exc:
        report = Path(app.outdir) / "validation-report.json"
        if "ValidationFailed" not in str(exc) or not report.exists():
            raise
        return validation_report_errors(report) or [str(exc)]
    return guardrail_errors(assembly)


def declared_at(line: str, sites: Mapping[str, str]) -> str:
    """An error line '/Stack/Construct/...: message' on one line (cdk-nag ends some messages with a line feed)
    with the Python line that declares the construct appended as '(declared at cdk_app/x.py:N)', where the source
    map knows it (the gate reads it back)."""
    line = " ".join(line.split())
    path = line.split(": ", 1)[0]
    site = source_map.site_of(path.lstrip("/"), sites) if path.startswith("/") else None
    return f"{line} (declared at {site})" if site else line


def raised_at(exc: BaseException) -> str | None:
    """'cdk_app/x.py:N': the innermost line of the app's own code in `exc`'s traceback (the source map's recorder
    left out), where the construct that failed is declared; None when the app's code is not in it."""
    site = None
    for frame, line in traceback.walk_tb(exc.__traceback__):
        name = frame.f_code.co_filename
        if name.startswith(str(source_map.OWN) + "/") and name != source_map.__file__:
            site = f"{Path(name).relative_to(source_map.ROOT).as_posix()}:{line}"
    return site


def main(context: Mapping[str, Any] | None = None, *, outdir: str | None = None,
         stderr: TextIO | None = None) -> int:
    """Synthesize the app; return an exit code: EXIT_OK, EXIT_FINDINGS guardrail violations (nothing is
    deployable), EXIT_USAGE a bad context value (nothing was synthesized), EXIT_INCOMPLETE the app's code raised
    (the traceback, then one line with the line of cdk_app/ it came from)."""
    err = stderr or sys.stderr
    # No performance report: CDK writes one into the assembly when synthesis is slow (a loaded machine), and the
    # assembly is to be a function of its inputs alone (cached, restaged, compared: cdk_app/assembly_cache.py).
    app = App(context=dict(context) if context is not None else None, outdir=outdir, analytics_reporting=False,
              performance_reporting=False)
    try:
        config = parse_context(app.node.try_get_context)
    except ConfigError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    try:
        with source_map.recording() as sites:
            try:
                build_app(app, config)
            except MonitorCodeError as exc:
                print(f"error: {exc}", file=err)
                return EXIT_USAGE
            errors = synth_errors(app)
    except Exception as exc:  # noqa: BLE001 - any failure of the app's code is reported with its line, once
        traceback.print_exc(file=err)
        at = raised_at(exc)
        print(f"error: synthesis failed{f' at {at}' if at else ''}: {type(exc).__name__}: "
              f"{' '.join(str(exc).split())}", file=err)
        return EXIT_INCOMPLETE
    # The monitor's constructs are below their own stack; TapStack's line wins where a path is in both.
    own = {**source_map.below_stack(sites, monitor.stack_name(config.environment_suffix)),
           **source_map.below_stack(sites, config.stack_name)}
    if not errors:
        (Path(app.outdir) / source_map.FILE_NAME).write_text(json.dumps(source_map.document(own), indent=1) + "\n")
    for line in errors:
        print(f"error: {declared_at(line, own)}", file=err)
    if errors:
        print(f"error: synthesis found {len(errors)} guardrail violation(s); nothing is deployable", file=err)
        return EXIT_FINDINGS
    return EXIT_OK
