"""The policy gate's command line: synthesize with every guardrail and compliance pack, then Checkov (built-in +
our checks), cfn-lint (CloudFormation's resource specification) and the template engine over every template; one
report in JSON, SARIF and JUnit XML.

    python -m policies.gate --suffix prod [--cdk-out cdk.out] [--reports reports] [--skip-synth] [-o table|json]

Exit codes: 0 no unsuppressed finding; 1 findings; 2 usage error (bad suffix or arguments, a
--reports directory that does not exist or a report path there that is a link or not a file, a
template or manifest in --cdk-out that is not one);
3 the gate could not run (CDK CLI, Checkov or cfn-lint missing or crashed, the app's code raised,
a report not written); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click

from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from policies.gate import ROOT
from policies.gate.core import run
from policies.gate.report_files import reports_directory, write_reports
from policies.gate.result import GateError
from policies.gate.table import finding_line, summary_lines

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
