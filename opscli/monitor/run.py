"""One batch of the monitor's queue judged: the core the Lambda handler and the local consumer share. Never prints.

A batch with the schedule's message (or a change to the account's IAM, which the account rules judge as a whole,
or to the stack's own declaration) runs the whole-stack audit. Otherwise each change is mapped to the stack's
resources it names (opscli.monitor.resolve); every resource named in the batch is read once, with its relations,
and judged by the same rules as `opscli audit` (rules, live-only checks, what grows next to the declaration) and
by drift (one finding per resource). Only findings about what was read are kept: a whole-stack rule's verdict only
where everything it reads was read. Then every check of every resource judged gets an answer (`settle`): what
could not be read is ERROR for every check it has, never a verdict; what is gone keeps its presence FAIL and has
every other check retired (NOT_APPLICABLE, archived in Security Hub); a check that gave nothing is retired too, so
no verdict of an earlier run stands for something this run judged.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opscli import core, stackcheck, targets
from opscli.aws import Aws
from opscli.errors import OpsError
from opscli.livestack import LiveStack, ReadState, read_stack
from opscli.model import Finding, Report, cut, resource_label, resource_parts, sort_findings
from opscli.monitor import messages, resolve
from opscli.monitor.messages import Change, Poison, Record
from platform_spec import stacks
from platform_spec.registry import ACCOUNT_RULES_BY_ID, LIVE_ONLY_RULES, RESOURCE_RULES, STACK_RULES_BY_ID
from platform_spec.result import Status
from platform_spec.rules.stk_drift import DRIFT_ID
from platform_spec.stages import PRESENCE_RULE

DRIFT_CHECK = "drift"
SCOPE_CHECK = "stack.scope"  # whether the run could read the stack's declaration at all
WHOLE_SOURCES = frozenset({"iam.amazonaws.com"})  # the account rules judge the account's IAM as one answer
DRIFT_REASON = 900  # characters of a merged drift finding's reason (ASFF's Description holds 1,024)


@dataclass(frozen=True)
class Settings:
    """What a monitor watches and where its results go (the Lambda's environment, the consumer's options)."""

    suffix: str
    bucket: str | None = None  # the S3 bucket for each run's JSON Lines report; None: not written
    namespace: str | None = None  # the CloudWatch namespace of FailingFindings; None: not published
    timeout: float = 60.0  # seconds a run may take to read

    @property
    def stack_name(self) -> str:
        return stacks.stack_name(self.suffix)


@dataclass
class Outcome:
    """What one batch came to. `retry`: the message ids to leave on the queue (with why), so SQS delivers them
    again and dead-letters them after maxReceiveCount; every other message was judged or ignored."""

    kind: str  # "schedule" (the whole-stack audit), "change", or "none" (nothing to read)
    messages: int = 0
    changes: int = 0
    ignored: int = 0  # changes that name nothing of the stack (or failed calls, which change nothing)
    why_ignored: dict[str, int] = field(default_factory=dict)  # another account's or region's changes, by reason
    poison: list[Poison] = field(default_factory=list)  # not messages.Poison: the field above hides the module
    retry: dict[str, str] = field(default_factory=dict)
    named: list[str] = field(default_factory=list)  # logical ids the changes named
    read: list[str] = field(default_factory=list)  # logical ids read (named, with their relations)
    judged: list[str] = field(default_factory=list)  # logical ids whose findings were sent
    report: Report | None = None
    unread: dict[str, str] = field(default_factory=dict)  # logical id -> why it could not be read

    def summary(self) -> dict[str, Any]:
        counts = self.report.counts() if self.report else {}
        return {"kind": self.kind, "messages": self.messages, "changes": self.changes, "ignored": self.ignored,
                "why_ignored": self.why_ignored,
                "poison": len(self.poison), "retry": len(self.retry), "named": sorted(self.named),
                "read": len(self.read), "judged": len(self.judged), "findings": counts,
                "calls": self.report.api_calls if self.report else 0,
                "seconds": round(self.report.seconds, 3) if self.report else 0.0}


def judge_batch(aws: Aws, settings: Settings, records: Iterable[Record]) -> Outcome:
    """Read what the batch's messages ask for and judge it (the findings are in `Outcome.report`)."""
    records = list(records)
    batch = messages.sort(records, settings.suffix)
    whole = bool(batch.schedules) or any(asks_for_whole(change, settings) for change in batch.changes)
    outcome = Outcome(kind="schedule" if whole else "change", messages=len(records), changes=len(batch.changes),
                      poison=batch.poison)
    for poison in batch.poison:
        outcome.retry[poison.record.message_id] = poison.reason
    usable = [*(change.record for change in batch.changes), *(schedule.record for schedule in batch.schedules)]
    if not usable:
        outcome.kind = "none"
        return outcome
    start, calls_before = time.perf_counter(), len(aws.log.calls)
    deadline = time.monotonic() + settings.timeout
    try:
        core.require_region(aws)
        aws.check_credentials()
        account = aws.known_account or core.account_id(aws)
    except OpsError as exc:  # the region, credentials or account: nothing can be judged
        return _could_not_start(aws, settings, outcome, usable, f"could not look: {exc}", start, calls_before)
    # Another account's or region's change is not of this stack: ignored (why, once per reason), never read for.
    batch = messages.within(batch, region=str(aws.region), account=account)
    outcome.ignored, outcome.why_ignored = len(batch.ignored), batch.reasons()
    whole = bool(batch.schedules) or any(asks_for_whole(change, settings) for change in batch.changes)
    outcome.kind = "schedule" if whole else "change"
    usable = [*(change.record for change in batch.changes), *(schedule.record for schedule in batch.schedules)]
    if not usable:
        outcome.kind = "none"
        return outcome
    # The run's findings are stamped with the moment its reads began (Report.created: ASFF's UpdatedAt, the
    # metric's Timestamp), never when it ended: a run that read earlier but ended later must not win over one that
    # read after it (Security Hub keeps the later UpdatedAt of a finding). A change is read by a run that begins
    # after it, so that run's stamp is later than any read made before the change.
    read_from = datetime.now(UTC)
    try:
        scope = core.stack_scope(aws, targets.from_suffix(settings.suffix))
    except OpsError as exc:  # the declaration: nothing can be judged
        return _could_not_start(aws, settings, outcome, usable, f"could not look: {exc}", start, calls_before)
    tags = {"Environment": settings.suffix}
    if whole:
        live = read_stack(aws, scope, account=account, deadline=deadline, account_iam=True)
        idx = resolve.index(scope, region=aws.region, account=account)
        outcome.read = outcome.judged = sorted(r.logical_id for r in scope.resources)
        outcome.unread = _unread(live)
        findings = settle(idx, live, stackcheck.judge(live, expected_tags=tags) + drift_findings(live, tags),
                          set(outcome.judged), tags)
    else:
        idx = resolve.index(scope, region=aws.region, account=account)
        named: set[str] = set()
        by_change: list[tuple[Change, set[str]]] = []
        for change in batch.changes:
            found = set() if change.failed else resolve.named(idx, change)
            by_change.append((change, found))
            named |= found
            outcome.ignored += not found
        outcome.named = sorted(named)
        if not named:
            outcome.kind = "none"
            return outcome
        plan = resolve.plan(idx, named)
        live = read_stack(aws, scope, account=account, deadline=deadline, only=plan.read, account_iam=plan.account)
        outcome.read, outcome.judged = sorted(plan.read), sorted(plan.judged)
        outcome.unread = _unread(live)
        findings = about(idx, set(plan.read), stackcheck.judge(live, expected_tags=tags) +
                          drift_findings(live, tags))
        findings = [f for f in settle(idx, live, findings, set(plan.judged), tags, read=set(plan.read),
                                      account=plan.account) if _logical_id(f) in plan.judged]
        for change, found in by_change:
            unread = sorted(found & set(outcome.unread))
            if unread:
                outcome.retry[change.record.message_id] = f"could not read {', '.join(unread[:3])}: " \
                                                          f"{outcome.unread[unread[0]]}"
    # The declaration was read: this closes the ERROR a run that could not read it left (_could_not_start)
    findings.append(Finding(SCOPE_CHECK, stackcheck.PRESENCE_RULE, Status.PASS, settings.stack_name,
                            f"the declaration of {scope.stack_name} was read"))
    outcome.report = Report(command="monitor", target={"suffix": settings.suffix, "source": "monitor",
                                                        "stack": scope.stack_name, **core.where(aws)},
                            findings=sort_findings(findings), api_calls=len(aws.log.calls) - calls_before,
                            seconds=time.perf_counter() - start, coverage=stackcheck.coverage(live).to_dict(),
                            incomplete=live.incomplete, created=read_from)
    return outcome


def asks_for_whole(change: Change, settings: Settings) -> bool:
    if change.failed:
        return False
    if change.source in WHOLE_SOURCES:
        return True
    # The stack's own declaration changed (an update of TapStack<suffix>, named by its name or its stack ARN,
    # arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/ID): every resource may have.
    return change.source == "cloudformation.amazonaws.com" and any(
        value == settings.stack_name or (value.startswith("arn:") and value.split(":", 5)[5:] and
                                         value.split(":", 5)[5].split("/")[:2] == ["stack", settings.stack_name])
        for value in resolve.values([change.request]))


def _could_not_start(aws: Aws, settings: Settings, outcome: Outcome, usable: list[Record], reason: str,
                     start: float, calls_before: int) -> Outcome:
    """The declaration (or who we are) could not be read: one ERROR for the stack, and every usable message
    is left on the queue to be tried again (and dead-lettered, with this reason, if it never can be)."""
    finding = Finding(SCOPE_CHECK, stackcheck.PRESENCE_RULE, Status.ERROR, settings.stack_name, cut(reason, 900))
    outcome.report = Report(command="monitor", target={"suffix": settings.suffix, "source": "monitor",
                                                        "stack": settings.stack_name, **core.where(aws)},
                            findings=[finding], api_calls=len(aws.log.calls) - calls_before,
                            seconds=time.perf_counter() - start)
    for record in usable:
        outcome.retry[record.message_id] = reason
    return outcome


def _unread(live: LiveStack) -> dict[str, str]:
    return {lid: r.detail for lid, r in live.resources.items() if r.state == ReadState.ERROR}


def drift_findings(live: LiveStack, tags: dict[str, str]) -> list[Finding]:
    """Drift as one finding per resource read (check "drift"), so that the finding a drifted property opened is
    the one its restoration closes: FAIL naming every property that differs (and the rules each now breaks),
    else PASS."""
    found, _ = stackcheck.drift(live, expected_tags=tags)
    per: dict[str, list[Finding]] = {}
    for f in found:
        if f.check_id.startswith("drift."):
            per.setdefault(f.resource, []).append(f)
    out = []
    for resource, items in per.items():
        failing = [f for f in items if f.status is Status.FAIL]
        unknown = [f for f in items if f.status is Status.ERROR]
        if failing:
            out.append(Finding(DRIFT_CHECK, DRIFT_ID, Status.FAIL, resource,
                               cut("; ".join(f.reason for f in failing), DRIFT_REASON)))
        elif unknown:  # could not compare: never a PASS
            out.append(Finding(DRIFT_CHECK, DRIFT_ID, Status.ERROR, resource,
                               cut("; ".join(f.reason for f in unknown), DRIFT_REASON)))
        else:
            out.append(Finding(DRIFT_CHECK, DRIFT_ID, Status.PASS, resource, items[0].reason))
    return out


def _logical_id(f: Finding) -> str | None:
    parts = resource_parts(f.resource)
    return parts[1] if parts else None


def about(idx: resolve.Index, read: set[str], findings: list[Finding]) -> list[Finding]:
    """The findings a partial read can vouch for: about a resource it read, and a whole-stack rule's verdict only
    where everything that rule reads was read (its ERROR stays: it claims nothing). A rule's ERROR about no
    declared resource (the account's IAM could not be read) stays too: `settle` gives it to that rule's checks,
    which must never be retired as not applying when the rule could not judge."""
    kept = []
    for f in findings:
        lid = _logical_id(f)
        if lid is None and f.status is Status.ERROR:
            kept.append(f)
            continue
        if lid not in read:
            continue
        if f.check_id.endswith(("/stack", f"/{stackcheck.ACCOUNT_CHECK}")) and f.status is not Status.ERROR and \
                not resolve.complete_for(idx, f.rule_id, read):
            continue
        kept.append(f)
    return kept


def checks_of(idx: resolve.Index, tags: dict[str, str], *, whole: bool) -> dict[str, set[tuple[str, str]]]:
    """Every check each declared resource has, as (check id, rule id): what a full read of it can give. Presence;
    drift; every live rule of its type, whether or not its declaration makes the rule apply (a property added
    beside the declaration can make it apply live); the whole-stack rules that judge it in the declaration; the
    live-only rules of its type; and, in a run that reads the account's IAM (`whole`), the account rules that name
    resources of its type."""
    declared = {r.logical_id: r.type for r in idx.scope.resources}
    out: dict[str, set[tuple[str, str]]] = {}
    for lid, rtype in declared.items():
        checks = {(f"stack.{rtype}", PRESENCE_RULE), (DRIFT_CHECK, DRIFT_ID)}
        checks |= {(rule.rule_id, rule.rule_id) for rule in RESOURCE_RULES
                   if rule.rule_id in stackcheck.LIVE_RULE_IDS and rule.applies_to(rtype) and
                   not (rule.rule_id in STACK_RULES_BY_ID and STACK_RULES_BY_ID[rule.rule_id].replaces_resource_rule)}
        checks |= {(rule.check_id, rule.rule_id) for rule in LIVE_ONLY_RULES if rule.resource_type == rtype}
        if whole:
            checks |= {(f"{rule_id}/{stackcheck.ACCOUNT_CHECK}", rule_id) for rule_id, rule in
                       ACCOUNT_RULES_BY_ID.items() if rtype in rule.subjects}
        out[lid] = checks
    for rule_id, judged in idx.judged_by.items():
        if rule_id in stackcheck.LIVE_RULE_IDS:
            for lid in judged:
                out[lid].add((f"{rule_id}/stack", rule_id))
    return out


def settle(idx: resolve.Index, live: LiveStack, findings: list[Finding], judged: set[str], tags: dict[str, str],
           *, read: set[str] | None = None, account: bool = False) -> list[Finding]:
    """`findings` with every check of every judged resource given a current answer, so that no verdict an
    earlier run sent stands unless this run gave it again (a run never leaves a finding PASSED it did not judge):
    - a resource that could not be read: ERROR for every check it has (could not look), whatever was found;
    - a resource that is gone: its presence FAIL, and every other check NOT_APPLICABLE (nothing to judge; Security
      Hub archives it as it archives the findings of a deleted resource);
    - a resource read: a check that gave nothing is ERROR where its rule could not judge at all (the account's
      IAM could not be read), else NOT_APPLICABLE (the rule does not apply to what is there now).
    A partial run (`read`: the resources it asked for) settles only the whole-stack and account checks whose rule
    read everything it reads (the others it did not judge, and leaves as they were, except on a resource it could
    not read), and account checks only where it read the account's IAM (`account`)."""
    checks = checks_of(idx, tags, whole=read is None or account)
    keyed = {(f.check_id, f.rule_id, _logical_id(f)): f for f in findings}
    # A rule that could not judge at all says so once, about no declared resource (the account's IAM).
    rule_errors = {f.rule_id: f.reason for f in findings if f.status is Status.ERROR and _logical_id(f) is None}
    for lid in sorted(judged):
        resource = live.resources.get(lid)
        if resource is None:
            continue
        declared = resource.declared
        label = resource_label(declared.type, lid, declared.physical_id)
        wanted = {(check, rule_id) for check, rule_id in checks.get(lid, ())
                  if read is None or resource.state == ReadState.ERROR or
                  not check.endswith(("/stack", f"/{stackcheck.ACCOUNT_CHECK}")) or
                  resolve.complete_for(idx, rule_id, read)}
        for check, rule_id in sorted(wanted):
            key = (check, rule_id, lid)
            if resource.state == ReadState.ERROR:
                keyed[key] = Finding(check, rule_id, Status.ERROR, label, resource.detail)
            elif key in keyed:
                continue
            elif resource.state in (ReadState.MISSING, ReadState.NOT_DEPLOYED):
                keyed[key] = Finding(check, rule_id, Status.NOT_APPLICABLE, label,
                                     f"not judged: {declared.type} {lid} is not there ({resource.detail}); "
                                     f"its presence finding says so")
            elif resource.state == ReadState.READ:
                if rule_id in rule_errors:
                    keyed[key] = Finding(check, rule_id, Status.ERROR, label, rule_errors[rule_id])
                else:
                    keyed[key] = Finding(check, rule_id, Status.NOT_APPLICABLE, label,
                                         "not judged: the rule does not apply to what was read")
    return list(keyed.values())
