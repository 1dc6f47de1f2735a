"""The core: runs a command and returns a Report. Never prints; never imports click or rich.

`audit`, `drift` and `rotate-check keys` read the stack's scope (every resource TapStack<suffix> declares) back
into CloudFormation shape and judge it with the catalog's predicates (opscli.livestack, opscli.stackcheck);
`rotate-check secrets` judges the existing secrets the stack reads (they are not resources of the stack).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opscli import accepted, arns, livestack, provenance, stack, stackcheck
from opscli.aws import Aws
from opscli.checks import NO_ANSWER, Context, describe_failure, run_collector
from opscli.checks import collectors as c
from opscli.errors import OpsError, UsageError
from opscli.model import (
    FRAMEWORKS,
    Finding,
    Provenance,
    Report,
    exit_code,
    judged_nothing,
    short_name,
    sort_findings,
)
from opscli.operations import SCOPE_OPERATIONS, SECRETS_SPECS, declared_operations  # noqa: F401 - re-exported
from opscli.targets import Targets
from platform_spec import catalog, monitor, stacks
from platform_spec import path as stack_path
from platform_spec.exit_codes import EXIT_INTERRUPTED
from platform_spec.result import Status
from platform_spec.rules import stk_kms, stk_tag
from platform_spec.stacks import ALLOWED_REGION

MAX_WORKERS = 4  # bounded concurrency for the secrets
KEY_TYPES = frozenset({"AWS::KMS::Key", "AWS::KMS::Alias"})
KEY_RULES = frozenset({stk_kms.ROTATION_ID, stk_kms.KEY_STATE_ID, stk_tag.RULE_ID, stackcheck.PRESENCE_RULE})

Progress = Callable[[str, int, int], None]  # (step just finished, steps done, steps in all)


def require_region(aws: Aws) -> None:
    if aws.region != ALLOWED_REGION:
        raise UsageError(f"region '{aws.region}' is not allowed: the platform runs in {ALLOWED_REGION} only")


def _start(aws: Aws) -> tuple[float, int]:
    require_region(aws)
    aws.check_credentials()
    return time.perf_counter(), len(aws.log.calls)


# --- the stack as the scope ---------------------------------------------------------------------------

def stack_names(targets: Targets) -> tuple[str, ...]:
    """The stacks of the environment a run may judge: TapStack<suffix> (the default) and its posture monitor,
    TapMonitor<suffix>."""
    return stacks.stack_name(targets.suffix), monitor.stack_name(targets.suffix)


def chosen_stack(targets: Targets, stack_name: str | None) -> str:
    """`stack_name` if it is one of the environment's stacks (default: TapStack<suffix>); a usage error otherwise:
    a run judges the stacks of its suffix only, since the names it expects come from that suffix."""
    names = stack_names(targets)
    if stack_name is None:
        return names[0]
    if stack_name not in names:
        raise UsageError(f"--stack {stack_name!r} is not a stack of environment {targets.suffix!r}: "
                         f"use {' or '.join(names)}")
    return stack_name


def stack_scope(aws: Aws, targets: Targets, *, stack_record: Path | None = None,
                stack_name: str | None = None) -> stack.StackScope:
    """The declared resources: from CloudFormation (ListStackResources + GetTemplate of TapStack<suffix>, or of
    `stack_name`; the local emulator answers them for the stacks it deployed), or from a stack record file."""
    if stack_record is not None:
        return stack.from_record(stack_record)
    return stack.from_cloudformation(aws, chosen_stack(targets, stack_name))


def account_id(aws: Aws) -> str:
    try:
        answer = aws.client("sts").get_caller_identity()
    except Exception as exc:  # noqa: BLE001 - any failure to learn the account means nothing can be resolved
        try:
            why = describe_failure(exc)[1]  # with what to do, where it is a failure of AWS's or of the endpoint
        except Exception:  # noqa: BLE001 - not one of those: as it is
            why = str(exc)
        raise OpsError(f"could not read the account id (sts:GetCallerIdentity): {why}") from None
    account = answer.get("Account") if isinstance(answer, dict) else None
    if not isinstance(account, str) or not account:
        raise OpsError("sts:GetCallerIdentity answered without an Account")
    aws.known_account = account
    caller = answer.get("Arn")
    aws.known_caller = caller if isinstance(caller, str) and caller.startswith("arn:") else None
    return account


def where(aws: Aws) -> dict[str, str]:
    """Where a run looked, for its report: region, the endpoint when not AWS's own, and the account if read."""
    out = {"region": str(getattr(aws, "region", ""))}
    for key, attribute in (("endpoint", "endpoint_url"), ("account", "known_account")):
        value = getattr(aws, attribute, None)
        if isinstance(value, str) and value:
            out[key] = value
    return out


def _provenance(aws: Aws, scope: stack.StackScope | None) -> Provenance:
    """Who ran the checks (the caller, if sts:GetCallerIdentity answered), on which template, from which commit."""
    caller = getattr(aws, "known_caller", None)
    digest = scope.digest if scope is not None else None
    return Provenance(caller=caller if isinstance(caller, str) else None,
                      template_sha256=digest.sha256 if digest else None, template_of=digest.of if digest else None,
                      commit=provenance.checkout_commit())


def resource_arns(aws: Aws, live: livestack.LiveStack) -> dict[str, tuple[arns.Located, ...]]:
    """The ARN(s) a finding on each declared resource names (opscli.arns), from the live read."""
    if live.account is None:
        return {}
    return arns.stack_arns(live.scope.resources, resolve=live.resolve, region=str(aws.region), account=live.account,
                           attributes={lid: r.attributes for lid, r in live.resources.items()})


def _read(aws: Aws, scope: stack.StackScope, progress: Progress | None,
          deadline: float | None = None, *, account_iam: bool = False) -> livestack.LiveStack:
    total, done = len(scope.resources), [0]

    def step(label: str) -> None:
        done[0] += 1
        if progress:
            progress(label, done[0], total)

    return livestack.read_stack(aws, scope, account=account_id(aws), progress=step, deadline=deadline,
                                account_iam=account_iam)


class ScopeTimeout(stack.ScopeError):
    """The stack's declaration had no answer before the run's deadline."""


def _bounded(call: Callable[[], Any], deadline: float | None, what: str) -> Any:
    """`call()` in a worker thread, given up at `deadline`: a hung endpoint cannot hold the run past it."""
    if deadline is None:
        return call()
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(call)
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        raise ScopeTimeout(f"no answer to {what} before the run's --timeout: check that the endpoint answers, "
                           f"or give a longer --timeout") from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _scope_error(command: str, targets: Targets, exc: stack.ScopeError, start: float, aws: Aws,
                 calls_before: int, stack_name: str | None = None) -> Report:
    """The stack's declaration could not be read: one ERROR (could not look), so the report still prints."""
    finding = Finding("stack.scope", stackcheck.PRESENCE_RULE, Status.ERROR,
                      stack_name or stacks.stack_name(targets.suffix), f"could not look: {exc}")
    return Report(command=command, target={**targets.as_dict(), **where(aws)}, findings=[finding],
                  api_calls=len(aws.log.calls) - calls_before, seconds=time.perf_counter() - start,
                  provenance=_provenance(aws, None))


def _report(command: str, targets: Targets, scope: stack.StackScope, findings: list[Finding], start: float,
            aws: Aws, calls_before: int, cover: stackcheck.Coverage) -> Report:
    if judged_nothing(findings):
        # Nothing declared that this command judges (an empty template, a stack without keys): say so as an
        # ERROR, in every output, rather than print "0 checks" and exit 0.
        findings = [*findings, Finding("stack.scope", stackcheck.PRESENCE_RULE, Status.ERROR, scope.stack_name,
                                       f"could not look: {scope.source} declares {len(scope.resources)} resources "
                                       f"and nothing in it could be judged: a run that judged nothing vouches for "
                                       f"nothing")]
    return Report(command=command, target={**targets.as_dict(), "stack": scope.stack_name, **where(aws)},
                  findings=sort_findings(findings), api_calls=len(aws.log.calls) - calls_before,
                  seconds=time.perf_counter() - start, coverage=cover.to_dict(), template=scope.template,
                  provenance=_provenance(aws, scope))


def _scoped(command: str, aws: Aws, targets: Targets, stack_record: Path | None, deadline: float | None,
            run: Callable[[stack.StackScope], tuple[stack.StackScope, list[Finding], stackcheck.Coverage,
                                                    livestack.LiveStack]], stack_name: str | None = None) -> Report:
    """Read the stack's scope, then `run` it: (the scope it read, findings, coverage, the live read). An
    unreadable declaration is one ERROR (could not look), so the report still prints."""
    name = chosen_stack(targets, stack_name)  # a stack not of this environment: a usage error before any call
    start, calls_before = _start(aws)
    try:
        scope = _bounded(lambda: stack_scope(aws, targets, stack_record=stack_record, stack_name=name), deadline,
                         "the stack's declaration (CloudFormation)")
    except stack.ScopeError as exc:
        report = _scope_error(command, targets, exc, start, aws, calls_before, name)
        report.incomplete = "timeout" if isinstance(exc, ScopeTimeout) else None
        return report
    except KeyboardInterrupt:
        report = _scope_error(command, targets, stack.ScopeError("interrupted (Ctrl-C)"), start, aws, calls_before,
                              name)
        report.incomplete = "interrupted"
        return report
    used, findings, cover, live = run(scope)
    report = _report(command, targets, used, findings, start, aws, calls_before, cover)
    report.incomplete = live.incomplete
    report.arns = resource_arns(aws, live)
    return report


def audit(aws: Aws, targets: Targets, *, stack_record: Path | None = None, progress: Progress | None = None,
          now: datetime | None = None, deadline: float | None = None, stack_name: str | None = None) -> Report:
    """Every live rule of the catalog over every resource the stack declares, read back in template shape, plus
    the live-only rules (key state, running tasks, members per AZ, applied parameters, available mounts) and the
    account rules (the account's IAM beside the stack: who outside it reaches the stack's data); and, from the same
    read, the stack's paths across its perimeter (`Report.paths`), which those findings judge."""
    read: list[list[stack_path.Path]] = []  # the paths of the read, when the declaration could be read at all

    def run(scope: stack.StackScope) -> tuple[stack.StackScope, list[Finding], stackcheck.Coverage,
                                              livestack.LiveStack]:
        live = _read(aws, scope, progress, deadline, account_iam=True)
        read.append(stackcheck.perimeter_paths(live))  # the paths the findings below name, from the same read
        return scope, stackcheck.judge(live, expected_tags=_tags(targets)), stackcheck.coverage(live), live
    report = _scoped("audit", aws, targets, stack_record, deadline, run, stack_name)
    report.paths = read[0] if read else None
    return report


def drift(aws: Aws, targets: Targets, *, stack_record: Path | None = None, progress: Progress | None = None,
          now: datetime | None = None, deadline: float | None = None, stack_name: str | None = None) -> Report:
    """Each declared property compared with its live value; the rule a drifted value breaks, if any."""
    def run(scope: stack.StackScope) -> tuple[stack.StackScope, list[Finding], stackcheck.Coverage,
                                              livestack.LiveStack]:
        live = _read(aws, scope, progress, deadline)
        findings, unverified = stackcheck.drift(live, expected_tags=_tags(targets))
        cover = stackcheck.coverage(live)
        cover.unverified = unverified
        return scope, findings, cover, live
    return _scoped("drift", aws, targets, stack_record, deadline, run, stack_name)


def rotate_keys(aws: Aws, targets: Targets, *, stack_record: Path | None = None, progress: Progress | None = None,
                now: datetime | None = None, deadline: float | None = None, stack_name: str | None = None) -> Report:
    """The stack's KMS keys: present, customer-managed and enabled, rotating automatically, tagged."""
    def run(scope: stack.StackScope) -> tuple[stack.StackScope, list[Finding], stackcheck.Coverage,
                                              livestack.LiveStack]:
        keys = stack.StackScope(scope.stack_name, scope.template,
                                tuple(r for r in scope.resources if r.type in KEY_TYPES), scope.source, scope.digest)
        live = _read(aws, keys, progress, deadline)
        findings = [f for f in stackcheck.judge(live, expected_tags=_tags(targets))
                    if f.rule_id in KEY_RULES and f.resource.startswith("AWS::KMS::Key ")]
        return keys, findings, stackcheck.coverage(live), live
    return _scoped("rotate-check keys", aws, targets, stack_record, deadline, run, stack_name)


def _tags(targets: Targets) -> dict[str, str]:
    """The tag values the live stage checks (the keys come from the catalog's required tags)."""
    return {"Environment": targets.suffix}


# --- the existing secrets the stack reads -------------------------------------------------------------

def rotate_secrets(aws: Aws, targets: Targets, *, max_age_days: int = 90, progress: Progress | None = None,
                   now: datetime | None = None, deadline: float | None = None) -> Report:
    """Rotation posture of the secrets the stack reads; a secret with no answer by `deadline` (or when Ctrl-C
    comes) is ERROR for every check."""
    start, calls_before = _start(aws)
    context = Context(aws=aws, targets=targets, now=now or datetime.now(UTC), max_age_days=max_age_days)
    findings: list[Finding] = []
    incomplete = None
    pool = ThreadPoolExecutor(max_workers=MAX_WORKERS)
    futures = [(name, pool.submit(run_collector, c.SECRET, c.secret, context, name)) for name in targets.secrets]
    try:
        for done, (name, future) in enumerate(futures, 1):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                findings += future.result(timeout=remaining)
            except FutureTimeout:
                incomplete = "timeout"
                findings += [Finding(check, rule, Status.ERROR, name, f"could not look: {NO_ANSWER}")
                             for check, rule in c.SECRET.checks]
            if progress:
                progress(f"secret {name}", done, len(futures))
    except KeyboardInterrupt:
        incomplete = "interrupted"
        seen = {f.resource for f in findings}
        findings += [Finding(check, rule, Status.ERROR, name, "could not look: interrupted (Ctrl-C)")
                     for name, _ in futures if name not in seen for check, rule in c.SECRET.checks]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return Report(command="rotate-check secrets", target={**targets.as_dict(), **where(aws)},
                  findings=sort_findings(findings),
                  api_calls=len(aws.log.calls) - calls_before, seconds=time.perf_counter() - start,
                  incomplete=incomplete, provenance=_provenance(aws, None))


WHY_SHOWN = 5  # distinct reasons a run that could not look states on stderr; the report holds every one


def could_not_look(report: Report, limit: int = WHY_SHOWN) -> list[str]:
    """Why the run could not look, for the operator's stderr: one line per distinct reason (what could not be
    looked at, why, what to do), the causes before what they left unjudged ("could not judge"), at most `limit`
    and then how many more; empty when every check could look."""
    by_reason: dict[str, list[str]] = {}
    for f in report.findings:
        if f.status is Status.ERROR and f.resource not in by_reason.setdefault(f.reason, []):
            by_reason[f.reason].append(f.resource)
    causes = sorted(by_reason, key=lambda reason: reason.startswith("could not judge"))
    lines = []
    for reason in causes[:limit]:
        resources = by_reason[reason]
        what = resources[0] if len(resources) == 1 else \
            f"{len(resources)} resources ({', '.join(short_name(r) for r in resources[:3])}" \
            f"{', …' if len(resources) > 3 else ''})"
        lines.append(f"ERROR {what}: {reason}")
    if len(causes) > limit:
        more = len(causes) - limit
        lines.append(f"ERROR: {more} more reason{'s' if more > 1 else ''} a check could not look: every one is in "
                     f"the report (-o json, --report html)")
    return lines


def conclude(report: Report, *, accepting: list[Any] | None = None, accepted_file: Path | None = None,
             compliance: str | None = None, fail_on: str = "low", today: Any = None) -> tuple[int, str | None]:
    """What a run comes to, decided here and only printed by the CLI: the accepted deviations applied (each judged
    by STK-OPS-001), the view narrowed to one framework's rules, and the exit code. Returns (exit code, a note
    for the operator or None). A run that reached no verdict says so: it vouches for nothing."""
    if accepting is not None and accepted_file is not None:
        day = today or datetime.now(UTC).date()
        report.findings = sort_findings(accepted.apply(report.findings, accepting, accepted_file, day))
        report.register = accepted.register(report.findings, accepting, day)
    if compliance:
        field = FRAMEWORKS[compliance]
        report.findings = [f for f in report.findings
                           if (rule := catalog.CATALOG.get(f.rule_id)) and rule.references.ids(field)]
        report.compliance = compliance
    code = exit_code(report.findings, fail_on)
    note = None
    if judged_nothing(report.findings):  # e.g. a --compliance view that keeps none of the run's checks
        view = f" for --compliance {compliance}" if compliance else ""
        note = f"no check reached a verdict{view}: a run that judged nothing vouches for nothing (exit {code})"
    if report.incomplete == "interrupted":
        code = EXIT_INTERRUPTED
    return code, note
