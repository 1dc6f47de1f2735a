"""A test's change to the shared local deployment as the posture monitor receives it, and the monitor's judgement of
it: the tests that break one setting at a time read again only what the monitor would read for that change.

`recorded` captures every write call the clients of a boto3 session make in a block (botocore's own events, on the
client side) and turns each into the CloudTrail record EventBridge would deliver for it, as the emulator records a
served write (localenv.cloudtrail: its write test, its lower-camel-case parameters), read back by the monitor's own
message reader. `Monitor.judge` then does what a monitor run does with a batch (opscli.monitor.run): a change that
asks for the whole stack (IAM, the stack's own declaration) reads the whole stack (IAM's events reach us-east-1's
bus only, so on AWS the hourly schedule's whole run is what judges an IAM change, reading the same); otherwise the
planner (opscli.monitor.resolve `named` and `plan`) decides what is read, and only the findings the partial read
can vouch for are kept (`run.about`), about the resources the plan judges. Every other resource is untouched by
the block's writes and judged by no rule that reads what they touched, so its findings are the module's baseline
read's; a change the planner misses is a bug of the monitor, and the test that made it fails.

`Monitor.restored` proves a case put back what it changed: what the case's writes (breaking and restoring) name reads
back exactly as at the module's start (and after an IAM write, the account's IAM too). The whole deployment is
compared with the session's baseline once, at the end of the module (`assert_restored`)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from opscli import account_iam, core, livestack, stackcheck, targets
from opscli.model import Finding, resource_parts
from opscli.monitor import messages, resolve, run
from opscli.monitor.messages import Change, Record
from opscli.readers import READERS
from platform_spec.monitor import CLOUDTRAIL_DETAIL_TYPE
from tests.library_tracing import untraced, untraced_with_its_threads

RECORDED = "tests.recorded"  # the key of a write's recorded parameters in botocore's request context


def _event(model: Any, region: str, account: str, request: Any, response: Any) -> dict[str, Any]:
    """The EventBridge event of the CloudTrail record of one successful write call (as localenv.cloudtrail puts
    it on the bus: a global service's, IAM's, recorded in us-east-1)."""
    from localenv.cloudtrail import recorded_region

    source = model.service_model.endpoint_prefix
    region = recorded_region(source, region)
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": CLOUDTRAIL_DETAIL_TYPE,
            "source": f"aws.{source}", "account": account, "time": "2026-01-01T00:00:00Z", "region": region,
            "resources": [],
            "detail": {"eventVersion": "1.09", "eventSource": f"{source}.amazonaws.com", "eventName": model.name,
                       "awsRegion": region, "recipientAccountId": account, "requestParameters": request,
                       "responseElements": response, "eventID": str(uuid.uuid4()), "readOnly": False,
                       "eventType": "AwsApiCall", "managementEvent": True}}


#: The attribute of a session whose clients report to `recorded`: the blocks recording now. A session's handlers are
#: copied into each client it makes, so two are put on it once, before its first client, and pass each call on.
LISTENERS = "_tests_recording_blocks"


def record_writes_of(session: Any) -> None:
    """Let `recorded` see the write calls of every client `session` (a boto3 Session) makes from now on, however long
    it is kept (a test's clients are made once, not once per block). Idempotent; call it before the session's first
    client: one made before it reports nothing."""
    if hasattr(session, LISTENERS):
        return
    listeners: list[tuple[Any, Any]] = []

    def before(**kwargs: Any) -> None:
        for on_before, _ in list(listeners):
            on_before(**kwargs)

    def after(**kwargs: Any) -> None:
        for _, on_after in list(listeners):
            on_after(**kwargs)

    session.events.register("before-parameter-build", before)
    session.events.register("after-call", after)
    setattr(session, LISTENERS, listeners)


@contextlib.contextmanager
def recorded(session: Any, account: str, suffix: str) -> Iterator[list[Change]]:
    """Every write call the clients made from `session` (a boto3 Session, `record_writes_of` it before its first
    client) make in the block, as the changes the monitor of `suffix` reads from its queue (in call order). Only
    successful calls: a failed one changes nothing (and CloudTrail's record of it says so)."""
    from localenv.cloudtrail import as_recorded, is_write

    record_writes_of(session)
    changes: list[Change] = []

    def before(params: Any, model: Any, context: Any, **_: Any) -> None:
        if is_write(model):
            context[RECORDED] = as_recorded(params, model.input_shape)

    def after(http_response: Any, parsed: Any, model: Any, context: Any, **_: Any) -> None:
        if RECORDED not in context or not 200 <= http_response.status_code < 300:
            return
        answer = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
        response = as_recorded(answer, model.output_shape) or None
        event = _event(model, context["client_region"], account, context.pop(RECORDED), response)
        change = messages.read(Record(event["id"], json.dumps(event, default=str)), suffix)
        assert isinstance(change, Change), change  # a record the monitor could not read would be its bug
        changes.append(change)

    listeners = getattr(session, LISTENERS)
    listener = (before, after)
    listeners.append(listener)
    try:
        yield changes
    finally:
        listeners.remove(listener)


class _TracedFor:
    """A reader whose reads run under coverage's tracer only for the resources in `traced` (as is, when coverage
    is not measuring); for the others, outside it in the reading thread (`untraced`)."""

    def __init__(self, reader: Any, traced: frozenset[str]) -> None:
        self.reader, self.traced = reader, traced
        self.untraced_read = untraced(reader.read)

    def read(self, context: Any, declared: Any) -> Any:
        if declared.logical_id in self.traced:
            return self.reader.read(context, declared)
        return self.untraced_read(context, declared)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reader, name)


@contextlib.contextmanager
def readers_traced_for(traced: frozenset[str]) -> Iterator[None]:
    """For the block, every reader runs under coverage's tracer only for the resources in `traced` (what a case's
    writes touched: the only ones whose answers differ from the baseline's), and outside it for the rest of a read,
    which answer as at the session's start, when its traced read ran the same lines of their readers. Everything
    else of a read (its pool, the account's IAM) and what is made of it (judging, drift, the planner, a report)
    stays traced."""
    saved = dict(READERS)
    READERS.update({rtype: _TracedFor(reader, traced) for rtype, reader in saved.items()})
    try:
        yield
    finally:
        READERS.update(saved)


def _read(aws: Any, scope: Any, traced: frozenset[str] | None, **kwargs: Any) -> livestack.LiveStack:
    """livestack.read_stack of what a monitor run reads for a case's writes; with `traced`, its readers traced for
    those resources only (`readers_traced_for`)."""
    if traced is None:
        return livestack.read_stack(aws, scope, **kwargs)
    with readers_traced_for(traced):
        return livestack.read_stack(aws, scope, **kwargs)


def deployment_read(aws: Any, scope: Any, account: str) -> livestack.LiveStack:
    """One read of the whole deployment (and the account's IAM beside it, as `opscli audit` reads them) per test
    process, stack and endpoint, taken by the first that asks (tests/conftest.first_read: the session's baseline
    judges the same read): the deployment as declared, every check passed (each module that changes it restores
    it, and proves it). A later module's `Monitor.restored` compares what a case touched with it; a picture that
    differs only as a restore leaves it (an explicit default) is judged against the session's posture instead."""
    from tests.conftest import first_read

    return first_read(aws, scope, account)


def _picture(resource: livestack.LiveResource | None) -> Any:
    """What the rules judge of one resource as read: its state, its properties and its live-only facts."""
    return None if resource is None else (resource.state, resource.properties, resource.facts)


# The properties a restore can only put back as the explicit value AWS defaults them to, where the module's start
# read them absent (the declaration leaves them out): (resource type, property) -> that value. Any other difference
# is a change the case left behind, whether or not a check judges it (a stage's cache left on, encrypted, passes
# every rule and drift, which compares only what the declaration sets).
EXPLICIT_DEFAULTS: dict[tuple[str, str], Any] = {("AWS::ECS::Service", "EnableExecuteCommand"): False}


def _differences(before: livestack.LiveResource | None, now: livestack.LiveResource | None,
                 *, explicit: bool | None = None) -> list[str]:
    """Where two reads of one resource differ: its state, or the names of the properties and facts that do. With
    `explicit` True only the differences that are an EXPLICIT_DEFAULTS value where the start read none, False
    only the others."""
    one, other = _picture(before), _picture(now)
    if one is None or other is None or one[0] != other[0]:
        return [] if one == other or explicit else [f"state {one and one[0]} -> {other and other[0]}"]
    rtype = (now or before).declared.type  # type: ignore[union-attr]

    def defaulted(kind: str, key: str, a: dict, b: dict) -> bool:
        default = EXPLICIT_DEFAULTS.get((rtype, key), ...)
        return kind == "property" and a.get(key) is None and b.get(key) == default
    return [f"{kind} {key}: {str(a.get(key))[:300]} -> {str(b.get(key))[:300]}"
            for kind, a, b in (("property", one[1] or {}, other[1] or {}), ("fact", one[2], other[2]))
            for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)
            and (explicit is None or defaulted(kind, key, a, b) is explicit)]


def _logical_id(f: Finding) -> str | None:
    parts = resource_parts(f.resource)
    return parts[1] if parts else None


def _rule_of(check: str) -> str | None:
    """The rule of a whole-stack or account check ('STK-X-001/stack'), which only a complete read judges."""
    head, _, tail = check.rpartition("/")
    return head if tail in ("stack", stackcheck.ACCOUNT_CHECK) else None


@dataclass
class Judged:
    """What a monitor run would read and judge for a batch of changes: `read` and `judged` (logical ids; every
    declared one for a whole read), the audit's and the drift's findings about what it judged, and the read."""

    whole: bool
    named: frozenset[str]
    read: frozenset[str]
    judged: frozenset[str]
    account: bool  # the account's IAM was read: the account rules judged
    audit: list[Finding]
    drift: list[Finding]
    live: livestack.LiveStack | None

    def vouches_for(self, idx: resolve.Index, check: str, resource: str) -> bool:
        """Whether this run gives a verdict on (check, resource), as a posture tuple names them."""
        parts = resource_parts(resource)
        if self.whole:
            return True
        if parts is None or parts[1] not in self.judged:
            return False
        rule = _rule_of(check)
        if rule is not None and check.endswith(f"/{stackcheck.ACCOUNT_CHECK}") and not self.account:
            return False
        return rule is None or resolve.complete_for(idx, rule, set(self.read))

    def posture(self) -> set[tuple[str, str, str]]:
        return {(f.check_id, f.resource, f.status.value) for f in self.audit + self.drift}


class Monitor:
    """The posture monitor's view of one deployment for a module: its declaration indexed once, each batch of changes
    read and judged as a monitor run does."""

    def __init__(self, aws: Any, outputs_file: Any) -> None:
        self.aws = aws
        self.target = targets.from_outputs(outputs_file)
        self.account = core.account_id(aws)
        self.scope = core.stack_scope(aws, self.target)
        self.idx = resolve.index(self.scope, region=aws.region, account=self.account)
        self.tags = {"Environment": self.target.suffix}
        self.settings = run.Settings(self.target.suffix)
        # What `opscli rotate-check secrets` judges (the session's posture holds it too): a partial read vouches for
        # none of it, the whole read at the module's end does.
        self.rotation = {(f.check_id, f.resource) for f in core.rotate_secrets(aws, self.target).findings}
        # The deployment as the module's cases find it (every check on it then PASS): each resource as read, and
        # the account's IAM beside the stack. What a case's writes touched must read back exactly so.
        self.before = deployment_read(aws, self.scope, self.account)
        self.iam = account_iam.read(aws)

    @contextlib.contextmanager
    def recording(self, session: Any) -> Iterator[list[Change]]:
        with recorded(session, self.account, self.target.suffix) as changes:
            yield changes

    @contextlib.contextmanager
    def restoring(self, session: Any, baseline: list[tuple[str, str, str]]) -> Iterator[list[Change]]:
        """The block's writes through `session` (a case's breaking and restoring ones, so far), and after it the
        proof that they left the deployment as the module found it (`restored`)."""
        with self.recording(session) as changes:
            yield changes
        self.restored(changes, baseline)

    def touched(self, changes: list[Change]) -> frozenset[str]:
        """What `changes` name, with their children and what their declarations take an attribute of: the resources
        whose reads the writes may have changed."""
        named = set().union(*(resolve.named(self.idx, c) for c in changes))
        touched = set(named)
        for lid in named:
            touched |= self.idx.children.get(lid, frozenset())
        for lid in set(touched):
            touched |= self.idx.needs.get(lid, frozenset())
        return frozenset(touched)

    def traced_for(self, changes: list[Change]) -> contextlib.AbstractContextManager[None]:
        """A block whose reads of the whole deployment (an audit's, in process) run the readers traced only for what
        `changes` (a case's writes so far) touched (`readers_traced_for`)."""
        return readers_traced_for(self.touched([c for c in changes if not c.failed]))

    def judge(self, changes: list[Change], *, whole: bool | None = None) -> Judged:
        """Read and judge what a monitor run reads for `changes`: a whole-stack read where one asks for it (`whole`
        None), or where the caller does (True: for a change no monitor run receives); False: what the planner
        names even for a change a run reads the whole stack for (a restore's proof compares the account's IAM
        itself)."""
        usable = [c for c in changes if not c.failed]
        touched = self.touched(usable)
        if whole or (whole is None and any(run.asks_for_whole(c, self.settings) for c in usable)):
            # a change no monitor run receives (`whole`) may have touched anything: traced throughout
            live = _read(self.aws, self.scope, None if whole else touched, account=self.account, account_iam=True)
            every = frozenset(r.logical_id for r in self.scope.resources)
            drift, _ = stackcheck.drift(live, expected_tags=self.tags)
            audit = stackcheck.judge(live, expected_tags=self.tags)
            return Judged(True, every, every, every, True, audit, drift, live)
        named = frozenset(set().union(*(resolve.named(self.idx, c) for c in usable)))
        if not named:
            return Judged(False, named, frozenset(), frozenset(), False, [], [], None)
        plan = resolve.plan(self.idx, set(named))
        live = _read(self.aws, self.scope, touched, account=self.account, only=plan.read, account_iam=plan.account)
        read = set(plan.read)

        def about(findings: list[Finding]) -> list[Finding]:
            return [f for f in run.about(self.idx, read, findings) if _logical_id(f) in plan.judged]
        audit = stackcheck.judge(live, expected_tags=self.tags)
        drift, _ = stackcheck.drift(live, expected_tags=self.tags)
        return Judged(False, named, plan.read, plan.judged, plan.account, about(audit), about(drift), live)

    def restored(self, changes: list[Change], baseline: list[tuple[str, str, str]]) -> None:
        """What `changes` (a case's breaking and restoring writes) name, with its children and what its declaration
        takes an attribute of, read again: each as the module's start read it (its state, properties and facts:
        everything any rule judges of it), and after an IAM write the account's IAM as it was too. Every verdict
        on the deployment is a function of those pictures and the account's IAM, so the posture is as it was.
        A difference fails the test, judged or not (a setting left changed that no check sees is still left
        changed), except a restore AWS can only make as an explicit default (EXPLICIT_DEFAULTS: ECS's
        enableExecuteCommand false where it was left out): there, what the monitor judges for the writes must be
        as in `baseline` (the session's posture, every check of the whole deployment), as `assert_restored`
        requires."""
        usable = [c for c in changes if not c.failed]
        iam = any(c.source in run.WHOLE_SOURCES for c in usable)
        # The reads below run outside coverage's tracer: a restored deployment reads as the module's start read it,
        # so they run exactly the code that read ran, traced (and one that was not restored fails the test).
        if iam:  # the account's IAM beside the stack, as the account rules read it, exactly as it was
            assert untraced_with_its_threads(account_iam.read)(self.aws) == self.iam, \
                "the test left the shared deployment changed: the account's IAM differs from the module's start"
        named = set().union(*(resolve.named(self.idx, c) for c in usable))
        assert named or iam, f"no write of the case names a resource of the stack: {[c.name for c in changes]}"
        touched = self.touched(usable)
        now = untraced_with_its_threads(livestack.read_stack)(self.aws, self.scope, account=self.account, only=touched)
        left = {lid: _differences(self.before.resources.get(lid), now.resources.get(lid), explicit=False)
                for lid in sorted(touched)}
        left = {lid: keys for lid, keys in left.items() if keys}
        assert not left, f"the test left the shared deployment changed: {left}"
        changed = {lid: _differences(self.before.resources.get(lid), now.resources.get(lid), explicit=True)
                   for lid in sorted(touched)}
        changed = {lid: keys for lid, keys in changed.items() if keys}
        if not changed:
            return
        judged = self.judge(changes, whole=False)
        expected = {t for t in baseline if (t[0], t[1]) not in self.rotation and
                    judged.vouches_for(self.idx, t[0], t[1])}
        differ = sorted(judged.posture() ^ expected)
        assert not differ and set(changed) <= judged.judged, \
            f"the test left the shared deployment changed: {differ or changed}"

    def rotation_restored(self, baseline: list[tuple[str, str, str]]) -> None:
        """`opscli rotate-check secrets` again (the secrets the stack reads, which it does not declare, so no monitor
        run judges them): every check as in `baseline`. Outside coverage's tracer, as `restored` reads."""
        report = untraced_with_its_threads(core.rotate_secrets)(self.aws, self.target)
        now = {(f.check_id, f.resource, f.status.value) for f in report.findings}
        changed = sorted(now ^ {t for t in baseline if (t[0], t[1]) in self.rotation})
        assert not changed, f"the test left the shared deployment changed: {changed}"
