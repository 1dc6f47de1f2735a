"""The posture monitor on the local deployment: a change made with boto3 reaches it through the emulator's
CloudTrail event, the EventBridge rule and the SQS queue (named as the monitor's stack names them), and its
finding lands in the emulator's Security Hub: FAILED with the rule it breaks, on the resource it changed, and
PASSED/ARCHIVED once undone. The consumer runs in process, one batch at a time (`Consumer.step`), so each
assertion follows the batch that must have caused it; nothing waits on a clock."""

from __future__ import annotations

import json
import signal
import threading
from typing import Any

import botocore.session
import pytest

from opscli.aws import Aws, new_session
from opscli.monitor import handler, lambda_handler
from opscli.monitor.__main__ import QUEUE_WRITES, Consumer, main
from opscli.monitor.run import Settings
from opscli.operations import declared_operations
from platform_spec.contract import CLOUDTRAIL_DETAIL_TYPE
from tests.conftest import assert_restored
from tests.integration.test_drift import DRIFTS

# It changes the deployment (and restores it): on the worker of the drift tests, with their deployment.
pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("drift")]
NAMESPACE = "StreamTech/PostureMonitor"


def wire(session: Any, endpoint: str, suffix: str) -> dict[str, str]:
    """What the monitor's stack declares for it (TapMonitor<suffix>): the dead-letter queue, the queue (3 receives
    before a message is dead-lettered), the rule on the default bus for every service the monitor reads, and the
    report bucket. Returns their names and URLs."""
    sqs, events = session.client("sqs", endpoint_url=endpoint), session.client("events", endpoint_url=endpoint)
    core = botocore.session.get_session()
    sources = sorted({f"aws.{core.get_service_model(op.split(':')[0]).endpoint_prefix}"
                      for op in declared_operations()} - {"aws.sts", "aws.cloudformation"})
    dlq = sqs.create_queue(QueueName=f"monitor-dead-letter-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=f"monitor-events-{suffix}", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"monitor-changes-{suffix}", EventPattern=json.dumps(
        {"detail-type": [CLOUDTRAIL_DETAIL_TYPE], "source": sources}))
    events.put_targets(Rule=f"monitor-changes-{suffix}", Targets=[{"Id": "queue", "Arn": arn}])
    bucket = f"monitor-reports-{suffix}"
    session.client("s3", endpoint_url=endpoint).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    return {"queue": queue, "dlq": dlq, "rule": f"monitor-changes-{suffix}", "bucket": bucket}


def unwire(session: Any, endpoint: str, wiring: dict[str, str]) -> None:
    sqs, events = session.client("sqs", endpoint_url=endpoint), session.client("events", endpoint_url=endpoint)
    events.remove_targets(Rule=wiring["rule"], Ids=["queue"])
    events.delete_rule(Name=wiring["rule"])
    for url in (wiring["queue"], wiring["dlq"]):
        sqs.delete_queue(QueueUrl=url)
    s3 = session.client("s3", endpoint_url=endpoint)
    for item in s3.list_objects_v2(Bucket=wiring["bucket"]).get("Contents", []):
        s3.delete_object(Bucket=wiring["bucket"], Key=item["Key"])
    s3.delete_bucket(Bucket=wiring["bucket"])


def _session() -> Any:
    return new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                       region_name="ap-northeast-1")


@pytest.fixture(scope="module")
def wiring(local, local_deployment, baseline_posture):
    wired = wire(local.session, local.endpoint_url, local.suffix)
    yield wired
    unwire(local.session, local.endpoint_url, wired)
    assert_restored(local_deployment, baseline_posture)


class Logged(list):
    def __call__(self, event: str, **fields: Any) -> None:
        self.append({"event": event, **fields})


@pytest.fixture(scope="module")
def consumer(local, wiring) -> Consumer:
    settings = Settings(suffix=local.suffix, bucket=wiring["bucket"], namespace=NAMESPACE)
    aws = handler.monitor_session(endpoint_url=local.endpoint_url, session=_session())
    queue = Aws(endpoint_url=local.endpoint_url, session=_session(), allowed=frozenset(), writes=QUEUE_WRITES)
    made = Consumer(queue.client("sqs"), wiring["queue"], aws, settings, window=0, log=Logged(),
                    stop=threading.Event(), poll=0)
    while made.step() is not None:  # what the wiring itself sent (its rule's PutTargets): names nothing
        pass
    return made


def judged(consumer: Consumer, named_type: str | None = None) -> Any:
    """Batches until one reads a resource of `named_type` (or, without it, until the queue is empty); returns
    that batch's outcome (the last one's)."""
    last = None
    for _ in range(20):
        outcome = consumer.step()
        if outcome is None:
            return last
        last = outcome
        if named_type and outcome.report is not None and any(
                f.resource.startswith(f"{named_type} ") for f in outcome.report.findings):
            return outcome
    raise AssertionError("the queue never ran dry")


def _summaries(local) -> list[dict[str, Any]]:
    return json.loads(local.outputs_file.with_name("stack-resources.json").read_text())["StackResourceSummaries"]


def hub(local) -> dict[str, dict]:
    client = local.client("securityhub")
    return {f["Id"]: f for page in client.get_paginator("get_findings").paginate() for f in page["Findings"]}


def _of(found: dict[str, dict], rules: set[str], rtype: str, status: str, local: Any) -> set[str]:
    """The ids of the findings of `rules` in `status` about a resource of type `rtype` (by the logical id the
    stable finding id holds: stack/rule/logical id/check)."""
    types = {r["LogicalResourceId"]: r["ResourceType"] for r in _summaries(local)}
    return {i for i, f in found.items() if f["GeneratorId"] in rules and f["Compliance"]["Status"] == status and
            types.get(i.split("/")[2]) == rtype}


@pytest.mark.parametrize("kind", ["db-open-to-the-world", "kms-rotation-off", "bucket-public-policy-allowed"])
def test_a_change_is_failed_in_security_hub_and_its_fix_passed_and_archived(local, consumer, kind):
    toggle, rules, (rtype, _), _ = DRIFTS[kind]
    before = _of(hub(local), rules, rtype, "FAILED", local)
    toggle(local, False)
    outcome = judged(consumer, rtype)
    assert outcome.kind == "change" and outcome.ignored == 0 and not outcome.retry
    opened = _of(hub(local), rules, rtype, "FAILED", local) - before
    assert opened, f"{kind}: no new FAILED finding of {rules} on a {rtype}"
    assert all(hub(local)[i]["RecordState"] == "ACTIVE" for i in opened)
    # only what the change named, with its relations, was read: not the stack
    assert len(outcome.read) < len(_summaries(local)) / 3
    toggle(local, True)
    judged(consumer, rtype)
    after = hub(local)
    assert {(after[i]["Compliance"]["Status"], after[i]["RecordState"]) for i in opened} == {("PASSED", "ARCHIVED")}


def test_a_storm_on_one_resource_is_read_once_per_window_and_ends_on_its_last_state(local, consumer):
    s3, bucket = local.client("s3"), local.outputs["IngestBucketName"]
    writes = 30
    for n in range(writes):  # on and off, the last write leaving the bucket open to public policies
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": n % 2 == 1 and n < writes - 1,
            "RestrictPublicBuckets": True})
    consumer.window = 1.0
    calls = len(consumer.aws.log.calls)
    try:
        outcome = consumer.step()
    finally:
        consumer.window = 0
    reads = [c for c in consumer.aws.log.calls[calls:] if c == "s3:GetPublicAccessBlock"]
    [bucket_id] = [r["LogicalResourceId"] for r in _summaries(local) if r.get("PhysicalResourceId") == bucket]
    assert outcome.changes == writes and outcome.named == [bucket_id]
    assert len(reads) == 1  # thirty changes, one read
    found = hub(local)
    assert _of(found, {"STK-S3-001"}, "AWS::S3::Bucket", "FAILED", local)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    judged(consumer, "AWS::S3::Bucket")
    assert not _of(hub(local), {"STK-S3-001"}, "AWS::S3::Bucket", "FAILED", local)


def test_a_malformed_message_is_dead_lettered_with_its_reason(local, consumer, wiring):
    sqs = local.client("sqs")
    sqs.send_message(QueueUrl=wiring["queue"], MessageBody="{not an event")
    for receive in range(1, 4):
        outcome = consumer.step()
        assert [p.reason for p in outcome.poison] == ["a body that is not JSON (Expecting property name enclosed "
                                                      "in double quotes: line 1 column 2 (char 1))"]
        assert outcome.poison[0].record.receive_count == receive
    assert consumer.step() is None  # the fourth receive: SQS moved it to the dead-letter queue
    dead = sqs.receive_message(QueueUrl=wiring["dlq"], MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dead] == ["{not an event"]
    sqs.delete_message(QueueUrl=wiring["dlq"], ReceiptHandle=dead[0]["ReceiptHandle"])
    logged = [line for line in consumer.log if line["event"] == "poison"][-3:]
    assert [line["receiveCount"] for line in logged] == [1, 2, 3] and "not JSON" in logged[0]["reason"]


def test_a_monitor_that_cannot_read_says_not_available_and_keeps_the_change(local, consumer):
    toggle, rules, (rtype, _), _ = DRIFTS["db-open-to-the-world"]

    def refused(**_: Any) -> Any:
        import botocore.awsrequest

        response = botocore.awsrequest.AWSResponse("https://ec2", 403, {}, None)
        return response, {"Error": {"Code": "UnauthorizedOperation", "Message": "not allowed"},
                          "ResponseMetadata": {"HTTPStatusCode": 403}}

    ec2 = consumer.aws.client("ec2")
    ec2.meta.events.register("before-call.ec2.DescribeSecurityGroups", refused)
    try:
        toggle(local, False)
        outcome = judged(consumer, rtype)
    finally:
        ec2.meta.events.unregister("before-call.ec2.DescribeSecurityGroups", refused)
    assert outcome.retry and "UnauthorizedOperation" in next(iter(outcome.retry.values()))
    found = hub(local)
    unavailable = _of(found, rules, rtype, "NOT_AVAILABLE", local)
    assert unavailable and not _of(found, rules, rtype, "PASSED", local) & unavailable
    toggle(local, True)
    # the fix is judged (and the change left on the queue comes back after RETRY_DELAY: nothing is lost)
    outcome = None
    for _ in range(40):
        outcome = consumer.step() or outcome
        if not _of(hub(local), rules, rtype, "NOT_AVAILABLE", local):
            break
        consumer.stop.wait(0.25)
    assert {(found["Compliance"]["Status"], found["RecordState"]) for i, found in hub(local).items()
            if i in unavailable} == {("PASSED", "ARCHIVED")}


def test_the_schedule_runs_the_whole_audit_and_writes_the_report_and_the_metric(local, consumer, wiring):
    local.client("sqs").send_message(QueueUrl=wiring["queue"], MessageBody=json.dumps(
        {"opscli-monitor": "schedule", "suffix": local.suffix}))
    outcome = consumer.step()
    assert outcome.kind == "schedule" and outcome.report.coverage["declared"] == len(outcome.read) > 100
    assert any(f.check_id.endswith("/account") for f in outcome.report.findings)  # the account's IAM judged too
    keys = [o["Key"] for o in local.client("s3").list_objects_v2(Bucket=wiring["bucket"])["Contents"]]
    body = local.client("s3").get_object(Bucket=wiring["bucket"], Key=sorted(keys)[-1])["Body"].read()
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert lines[0]["run"]["kind"] == "schedule" and len(lines) == len(outcome.report.findings) + 1
    metrics = local.client("cloudwatch").list_metrics(Namespace=NAMESPACE, MetricName="FailingFindings")["Metrics"]
    assert {d["Value"] for m in metrics for d in m["Dimensions"]} >= {"CRITICAL", "HIGH", "MEDIUM", "LOW"}


def test_the_lambda_handler_returns_poison_as_a_batch_item_failure(local, monkeypatch):
    group = next(r for r in _summaries(local) if r["ResourceType"] == "AWS::EC2::SecurityGroup")[
        "PhysicalResourceId"]
    for key, value in {"OPSCLI_MONITOR_SUFFIX": local.suffix, "AWS_ENDPOINT_URL": local.endpoint_url,
                       "AWS_REGION": "ap-northeast-1", "AWS_ACCESS_KEY_ID": "local-emulator",
                       "AWS_SECRET_ACCESS_KEY": "local-emulator"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("OPSCLI_MONITOR_BUCKET", raising=False)
    change = {"detail-type": CLOUDTRAIL_DETAIL_TYPE, "source": "aws.ec2", "detail": {
        "eventSource": "ec2.amazonaws.com", "eventName": "ModifySecurityGroupRules",
        "requestParameters": {"groupId": group}, "responseElements": None}}
    event = {"Records": [{"messageId": "ok", "body": json.dumps(change), "attributes": {}},
                         {"messageId": "bad", "body": "[]", "attributes": {"ApproximateReceiveCount": "1"}}]}
    assert lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "bad"}]}


def test_the_consumer_stops_cleanly_on_sigterm_and_refuses_bad_options(local, wiring, monkeypatch, capsys):
    import opscli.monitor.__main__ as consumer_main

    with pytest.raises(SystemExit) as bad_endpoint:
        main(["--queue-url", wiring["queue"], "--suffix", local.suffix, "--endpoint-url", "ftp://x"])
    with pytest.raises(SystemExit) as bad_window:
        main(["--queue-url", wiring["queue"], "--suffix", local.suffix, "--window", "nan"])
    assert bad_endpoint.value.code == bad_window.value.code == 2
    monkeypatch.delenv("OPSCLI_MONITOR_SUFFIX", raising=False)
    assert main(["--queue-url", wiring["queue"]]) == 2
    assert main(["--queue-url", wiring["queue"], "--suffix", "Not_A_Suffix"]) == 2
    monkeypatch.setattr(consumer_main, "POLL", 1)
    monkeypatch.setattr(handler, "warm", lambda aws: 0)  # twenty clients made for nothing: the test stops it
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    timer = threading.Timer(0.5, lambda: signal.raise_signal(signal.SIGTERM))
    try:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local-emulator")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local-emulator")
        timer.start()
        assert main(["--queue-url", wiring["queue"], "--suffix", local.suffix, "--endpoint-url",
                     local.endpoint_url]) == 0
    finally:
        timer.cancel()
        for signum, previous in handlers.items():
            signal.signal(signum, previous)
    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert events[0] == "started" and events[-1] == "stopped"
