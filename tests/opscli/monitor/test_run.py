"""opscli.monitor.run: what a run settles on for each check of what it read (a resource gone, unread or read; drift
that could not be compared; a partial read), when a change runs the whole audit, and when its findings are
stamped."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from opscli.model import Finding
from opscli.monitor import publish, resolve, run
from opscli.monitor.messages import Change, Record
from platform_spec import monitor
from platform_spec.result import Status
from platform_spec.rules.stk_perim import IDENTITY_ID
from tests.opscli.monitor.conftest import SUFFIX


def _live(idx: resolve.Index, states: dict[str, str]) -> object:
    """A read of the small stack: each resource READ unless `states` says otherwise."""
    from types import SimpleNamespace

    from opscli.livestack import LiveResource

    return SimpleNamespace(resources={
        r.logical_id: LiveResource(r, states.get(r.logical_id, "read"), properties={},
                                   detail="AccessDenied: not allowed" if states.get(r.logical_id) == "error"
                                   else "not found") for r in idx.scope.resources})


def _keyed(findings: list[Finding]) -> dict[tuple[str, str], Finding]:
    return {(f.check_id, f.resource.split(" ")[1]): f for f in findings}


def test_a_resource_that_is_gone_keeps_no_verdict_but_its_presence_fail(idx):
    """Deleted beside the declaration: its presence FAILs and every other check it has is retired (not a PASS an
    earlier run gave standing as current)."""
    label = "AWS::EC2::SecurityGroup Group (sg-0b2)"
    presence = Finding("stack.AWS::EC2::SecurityGroup", "STK-STACK-001", Status.FAIL, label, "not there")
    settled = _keyed(run.settle(idx, _live(idx, {"Group": "missing"}), [presence], {"Group"}, {}))
    checks = run.checks_of(idx, {}, whole=False)["Group"]
    assert {check for check, _ in settled} == {check for check, _ in checks} and len(checks) > 3
    assert settled[("stack.AWS::EC2::SecurityGroup", "Group")].status is Status.FAIL
    others = [f for (check, _), f in settled.items() if not check.startswith("stack.")]
    assert others and {f.status for f in others} == {Status.NOT_APPLICABLE}
    assert all("not there" in f.reason for f in others)


def test_an_unread_resource_is_error_for_every_check_whatever_was_found(idx):
    label = "AWS::S3::Bucket Bucket (intake-unit-bucket)"
    stale = Finding("STK-S3-002/stack", "STK-S3-002", Status.PASS, label, "a verdict without a read")
    for read in (None, {"Bucket"}):  # the whole audit, and a change to the bucket read without its policy
        settled = _keyed(run.settle(idx, _live(idx, {"Bucket": "error"}), [stale], {"Bucket"}, {}, read=read))
        assert settled and {f.status for f in settled.values()} == {Status.ERROR}
        assert ("STK-S3-002/stack", "Bucket") in settled and ("drift", "Bucket") in settled
        assert all(f.reason == "AccessDenied: not allowed" for f in settled.values())
    whole = run.checks_of(idx, {}, whole=True)["Bucket"]
    assert any(check.endswith("/account") for check, _ in whole)  # the account rules judge a bucket
    assert not any(check.endswith("/account") for check, _ in run.checks_of(idx, {}, whole=False)["Bucket"])


def test_a_read_resource_gives_every_check_an_answer(idx):
    """A check that gave nothing on a read resource is retired, except where its rule could not judge at all
    (the account's IAM unread): ERROR. A partial run leaves a whole-stack check whose rule did not read everything
    it reads as it was (it did not judge it)."""
    label = "AWS::S3::Bucket Bucket (intake-unit-bucket)"
    judged = Finding("STK-S3-001", "STK-S3-001", Status.PASS, label, "read")
    blind = Finding(f"{IDENTITY_ID}/account", IDENTITY_ID, Status.ERROR, "the account's IAM", "AccessDenied")
    settled = _keyed(run.settle(idx, _live(idx, {}), [judged, blind], {"Bucket"}, {}))
    assert settled[("STK-S3-001", "Bucket")] is judged
    assert settled[(f"{IDENTITY_ID}/account", "Bucket")].status is Status.ERROR
    assert settled[("drift", "Bucket")].status is Status.NOT_APPLICABLE
    partial = _keyed(run.settle(idx, _live(idx, {}), [judged], {"Bucket"}, {}, read={"Bucket"}))
    assert ("STK-S3-002/stack", "Bucket") not in partial  # its rule reads the bucket policy, not read here
    assert not any(check.endswith("/account") for check, _ in partial)
    full = _keyed(run.settle(idx, _live(idx, {}), [judged], {"Bucket"}, {}, read={"Bucket", "BucketPolicy"}))
    assert full[("STK-S3-002/stack", "Bucket")].status is Status.NOT_APPLICABLE


def test_drift_that_could_not_be_compared_is_an_error_never_a_pass(monkeypatch):
    label = "AWS::S3::Bucket Bucket (b)"
    monkeypatch.setattr(run.stackcheck, "drift", lambda *_, **__: ([
        Finding("drift.none", "STK-DRIFT-001", Status.PASS, label, "matches"),
        Finding("drift.Tags", "STK-DRIFT-001", Status.ERROR, label, "could not compare")], []))
    [found] = run.drift_findings(object(), {})
    assert (found.status, found.reason) == (Status.ERROR, "could not compare")


def test_a_partial_read_keeps_only_what_it_can_vouch_for(idx):
    group, bucket = "AWS::EC2::SecurityGroup Group (sg-0b2)", "AWS::S3::Bucket Bucket (intake-unit-bucket)"
    findings = [Finding("STK-NET-002", "STK-NET-002", Status.PASS, group, "read"),
                Finding("STK-S3-002/stack", "STK-S3-002", Status.PASS, bucket, "policy read"),
                Finding("STK-S3-002/stack", "STK-S3-002", Status.ERROR, bucket, "could not look")]
    assert [f.resource for f in run.about(idx, {"Group"}, findings)] == [group]  # the bucket was not read
    kept = run.about(idx, {"Bucket"}, findings)  # the bucket without its policy: only the ERROR stands
    assert [f.status for f in kept] == [Status.ERROR]
    assert len(run.about(idx, {"Bucket", "BucketPolicy"}, findings)) == 2


def test_a_partial_run_whose_account_read_failed_answers_the_account_checks_error(idx):
    """A change to a data store's policy reads the account's IAM; when that read is refused, the account rule's one
    ERROR (about no declared resource) survives the partial read's filter and every data store's account check is
    ERROR, never retired as not applying (found by the drift cases judged through the planner)."""
    named = resolve.named(idx, Change(Record("m", "{}"), "s3.amazonaws.com", "PutBucketPolicy", "ap-northeast-1",
                                      {"bucketName": "intake-unit-bucket"}, None))
    plan = resolve.plan(idx, named)
    blind = Finding(f"{IDENTITY_ID}/account", IDENTITY_ID, Status.ERROR, "the account's IAM", "AccessDenied")
    kept = run.about(idx, set(plan.read), [blind])
    assert kept == [blind]
    settled = _keyed(run.settle(idx, _live(idx, {}), kept, set(plan.judged), {}, read=set(plan.read),
                                account=plan.account))
    account = {lid: f for (check, lid), f in settled.items() if check == f"{IDENTITY_ID}/account" and lid}
    assert {"Bucket", "Key"} <= set(account), sorted(account)
    assert {f.status for f in account.values()} == {Status.ERROR}


def test_an_iam_change_or_an_update_of_the_stack_runs_the_whole_audit():
    settings = run.Settings(suffix=SUFFIX)

    def change(source: str, request: object = None, failed: bool = False) -> Change:
        return Change(Record("m", "{}"), source, "X", "ap-northeast-1", request, None, failed=failed)

    assert run.asks_for_whole(change("iam.amazonaws.com"), settings)
    assert not run.asks_for_whole(change("iam.amazonaws.com", failed=True), settings)
    assert run.asks_for_whole(change("cloudformation.amazonaws.com", {"stackName": f"TapStack{SUFFIX}"}), settings)
    assert not run.asks_for_whole(change("cloudformation.amazonaws.com", {"stackName": "Other"}), settings)
    arn = f"arn:aws:cloudformation:ap-northeast-1:123456789012:stack/TapStack{SUFFIX}/0f1e2d3c"
    assert run.asks_for_whole(change("cloudformation.amazonaws.com", {"stackName": arn}), settings)
    assert not run.asks_for_whole(change("cloudformation.amazonaws.com", {"stackName": arn.replace(
        f"TapStack{SUFFIX}/", f"TapStack{SUFFIX}x/")}), settings)
    assert not run.asks_for_whole(change("cloudformation.amazonaws.com", {"stackName": "arn:aws:x"}), settings)
    assert not run.asks_for_whole(change("ec2.amazonaws.com"), settings)


def test_a_runs_findings_are_stamped_with_when_its_reads_began_not_when_it_ended(monkeypatch, idx):
    """Security Hub keeps the later UpdatedAt of a finding: stamped when the run ended, a run that read before a
    change but ended after the change's own run would win (review34b A). The stamp is when the reads began."""
    from datetime import timedelta
    from types import SimpleNamespace

    start = datetime(2026, 1, 2, 3, 0, 0, tzinfo=UTC)
    clock = {"now": start}

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return clock["now"]

    def read_stack(*_: object, **__: object) -> object:
        clock["now"] = start + timedelta(seconds=30)  # a whole audit reads for a while, then judges and ends
        return SimpleNamespace(resources={}, incomplete=None)

    label = "AWS::EC2::SecurityGroup Group (sg-0b2)"
    monkeypatch.setattr(run, "datetime", Clock)
    monkeypatch.setattr(run.core, "stack_scope", lambda *_, **__: idx.scope)
    monkeypatch.setattr(run, "read_stack", read_stack)
    monkeypatch.setattr(run.stackcheck, "judge", lambda *_, **__: [
        Finding("STK-NET-002", "STK-NET-002", Status.PASS, label, "closed when read")])
    monkeypatch.setattr(run, "drift_findings", lambda *_: [])
    monkeypatch.setattr(run, "settle", lambda _idx, _live, findings, *_, **__: findings)
    monkeypatch.setattr(run.stackcheck, "coverage", lambda _: SimpleNamespace(to_dict=dict))
    aws = SimpleNamespace(region="ap-northeast-1", known_account="123456789012", endpoint_url=None,
                          log=SimpleNamespace(calls=[]), check_credentials=lambda: None)
    outcome = run.judge_batch(aws, run.Settings(suffix=SUFFIX),
                              [Record("m", json.dumps(monitor.schedule_input(SUFFIX)))])
    found = publish.asff(outcome.report)  # the group's finding, and the declaration's (read: PASS)
    assert len(found) == 2 and {datetime.fromisoformat(f["UpdatedAt"].replace("Z", "+00:00")) for f in found} == {start}
    # the declaration's finding, PASS, is the one that closes a run's "could not look" ERROR (review34c M2)
    assert {(f["ProductFields"]["opscli/CheckId"], f["Compliance"]["Status"]) for f in found} == {
        ("STK-NET-002", "PASSED"), (run.SCOPE_CHECK, "PASSED")}


def test_a_change_to_a_data_stores_policy_re_judges_the_perimeter_rule_on_every_data_store(idx):
    """STK-PERIM-002's finding is on each data store, and its rule reads the bucket policy: a change to the policy
    reads the account's IAM and gives every data store's finding a current answer (review34b C)."""
    named = resolve.named(idx, Change(Record("m", "{}"), "s3.amazonaws.com", "PutBucketPolicy", "ap-northeast-1",
                                      {"bucketName": "intake-unit-bucket"}, None))
    plan = resolve.plan(idx, named)
    assert plan.account
    settled = run.settle(idx, _live(idx, {}), [], set(plan.judged), {}, read=set(plan.read), account=plan.account)
    checks = {(f.check_id, f.resource.split(" ")[1]) for f in settled}
    assert {(f"{IDENTITY_ID}/account", "Bucket"), (f"{IDENTITY_ID}/account", "Key")} <= checks, sorted(checks)
