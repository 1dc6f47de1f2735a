"""opscli's commands: thin Click wrappers around the core, one error boundary, results on stdout."""

from __future__ import annotations

import json
import os
import re
import sys
import time
import traceback
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from opscli import __doc__ as EXIT_CODES_DOC  # noqa: N812 - the documented contract
from opscli import __version__, accepted, core, render, run_files, targets, terminal
from opscli.aws import Aws
from opscli.errors import OpsError, UsageError
from opscli.iam_policy import (
    MANAGED_POLICY_CHARACTERS,
    ROLE_INLINE_CHARACTERS,
    caller_notes,
    characters,
    managed_documents,
    policy_document,
)
from opscli.model import FRAMEWORKS, FailOn, Report
from opscli.sanitize import visible
from platform_spec import catalog, monitor
from platform_spec.exit_codes import EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from platform_spec.stacks import ALLOWED_REGION, STACK_PREFIX
from platform_utils import files, source_map

DEFAULT_TIMEOUT = 60.0
# "\b" keeps Click from re-wrapping the table.
EXIT_CODES = "\b\nExit codes" + EXIT_CODES_DOC.split("Exit codes", 1)[1].rstrip()


class State:
    def __init__(self) -> None:
        self.verbose = False


def _console(no_color: bool, *, stderr: bool) -> terminal.VisibleConsole:
    # A VisibleConsole, so that no character from AWS or from a file acts on the terminal. Emoji off: ARNs
    # contain ":secret:", which rich would turn into an emoji. The width is the terminal's (or COLUMNS; 80 when
    # piped): the table fits it, full names are in JSON and SARIF. Colors only on a terminal, never with
    # --no-color or NO_COLOR.
    # Messages and progress on stderr are never wrapped (a line each, whole).
    return terminal.VisibleConsole(stderr=stderr, no_color=no_color or bool(os.environ.get("NO_COLOR")),
                                   soft_wrap=stderr, emoji=False, highlight=False)


def aws_options(fn: Callable) -> Callable:
    options = [
        click.option("--region", default=ALLOWED_REGION, show_default=True,
                     help=f"AWS region (audits accept only {ALLOWED_REGION})."),
        click.option("--profile", default=None, help="AWS named profile."),
        click.option("--endpoint-url", envvar="AWS_ENDPOINT_URL", default=None,
                     help="AWS endpoint (a local emulator); also AWS_ENDPOINT_URL."),
        click.option("--suffix", default=None, help="Environment suffix, e.g. prod (names: {resource-type}-{suffix})."),
        click.option("--outputs", "outputs_file", type=click.Path(path_type=Path), default=None,
                     help="Stack outputs file (the flat JSON of cdk deploy --outputs-file) instead of --suffix."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return output_options(fn)


def output_options(fn: Callable) -> Callable:
    options = [
        click.option("-o", "--output", type=click.Choice(["table", "json", "sarif"]), default="table",
                     show_default=True, help="Result format on stdout."),
        click.option("--fail-on", type=click.Choice([s.value for s in FailOn], case_sensitive=False), default="low",
                     show_default=True, help="Lowest severity of a FAIL that makes the exit code 1."),
        click.option("--accepted", "accepted_file", type=click.Path(path_type=Path), default=None,
                     envvar="OPSCLI_ACCEPTED",
                     help="Reviewed accepted-findings file (TOML; also OPSCLI_ACCEPTED): a matching FAIL becomes "
                          "ACCEPTED, each entry is checked (STK-OPS-001)."),
        click.option("--compliance", type=click.Choice(sorted(FRAMEWORKS)), default=None,
                     help="Only the rules mapped to this framework's controls, grouped by control (also in JSON)."),
        click.option("--all", "show_all", is_flag=True,
                     help="Table: every row (PASS, ACCEPTED, NOT_APPLICABLE too) and every FAIL explained; by "
                          "default the summary, then only FAIL and ERROR rows and the first FAILs explained."),
        click.option("--only-failed", is_flag=True, hidden=True, help="The default now; kept for old scripts."),
        click.option("--sarif-include-pass", is_flag=True,
                     help="SARIF: every result (PASS, ERROR, NOT_APPLICABLE with their kind); by default only "
                          "failing ones, as code scanning shows every result it is given."),
        click.option("--source-map", "source_map_file", type=click.Path(path_type=Path), default=None,
                     envvar="OPSCLI_SOURCE_MAP",
                     help="The CDK app's source map (each construct -> the Python line that declares it): every "
                          "view gives a declared resource's findings that file:line, and SARIF puts them there; "
                          "default: the one committed in the CDK app's checkout that the working directory is in "
                          "(beside cdk.json, here or above). Without one, a warning says so."),
        click.option("--report", "reports", multiple=True, metavar="FORMAT=PATH", callback=_report_specs,
                     help="Also write the report to PATH as FORMAT (json, sarif, table, html: one self-contained "
                          "page, asff: Security Hub's findings, ocsf: OCSF Compliance Findings); "
                          "repeatable, e.g. --report sarif=out/audit.sarif --report html=out/audit.html."),
        click.option("--history", "history_file", type=click.Path(path_type=Path), default=None,
                     help="The local history this run is appended to (SQLite; the HTML report shows its trend and "
                          "since when each finding fails); default OPSCLI_HISTORY, else "
                          "$XDG_STATE_HOME/opscli/history.sqlite."),
        click.option("--no-history", is_flag=True, help="Record nothing in the local history."),
        click.option("--no-color", is_flag=True, help="No colors (also NO_COLOR)."),
        click.option("-v", "--verbose", is_flag=True,
                     help="Each AWS call on stderr as it ends (operation, parameters, answer); tracebacks on "
                          "internal errors."),
        click.option("--timeout", type=click.FloatRange(1, 3600), default=DEFAULT_TIMEOUT, show_default=True,
                     help="Seconds for the whole run: checks still without an answer then are ERROR and the "
                          "report is printed."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _report_specs(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list[tuple[str, Path]]:
    specs = []
    for value in values:
        fmt, sep, path = value.partition("=")
        if not sep or fmt not in render.REPORT_FORMATS or not path:
            raise click.BadParameter(f"{value!r} is not FORMAT=PATH with FORMAT one of "
                                     f"{', '.join(render.REPORT_FORMATS)}")
        if not files.names_a_file(path):  # checked as typed: Path() would turn "out/" into a file named out
            raise click.BadParameter(f"{value!r}: {path} names a directory; name the file, e.g. "
                                     f"{fmt}={os.path.join(path, 'audit.' + fmt)}")
        specs.append((fmt, Path(path)))
    return specs


def _source_map(path: Path | None) -> source_map.SourceMap:
    """The source map every view locates findings with: --source-map (a usage error if it cannot be read), else
    the committed one of the app's checkout the working directory is in, else none, with why."""
    if path is None:
        return source_map.SourceMap.discover(".")
    try:
        return source_map.SourceMap(source_map.read(path), str(path))
    except (files.FileRefused, ValueError) as exc:
        raise UsageError(f"--source-map: {exc}") from None


def _targets(suffix: str | None, outputs_file: Path | None) -> targets.Targets:
    if outputs_file is not None and suffix is not None:
        raise UsageError("give either --suffix or --outputs, not both")
    if outputs_file is not None:
        return targets.from_outputs(outputs_file)
    if suffix is None:
        raise UsageError("missing --suffix (e.g. --suffix prod) or --outputs FILE")
    return targets.from_suffix(suffix)


def _endpoint(url: str | None) -> str | None:
    """--endpoint-url must be an http(s) URL with a host: anything else is a usage error, not a failed call."""
    if url is None:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--endpoint-url {url!r} is not an http(s) URL with a host (e.g. http://127.0.0.1:5000)")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise UsageError(f"--endpoint-url {url!r} has a port that is not a number") from None
    return url


def _run(ctx: click.Context, run: Callable[..., Report], kwargs: dict[str, Any], extra: dict[str, Any]) -> None:
    ctx.obj.verbose = kwargs["verbose"]
    err = _console(kwargs["no_color"], stderr=True)
    destinations = run_files.check_destinations(kwargs["reports"], kwargs["history_file"],
                                                keep_history=not kwargs["no_history"])
    sources = _source_map(kwargs["source_map_file"])
    target = _targets(kwargs["suffix"], kwargs["outputs_file"])
    accepting = accepted.load(kwargs["accepted_file"]) if kwargs["accepted_file"] else None
    aws = Aws(region=kwargs["region"], profile=kwargs["profile"], endpoint_url=_endpoint(kwargs["endpoint_url"]))
    ctx.call_on_close(aws.close)  # the run's connections are not kept past it (a caller may run many in process)
    if kwargs["verbose"]:  # each AWS call on stderr as it ends, shown as text
        aws.watch = lambda call: err.print(f"aws: {terminal.cell(call.line())}")
    deadline = time.monotonic() + kwargs["timeout"]
    if err.is_terminal and not kwargs["verbose"]:
        with Progress(TextColumn("[bold]opscli[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err, transient=True) as bar:
            task = bar.add_task(f"checking {target.suffix}", total=None)

            def advance(step: str, done: int, total: int) -> None:
                bar.update(task, description=terminal.cell(step), completed=done, total=total)

            report = run(aws, target, progress=advance, deadline=deadline, **extra)
    else:
        verbose = kwargs["verbose"]
        report = run(aws, target, progress=(lambda step, done, total: err.print(
            f"checked {terminal.cell(step)} ({done}/{total})")) if verbose else None, deadline=deadline, **extra)
    code, note = core.conclude(report, accepting=accepting, accepted_file=kwargs["accepted_file"],
                               compliance=kwargs["compliance"], fail_on=kwargs["fail_on"])
    if note:
        err.print(f"opscli: {terminal.cell(note)}")
    for line in core.could_not_look(report):
        err.print(f"opscli: {terminal.cell(line)}")
    report.source_map = sources
    unplaced = report.source_warning()
    if unplaced:
        err.print(f"opscli: warning: {terminal.cell(unplaced)}")
    # The files first: a report that cannot be written changes the exit code that stdout then states.
    delivered = run_files.deliver(report, code, destinations, show_all=kwargs["show_all"],
                                  include_pass=kwargs["sarif_include_pass"])
    code = delivered.code
    if delivered.history_refused is not None:  # the run's verdict stands; the operator is told
        err.print(f"opscli: history not recorded: {terminal.cell(delivered.history_refused)}")
    if kwargs["output"] == "json":
        click.echo(render.to_json(report, code), nl=False)
    elif kwargs["output"] == "sarif":
        click.echo(render.render(report, "sarif", code, include_pass=kwargs["sarif_include_pass"]), nl=False)
    else:
        terminal.table(report, _console(kwargs["no_color"], stderr=False), code, show_all=kwargs["show_all"])
    for why in delivered.unwritten:  # the path as typed, shown as text: it may come from a script's input
        click.echo(visible(f"error: {why}"), err=True)
    if report.incomplete:
        # Calls that never answered may still hold worker threads; the report is out, so do not wait for them.
        err.print(f"opscli: {'interrupted' if report.incomplete == 'interrupted' else 'timed out'}: checks "
                  f"without an answer are ERROR")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    ctx.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="opscli")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Read-only checks of a deployed StreamTech platform environment (ap-northeast-1)."""
    ctx.obj = ctx.obj or State()


def stack_record_option(fn: Callable) -> Callable:
    return click.option(
        "--stack-record", type=click.Path(path_type=Path), default=None,
        help="The stack's declaration and ids from a file (the local emulator writes one beside the outputs) "
             "instead of CloudFormation's ListStackResources and GetTemplate.")(fn)


def stack_option(fn: Callable) -> Callable:
    return click.option(
        "--stack", "stack_name", default=None, metavar="NAME",
        help=f"The stack to judge: {STACK_PREFIX}<suffix> (default) or the posture monitor's "
             f"{monitor.STACK_PREFIX}<suffix>.")(fn)


@cli.command(epilog=EXIT_CODES)
@aws_options
@stack_record_option
@stack_option
@click.pass_context
def audit(ctx: click.Context, stack_record: Path | None, stack_name: str | None, **kwargs: Any) -> None:
    """Verify the live Multi-AZ, encryption and TLS posture of every resource the stack deploys.

    Every resource TapStack<suffix> declares (CloudFormation's ListStackResources, or --stack-record) is read
    back into its CloudFormation shape and judged by the catalog's rules; the coverage line says what was read.

    \b
    opscli audit --suffix prod
    opscli audit --suffix prod --stack TapMonitorprod      # the posture monitor's own stack
    opscli audit --outputs outputs.json -o json | jq .summary
    """
    _run(ctx, core.audit, kwargs, {"stack_record": stack_record, "stack_name": stack_name})


@cli.command(epilog=EXIT_CODES)
@aws_options
@stack_record_option
@stack_option
@click.pass_context
def drift(ctx: click.Context, stack_record: Path | None, stack_name: str | None, **kwargs: Any) -> None:
    """Where the live stack left its declaration: every declared property compared with its live value.

    One FAIL per differing property, with both values and the rule the live value now breaks (if any); exit 1
    on drift. Read-only, by id; no CloudFormation drift detection is started.

    \b
    opscli drift --suffix prod
    opscli drift --outputs outputs.json -o json | jq '.findings[] | select(.status=="FAIL")'
    """
    _run(ctx, core.drift, kwargs, {"stack_record": stack_record, "stack_name": stack_name})


@cli.group("rotate-check")
def rotate_check() -> None:
    """Rotation posture of the secrets and the KMS key the stack uses."""


@rotate_check.command("secrets", epilog=EXIT_CODES)
@aws_options
@click.option("--max-age-days", type=click.IntRange(1, 3650), default=90, show_default=True,
              help="Longest time since the last rotation (and last access) that passes.")
@click.pass_context
def rotate_secrets(ctx: click.Context, max_age_days: int, **kwargs: Any) -> None:
    """Rotation on, function set, rotated within --max-age-days, next rotation scheduled, nothing stuck in
    AWSPENDING, recently accessed, encrypted with a customer-managed key."""
    _run(ctx, core.rotate_secrets, kwargs, {"max_age_days": max_age_days})


@rotate_check.command("keys", epilog=EXIT_CODES)
@aws_options
@stack_record_option
@stack_option
@click.pass_context
def rotate_keys(ctx: click.Context, stack_record: Path | None, stack_name: str | None, **kwargs: Any) -> None:
    """The stack's KMS keys: customer-managed, enabled, automatic rotation on, tagged."""
    _run(ctx, core.rotate_keys, kwargs, {"stack_record": stack_record, "stack_name": stack_name})


@cli.group()
def rules() -> None:
    """Browse the rule catalog."""


@rules.command("list")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--no-color", is_flag=True)
def rules_list(output: str, no_color: bool) -> None:
    """Every rule: id, severity, engines, title."""
    if output == "json":
        click.echo(json.dumps([{"id": r.id, "severity": r.severity.value, "engines": [e.value for e in r.engines],
                                "title": r.title, "accepted_deviation": r.accepted_deviation}
                               for r in catalog.CATALOG.values()], indent=2))
        return
    terminal.rules_table(catalog.CATALOG.values(), _console(no_color, stderr=False))


@rules.command("show")
@click.argument("rule_id")
def rules_show(rule_id: str) -> None:
    """One rule in full: rationale, what to do now and in code, mapped controls."""
    try:
        rule = catalog.get(rule_id.upper())
    except KeyError:
        raise UsageError(f"unknown rule id '{rule_id}' (see: opscli rules list)") from None
    refs = {k: v for k, v in vars(rule.references).items() if v}
    lines = [f"{rule.id}  {rule.title}", f"severity:    {rule.severity.value}",
             f"engines:     {', '.join(e.value for e in rule.engines) or 'accepted deviation'}",
             f"rationale:   {rule.rationale}", *([f"now:         {rule.now}"] if rule.now else []),
             f"{'in code:' if rule.now else 'remediation:':<12} {rule.in_code}"]
    lines += [f"{k + ':':<12} {v}" for k, v in refs.items()]
    click.echo(visible("\n".join(lines), lines=True))


@cli.group()
def export() -> None:
    """Send a report elsewhere: the only commands that write, and only when run."""


@export.command("security-hub")
@click.option("--report", "report", required=True, metavar="asff=PATH",
              help="The ASFF report to import (written by audit, drift or rotate-check with --report asff=PATH).")
@click.option("--region", default=ALLOWED_REGION, show_default=True, help="Security Hub's region.")
@click.option("--profile", default=None, help="AWS named profile.")
@click.option("--endpoint-url", envvar="AWS_ENDPOINT_URL", default=None,
              help="AWS endpoint (a local emulator); also AWS_ENDPOINT_URL.")
def export_security_hub(report: str, region: str, profile: str | None, endpoint_url: str | None) -> None:
    """Import an ASFF report into AWS Security Hub (BatchImportFindings, 100 a call). Its session can send
    nothing else (but a role profile's credential calls), and with --endpoint-url nowhere else. Ids are stable,
    so importing again updates each finding: a PASS resolves an earlier FAIL. Exit 0 when every finding was
    imported; 3 when any was not (each is named) or when Security Hub's answer does not account for every
    finding sent (which were imported is then unknown); 2 for a bad report."""
    from opscli import export as exporting
    from opscli.sanitize import visible

    fmt, sep, path = report.partition("=")
    if fmt != "asff" or not sep or not path:
        raise UsageError(f"--report {report!r} is not asff=PATH")
    findings = exporting.read_findings(Path(path))
    client = exporting.import_client(region=region, profile=profile, endpoint_url=_endpoint(endpoint_url))
    result = exporting.import_findings(client, findings)
    click.echo(f"imported {result.imported} of {result.sent} findings into Security Hub ({region})")
    shown = 20
    for item in result.failed[:shown]:
        click.echo(f"not imported: {visible(item['Id'])}: {visible(item.get('ErrorCode'))}: "
                   f"{visible(item.get('ErrorMessage'))}", err=True)
    if len(result.failed) > shown:
        click.echo(f"not imported: {len(result.failed) - shown} more", err=True)
    if result.failed:
        raise OpsError(f"{len(result.failed)} of {result.sent} finding(s) were not imported")


@cli.command("iam-policy")
@click.option("--suffix", default=None, help="Scope every action that supports it to this environment's stack.")
@click.option("--outputs", "outputs_file", type=click.Path(path_type=Path), default=None,
              help="Scope to the stack named in this outputs file (its secret and bucket names too).")
@click.option("--account", default=None, help="The 12-digit account in the ARNs (default: \"*\", any account).")
@click.option("--format", "fmt", type=click.Choice(["managed", "inline"]), default="managed", show_default=True,
              help="managed: a JSON list of policy documents, each within IAM's 6,144 characters for a managed "
                   "policy (a service's statements kept together); inline: one document, for a role's inline "
                   "policies (10,240 characters in all), refused when larger.")
def iam_policy(suffix: str | None, outputs_file: Path | None, account: str | None, fmt: str) -> None:
    """Print the least-privilege IAM policy for exactly the read operations the checks use (stdout: the policy
    alone; stderr: what the caller needs besides it, e.g. sts:AssumeRole for a role profile).

    With --suffix or --outputs, every action AWS authorizes on a resource is granted on that stack's resources
    only (its stack, names, and the names CloudFormation generates from the stack's name); without, on "*".
    Exit 2 when --format inline cannot hold the policy."""
    if account is not None and not re.fullmatch(r"\d{12}", account):
        raise UsageError(f"--account must be 12 digits, not {account!r}")
    scope = _targets(suffix, outputs_file) if suffix is not None or outputs_file is not None else None
    document = policy_document(targets=scope, account=account)
    if fmt == "inline":
        size = characters(document)
        if size > ROLE_INLINE_CHARACTERS:
            raise UsageError(f"the policy is {size:,} characters and a role's inline policies may total "
                             f"{ROLE_INLINE_CHARACTERS:,}: use --format managed (documents of at most "
                             f"{MANAGED_POLICY_CHARACTERS:,} each)")
        click.echo(json.dumps(document, indent=2))
        notes = [f"{size:,} characters of the {ROLE_INLINE_CHARACTERS:,} a role's inline policies may total."]
    else:
        documents = managed_documents(document)
        click.echo(json.dumps(documents, indent=2))
        notes = [f"{len(documents)} managed policy document(s), each within IAM's {MANAGED_POLICY_CHARACTERS:,} "
                 "characters: create one policy from each (aws iam create-policy --policy-document) and attach "
                 "them all."]
    for note in notes + caller_notes(scoped=scope is not None):
        click.echo(f"note: {note}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point with the one error boundary: an OpsError is one line and its exit code."""
    state = State()
    try:
        code = cli.main(args=argv, prog_name="opscli", standalone_mode=False, obj=state)
        return code if isinstance(code, int) else EXIT_OK
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            # Ctrl-C before a check began (while starting, or outside the phases that print a partial report):
            # nothing to report. A call already sent may hold a worker thread, so do not wait for it.
            click.echo("opscli: interrupted before any check ran", err=True)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        click.echo("error: aborted", err=True)
        return EXIT_USAGE
    except OpsError as exc:  # its message may carry AWS's text: shown, never acted on, on one line
        if state.verbose:
            click.echo(visible(traceback.format_exc(), lines=True), err=True, nl=False)
        click.echo(visible(f"error: {exc}"), err=True)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the boundary: never a bare traceback
        if state.verbose:
            click.echo(visible(traceback.format_exc(), lines=True), err=True, nl=False)
        click.echo(visible(f"error: internal error: {type(exc).__name__}: {exc} (run with --verbose for details)"),
                   err=True)
        return EXIT_INCOMPLETE


def entry_point() -> None:  # pragma: no cover - console script
    sys.exit(main())
