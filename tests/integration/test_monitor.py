"""The posture monitor as `python -m localenv up` deploys and runs it: a change made with boto3 against the endpoint
reaches the consumer process through the emulator's CloudTrail event, TapMonitor's rule and its queue, and its
finding lands in the emulator's Security Hub: FAILED with the rule it breaks, on the resource it changed, and
PASSED/ARCHIVED once undone; a storm on one resource is judged once per batching window and ends on its last
state; a malformed message ends in TapMonitor's dead-letter queue; `localenv schedule` runs the whole audit. One
deployment with the monitor for the module (tests/conftest.py `monitored_deployment`). Every wait is a poll for a
condition with a generous timeout, never a race with a clock.

The runtime's parts that need a hand on its session (a read refused, the Lambda handler, signals and options) run
in process against the same deployment, on messages made for them, so the consumer process never sees them."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from localenv import processes
from localenv.__main__ import main as localenv_main
from localenv.deploy import ACCOUNT
from opscli import core, targets
from opscli.aws import Aws, new_session
from opscli.model import resource_parts
from opscli.monitor import handler, lambda_handler, resolve, run
from opscli.monitor.__main__ import main
from opscli.monitor.messages import Record
from opscli.monitor.run import Settings
from platform_spec import monitor
from platform_spec.rules import stk_perim
from tests.conftest import ROOT, SUFFIX, unmeasured
from tests.integration.conftest import Deployment
from tests.integration.test_drift import DRIFTS, _db_security_group
from tests.library_tracing import untraced_with_its_threads
from tests.polling import WAIT, poll

pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("monitor")]


def _session() -> Any:
    return new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                       region_name="ap-northeast-1")


class Watched(Deployment):
    """The deployment with its monitor: TapMonitor's outputs, the consumer's log and its HTTPS endpoint."""

    @property
    def monitor(self) -> dict[str, Any]:
        return self.record["monitor"]

    def consumer(self) -> processes.Identity:
        """The consumer process the state record names now (`up` run again may have started another)."""
        record = json.loads((self.state_dir / f"TapStack{SUFFIX}.json").read_text())
        identity = processes.Identity.from_dict(record["monitor"]["consumer"])
        assert identity is not None, record["monitor"]
        return identity

    def log_lines(self) -> list[dict[str, Any]]:
        text = Path(self.monitor["log"]).read_text(errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def secure_client(self, service: str) -> Any:
        """A client of the consumer's HTTPS endpoint (the report bucket refuses plain HTTP)."""
        return _session().client(service, endpoint_url=self.monitor["endpoint"], verify=self.monitor["ca_bundle"])

    @functools.cached_property
    def types(self) -> dict[str, str]:
        """The stack's resources' types by logical id, as `up` listed them (the deployment's: they never change)."""
        summaries = json.loads(self.outputs_file.with_name("stack-resources.json").read_text())
        return {r["LogicalResourceId"]: r["ResourceType"] for r in summaries["StackResourceSummaries"]}


@pytest.fixture(scope="module")
def watched(monitored_deployment) -> Watched:
    made = Watched(monitored_deployment.outputs, monitored_deployment.outputs_file, monitored_deployment.endpoint,
                   _session(), local=True)
    made.record = monitored_deployment.record
    made.state_dir = monitored_deployment.directory
    made.up = monitored_deployment.process
    # The stack judged whole once, as the hourly schedule first judges a fresh deployment on AWS: the monitor's own
    # deployment sends its writes too, but none of IAM's (its roles and policies), which reach us-east-1's bus only.
    _fire_schedule(made)
    poll(lambda: [r for r in made.log_lines() if r["event"] == "run" and r["kind"] == "schedule"],
         "the consumer's first whole run")
    return made


@pytest.fixture(scope="module")
def monitor_aws(watched) -> Aws:
    """The monitor's guarded session on the deployment (every read opscli declares, and its writes), made once for
    the module's batches run in process: its twenty clients are made once, not once per test. Each batch clears
    its call log (`handler.process`), and a refusal is hooked on its client for one block only (`_refused`)."""
    return handler.monitor_session(endpoint_url=watched.endpoint_url, session=_session())


Runs = tuple[int, int]  # the consumer's log as `logged_runs` counts it: (its inode, the run lines it holds)


def logged_runs(watched: Watched) -> Runs | None:
    """The runs the consumer has logged so far; None between a restart's move of the old log and the new one."""
    try:
        with Path(watched.monitor["log"]).open("rb") as handle:
            return os.fstat(handle.fileno()).st_ino, handle.read().count(RUN_LINE)
    except OSError:
        return None


def published(watched: Watched, condition: Callable[[], Any], what: str, timeout: float = WAIT, *,
              since: Runs | None = None) -> Any:
    """`poll` of a condition on what the consumer publishes (Security Hub), evaluated only when the consumer has
    logged another run: it logs a run after its import, so its Security Hub is as it was when the condition was
    last evaluated until then (each evaluation reads every finding, here and in the emulator). `since`: the runs
    logged before the change the condition waits for was made (`logged_runs`), so the first evaluation waits for
    a run after it; without, the condition is evaluated at once (what was made may be judged already). The runs
    are counted before the condition is evaluated, so no run is missed; a consumer started again writes a new log
    (another inode), which counts as a change, and a log that cannot be read is evaluated all the same."""
    seen: list[Runs | None] = [since]

    def logged_another_run() -> Any:
        runs = logged_runs(watched)
        if runs is not None and runs == seen[0]:
            return None
        seen[0] = runs
        return condition()
    return poll(logged_another_run, what, timeout)


RUN_LINE = b'"event": "run"'  # in the consumer's run line, as json.dumps writes it (elsewhere: one evaluation more)


def drained(watched: Watched, what: str) -> None:
    """Every message TapMonitor's queue has had is handled: none waits and none is in the consumer's hand (it
    deletes a message only after its run published, or dead-lettered it). What was sent before is judged."""
    sqs, url = watched.client("sqs"), watched.monitor["outputs"][monitor.OUTPUT_QUEUE_URL]

    def empty() -> bool:
        found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        return all(value == "0" for value in found.values())
    poll(empty, what, every=0.25)  # each look is one small request here and in the emulator


def hub(watched: Watched, *, ids: Iterable[str] = (), generators: Iterable[str] = ()) -> dict[str, dict]:
    """The findings of the emulator's Security Hub by id: every one, or those of the given `ids` and/or of the
    given rules (`generators`: their GeneratorId), as GetFindings' Id and GeneratorId filters select them (EQUALS,
    at most 20 values each, as Security Hub takes them). Page after page, signed as botocore signs it, its JSON
    read as it is (botocore's parse of the ~800 findings costs three times the rest of a read; every field the
    tests judge is a string or a list of them, which it leaves as they are)."""
    filters = {field: [{"Value": value, "Comparison": "EQUALS"} for value in sorted(set(values))]
               for field, values in (("Id", ids), ("GeneratorId", generators)) if values}
    assert all(0 < len(values) <= 20 for values in filters.values()), filters
    found: dict[str, dict] = {}
    token = None
    while True:
        body = json.dumps({"MaxResults": 100, **({"Filters": filters} if filters else {}),
                           **({"NextToken": token} if token else {})})
        request = AWSRequest("POST", f"{watched.endpoint_url}/findings", data=body,
                             headers={"Content-Type": "application/json"})
        SigV4Auth(Credentials("local-emulator", "local-emulator"), "securityhub", "ap-northeast-1").add_auth(request)
        with urllib.request.urlopen(urllib.request.Request(request.url, data=body.encode(), method="POST",
                                                           headers=dict(request.headers)), timeout=60) as answer:
            page = json.loads(answer.read())
        found.update((f["Id"], f) for f in page["Findings"])
        token = page.get("NextToken")
        if not token:
            return found


def _types(watched: Watched) -> dict[str, str]:
    return watched.types


def _logical_id(finding_id: str) -> str | None:
    """The logical id a finding of the stack names (its stable id: stack/rule/logical id/check); None for a finding
    the stack's audit did not send (another test's import into the same Security Hub)."""
    parts = finding_id.split("/")
    return parts[2] if len(parts) >= 4 and parts[0] == f"TapStack{SUFFIX}" else None


def _of(found: dict[str, dict], rules: set[str], rtype: str, status: str, watched: Watched) -> set[str]:
    """The ids of the findings of `rules` in `status` about a resource of type `rtype` (by the logical id the
    stable finding id holds: stack/rule/logical id/check)."""
    types = _types(watched)
    return {i for i, f in found.items() if f["GeneratorId"] in rules and f["Compliance"]["Status"] == status and
            types.get(_logical_id(i)) == rtype}


def _runs(watched: Watched, since: int) -> list[dict[str, Any]]:
    return [r for r in watched.log_lines()[since:] if r["event"] == "run"]


# Two kinds (bench/monitor_latency.py runs sixteen): CloudWatch's API is "monitoring", so the alarm's change proves
# the deployed rule matches the source CloudTrail gives it.
@pytest.mark.parametrize("kind", ["db-open-to-the-world", "alarm-actions-disabled"])
def test_a_change_is_failed_in_security_hub_and_its_fix_passed_and_archived(watched, kind):
    toggle, rules, (rtype, _), _ = DRIFTS[kind]
    before = _of(hub(watched, generators=rules), rules, rtype, "FAILED", watched)
    mark, since = len(watched.log_lines()), logged_runs(watched)
    toggle(watched, False)

    def opened_now() -> set[str]:
        found = hub(watched, generators=rules)
        return {i for i in _of(found, rules, rtype, "FAILED", watched) - before if found[i]["RecordState"] == "ACTIVE"}

    try:
        opened = published(watched, opened_now, f"{kind}: a new FAILED, ACTIVE finding of {rules} on a {rtype}",
                           since=since)
    finally:
        since = logged_runs(watched)
        toggle(watched, True)
    published(watched, lambda: {(f["Compliance"]["Status"], f["RecordState"])
                                for i, f in hub(watched, ids=opened).items() if i in opened} ==
              {("PASSED", "ARCHIVED")},
              f"{kind}: its findings PASSED and ARCHIVED after the fix", since=since)
    changed = [r for r in _runs(watched, mark) if r["kind"] == "change" and r["changes"]]
    assert changed and all(r["poison"] == 0 and r["findings"]["ERROR"] == 0 for r in changed)
    # only what the changes named, with their relations, was read: not the stack
    assert all(r["read"] < len(_types(watched)) / 3 for r in changed), changed


def test_a_storm_on_one_resource_is_read_once_per_window_and_ends_on_its_last_state(watched):
    s3, bucket = watched.client("s3"), watched.outputs["IngestBucketName"]
    [bucket_id] = [lid for lid, found in _physical(watched).items() if found == bucket]
    # What the tests before wrote is judged and its runs logged before the mark: a run after it that names the
    # bucket judges the storm's writes alone, so a count above them is a change judged twice.
    drained(watched, "what the tests before the storm changed judged")
    writes, mark = 30, len(watched.log_lines())
    started = time.monotonic()
    for n in range(writes):  # on and off, the last write leaving the bucket open to public policies
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": n % 2 == 1 and n < writes - 1,
            "RestrictPublicBuckets": True})
    took = time.monotonic() - started

    def storm_runs() -> list[dict[str, Any]]:
        found = [r for r in _runs(watched, mark) if bucket_id in r["named"]]
        return found if sum(r["changes"] for r in found) >= writes else []

    try:
        runs = poll(storm_runs, "every write of the storm judged")
        assert sum(r["changes"] for r in runs) == writes  # no change lost, none judged twice
        assert all(r["named"] == [bucket_id] for r in runs)
        # one read of the bucket (with its relations) per batching window, whatever the window held
        [window] = [r["window"] for r in watched.log_lines() if r["event"] == "started"]
        assert len(runs) <= math.ceil(took / window) + 1, (len(runs), took)
        assert len({r["read"] for r in runs}) == 1
        published(watched, lambda: _of(hub(watched, generators={"STK-S3-001"}), {"STK-S3-001"}, "AWS::S3::Bucket",
                                       "FAILED", watched),
                  "the storm's last state (open) FAILED")
    finally:
        since = logged_runs(watched)
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
    published(watched, lambda: not _of(hub(watched, generators={"STK-S3-001"}), {"STK-S3-001"}, "AWS::S3::Bucket",
                                       "FAILED", watched),
              "the bucket closed again PASSED", since=since)


def _physical(watched: Watched) -> dict[str, str]:
    summaries = json.loads(watched.outputs_file.with_name("stack-resources.json").read_text())
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in summaries["StackResourceSummaries"]}


def dead_letters(watched: Watched, what: str) -> list[dict[str, Any]]:
    """The messages of TapMonitor's dead-letter queue (polled until there is one), deleted once read."""
    sqs, url = watched.client("sqs"), watched.monitor["outputs"][monitor.OUTPUT_DEAD_LETTER_QUEUE_URL]
    found = poll(lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                             MessageAttributeNames=["All"]).get("Messages"), what)
    for message in found:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_a_malformed_message_is_dead_lettered_with_its_reason(watched):
    """The consumer sends it to TapMonitor's dead-letter queue at its first receive, with why, and deletes it:
    SQS's redrive never has to move it (it would, after maxReceiveCount, without the reason)."""
    sqs, outputs = watched.client("sqs"), watched.monitor["outputs"]
    mark = len(watched.log_lines())
    sent = sqs.send_message(QueueUrl=outputs[monitor.OUTPUT_QUEUE_URL], MessageBody="{not an event")["MessageId"]
    [dead] = dead_letters(watched, "the message in TapMonitor's dead-letter queue")
    attributes = {name: value["StringValue"] for name, value in dead["MessageAttributes"].items()}
    assert dead["Body"] == "{not an event"
    assert attributes[monitor.DEAD_LETTER_REASON].startswith("a body that is not JSON")
    assert attributes[monitor.DEAD_LETTER_MESSAGE_ID] == sent
    assert attributes[monitor.DEAD_LETTER_RECEIVE_COUNT] == "1"
    assert attributes[monitor.DEAD_LETTER_SOURCE] == monitor.DEAD_LETTER_SENDER
    def logged() -> list[str]:
        return [line["event"] for line in watched.log_lines()[mark:] if line.get("messageId") == sent]

    # the consumer logs once the send is answered: after the message is there
    poll(lambda: "dead-lettered" in logged(), "the consumer's log of it")
    assert logged() == ["poison", "dead-lettered"]


def test_the_schedule_runs_the_whole_audit_and_writes_the_report_and_the_metric(watched, capsys):
    mark = len(watched.log_lines())
    assert localenv_main(["schedule", "--suffix", SUFFIX, "--state-dir", str(watched.state_dir)]) == 0
    assert "sent the schedule's message" in capsys.readouterr().out
    [run] = poll(lambda: [r for r in _runs(watched, mark) if r["kind"] == "schedule"], "the whole-stack run")
    assert run["read"] == run["judged"] > 100  # every declared resource
    assert run["findings"]["ERROR"] == 0 and run["findings"]["FAIL"] == 0 and run["findings"]["PASS"] > 500
    [report] = [line for line in watched.log_lines()[mark:] if line["event"] == "report" and "-schedule-" in
                line["key"]]
    s3 = watched.secure_client("s3")
    body = s3.get_object(Bucket=watched.monitor["outputs"][monitor.OUTPUT_BUCKET], Key=report["key"])["Body"].read()
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert lines[0]["run"]["kind"] == "schedule" and len(lines) == sum(run["findings"].values()) + 1
    metrics = watched.client("cloudwatch").list_metrics(Namespace=monitor.METRIC_NAMESPACE,
                                                        MetricName=monitor.METRIC_NAME)["Metrics"]
    assert {d["Value"] for m in metrics for d in m["Dimensions"]} >= {"CRITICAL", "HIGH", "MEDIUM", "LOW"}
    # the whole-stack run says what the alarm needs to return to OK: no failing HIGH or CRITICAL finding
    [metric] = [line for line in watched.log_lines()[mark:] if line["event"] == "metric" and "LOW" in line["counts"]]
    assert metric["counts"][monitor.ALARM_METRIC_NAME] == 0  # (only a whole-stack run counts every severity)


@contextlib.contextmanager
def _refused(aws: Any, service: str, operation: str, status: int, code: str) -> Iterator[None]:
    """`operation` of the monitor's `service` client answered with AWS's refusal (`code`, HTTP `status`) for the
    block: what a role without that read, or a policy denying it, gets."""
    import botocore.awsrequest

    def refuse(**_: Any) -> Any:
        response = botocore.awsrequest.AWSResponse(f"https://{service}", status, {}, None)
        return response, {"Error": {"Code": code, "Message": "not allowed"},
                          "ResponseMetadata": {"HTTPStatusCode": status}}

    client, event = aws.client(service), f"before-call.{service}.{operation}"
    client.meta.events.register(event, refuse)
    try:
        yield
    finally:
        client.meta.events.unregister(event, refuse)


def _change(group: str) -> str:
    return json.dumps({"detail-type": monitor.CLOUDTRAIL_DETAIL_TYPE, "source": "aws.ec2", "account": ACCOUNT,
                       "region": "ap-northeast-1", "detail": {
        "eventSource": "ec2.amazonaws.com", "eventName": "ModifySecurityGroupRules",
        "requestParameters": {"groupId": group}, "responseElements": None}})


def _alarm_change(watched: Watched) -> str:
    """A change to one of the stack's alarms (DisableAlarmActions, as CloudTrail records it): a batch that reads
    the alarm alone (an alarm has no relations to read with it), for the batches whose subject is not what the
    change names but what becomes of a message that was judged."""
    name = min(physical for lid, physical in _physical(watched).items()
               if _types(watched).get(lid) == "AWS::CloudWatch::Alarm" and physical)
    return json.dumps({"detail-type": monitor.CLOUDTRAIL_DETAIL_TYPE, "source": "aws.monitoring", "account": ACCOUNT,
                       "region": "ap-northeast-1", "detail": {
        "eventSource": "monitoring.amazonaws.com", "eventName": "DisableAlarmActions",
        "requestParameters": {"alarmNames": [name]}, "responseElements": None}})


def test_a_monitor_that_cannot_read_says_not_available_and_keeps_the_change(watched, monitor_aws):
    """A change whose resource the monitor may not read: NOT_AVAILABLE for every check it has (never PASSED), and
    the change is left on the queue; read again, each is judged (PASSED and ARCHIVED: the group is as declared)."""
    _, rules, (rtype, _), _ = DRIFTS["db-open-to-the-world"]
    group, aws, settings = _db_security_group(watched), monitor_aws, Settings(suffix=SUFFIX)

    with _refused(aws, "ec2", "DescribeSecurityGroups", 403, "UnauthorizedOperation"):
        outcome = handler.process(aws, settings, [Record("refused", _change(group))], log=lambda *_, **__: None)
    assert list(outcome.retry) == ["refused"] and "UnauthorizedOperation" in outcome.retry["refused"]
    found = hub(watched, generators=rules)
    unavailable = _of(found, rules, rtype, "NOT_AVAILABLE", watched)
    assert unavailable and not _of(found, rules, rtype, "PASSED", watched) & unavailable
    outcome = handler.process(aws, settings, [Record("again", _change(group), receive_count=2)],
                              log=lambda *_, **__: None)
    assert not outcome.retry
    assert {(f["Compliance"]["Status"], f["RecordState"]) for i, f in hub(watched, ids=unavailable).items()
            if i in unavailable} == {("PASSED", "ARCHIVED")}


def test_the_lambda_handler_dead_letters_poison_or_returns_it_as_a_batch_item_failure(watched, monkeypatch):
    """With the function's environment naming its dead-letter queue, poison goes there with its reason and Lambda
    deletes it; without, it is a batch item failure (SQS's redrive moves it after maxReceiveCount)."""
    for key, value in {monitor.ENV_SUFFIX: SUFFIX, "AWS_ENDPOINT_URL": watched.endpoint_url,
                       "AWS_REGION": "ap-northeast-1", "AWS_ACCESS_KEY_ID": "local-emulator",
                       "AWS_SECRET_ACCESS_KEY": "local-emulator"}.items():
        monkeypatch.setenv(key, value)
    for key in (monitor.ENV_BUCKET, monitor.ENV_DEAD_LETTER_QUEUE, monitor.ENV_MAX_RECEIVES):
        monkeypatch.delenv(key, raising=False)
    event = {"Records": [
        {"messageId": "ok", "body": _alarm_change(watched), "attributes": {}},
        {"messageId": "bad", "body": "[]", "attributes": {"ApproximateReceiveCount": "1"}}]}
    assert lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    monkeypatch.setenv(monitor.ENV_DEAD_LETTER_QUEUE, watched.monitor["outputs"][monitor.OUTPUT_DEAD_LETTER_QUEUE_URL])
    monkeypatch.setenv(monitor.ENV_MAX_RECEIVES, str(monitor.MAX_RECEIVES))
    assert lambda_handler(event, None) == {"batchItemFailures": []}
    [dead] = dead_letters(watched, "the poison in TapMonitor's dead-letter queue")
    assert dead["Body"] == "[]" and dead["MessageAttributes"][monitor.DEAD_LETTER_MESSAGE_ID]["StringValue"] == "bad"


def test_the_consumer_stops_cleanly_on_sigterm_and_refuses_bad_options(watched, monkeypatch, capsys):
    import opscli.monitor.__main__ as consumer_main

    # a queue of its own: the consumer process keeps TapMonitor's
    queue = watched.client("sqs").create_queue(QueueName="monitor-signals-test")["QueueUrl"]
    with pytest.raises(SystemExit) as bad_endpoint:
        main(["--queue-url", queue, "--suffix", SUFFIX, "--endpoint-url", "ftp://x"])
    with pytest.raises(SystemExit) as bad_window:
        main(["--queue-url", queue, "--suffix", SUFFIX, "--window", "nan"])
    assert bad_endpoint.value.code == bad_window.value.code == 2
    monkeypatch.delenv(monitor.ENV_SUFFIX, raising=False)
    assert main(["--queue-url", queue]) == 2
    assert main(["--queue-url", queue, "--suffix", "Not_A_Suffix"]) == 2
    monkeypatch.setattr(consumer_main, "POLL", 1)
    monkeypatch.setattr(handler, "warm", lambda aws: 0)  # twenty clients made for nothing: the test stops it
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    timer = threading.Timer(0.5, lambda: signal.raise_signal(signal.SIGTERM))
    try:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local-emulator")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local-emulator")
        timer.start()
        assert main(["--queue-url", queue, "--suffix", SUFFIX, "--endpoint-url", watched.endpoint_url]) == 0
    finally:
        timer.cancel()
        for signum, previous in handlers.items():
            signal.signal(signum, previous)
        watched.client("sqs").delete_queue(QueueUrl=queue)
    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert events[0] == "started" and events[-1] == "stopped"


class Logged(list):
    def __call__(self, event: str, **fields: Any) -> None:
        self.append({"event": event, **fields})


def _role_document(watched: Watched) -> dict[str, Any]:
    """Every statement of the policies the deployed function's role holds, as the emulator's IAM holds them (the
    generated reads and the monitor's own policy), in one document; each action a list."""
    role = watched.client("lambda").get_function_configuration(
        FunctionName=watched.monitor["outputs"][monitor.OUTPUT_FUNCTION])["Role"].rsplit("/", 1)[-1]
    iam, statements = watched.client("iam"), []
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"][
            "Document"]
        document = json.loads(urllib.parse.unquote(document)) if isinstance(document, str) else document
        statements += [{**s, "Action": [s["Action"]] if isinstance(s["Action"], str) else s["Action"]}
                       for s in document["Statement"]]
    assert not iam.list_role_policies(RoleName=role)["PolicyNames"]  # nothing inline beside them
    return {"Version": "2012-10-17", "Statement": statements}


def test_the_monitors_role_is_enough_for_a_whole_run_and_each_write_needs_its_statement(watched, monkeypatch):
    """IAM enforcement on (moto's: actions only, see tests/integration/test_iam_enforced.py), as a user holding
    exactly the deployed role's policies: the schedule's whole audit reads everything (no ERROR), imports its
    findings, writes its report and its metric. Without the import statement a run imports nothing and keeps its
    message for another try; without the report's, its report is not written; without the dead-letter queue's,
    poison stays on the queue. (Enforcement lasts seconds: the consumer process, refused meanwhile, retries after
    its back-off.)"""
    from tests.integration.test_iam_enforced import MOTO_ACTION_NAMES, _as_moto_needs

    document = _role_document(watched)
    actions = {a for s in document["Statement"] for a in s["Action"]}
    assert {"securityhub:BatchImportFindings", "s3:PutObject", "cloudwatch:PutMetricData", "sqs:SendMessage"} <= actions
    needs = {**MOTO_ACTION_NAMES, "cloudwatch:PutMetricData": "monitoring:PutMetricData"}
    monkeypatch.setattr("tests.integration.test_iam_enforced.MOTO_ACTION_NAMES", needs)
    iam = watched.client("iam")
    iam.create_user(UserName="posture-monitor")
    iam.put_user_policy(UserName="posture-monitor", PolicyName="role", PolicyDocument=json.dumps(
        _as_moto_needs(document)))
    key = iam.create_access_key(UserName="posture-monitor")["AccessKey"]
    try:
        _as_the_role(watched, document, key, monkeypatch)
    finally:  # the account's IAM as it was: the account rule judges every user of it
        iam.delete_access_key(UserName="posture-monitor", AccessKeyId=key["AccessKeyId"])
        iam.delete_user_policy(UserName="posture-monitor", PolicyName="role")
        iam.delete_user(UserName="posture-monitor")
    # The whole runs above judged the account with the user in it: its policy (each Resource widened to "*" for
    # moto) decrypts with the project key, so the key's STK-PERIM-002 finding is FAILED, rightly. IAM's deletion
    # reaches no rule of the monitor (us-east-1), so Security Hub keeps that FAILED until a whole run judges the
    # account again: the schedule's message, sent now as the hour would send it, leaves the findings as they were.
    _fire_schedule(watched)
    drained(watched, "the schedule's message without the monitor's user judged")
    left = hub(watched, generators={stk_perim.IDENTITY_ID})
    assert not [f for f in left.values() if (f["Compliance"]["Status"], f["RecordState"]) == ("FAILED", "ACTIVE")]


def _as_the_role(watched: Watched, document: dict[str, Any], key: dict[str, str], monkeypatch: Any) -> None:
    from tests.integration.test_iam_enforced import _as_moto_needs, _enforce

    iam = watched.client("iam")
    monkeypatch.setenv("AWS_CA_BUNDLE", watched.monitor["ca_bundle"])  # the report bucket: HTTPS only
    session = new_session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                          region_name="ap-northeast-1")
    aws = handler.monitor_session(endpoint_url=watched.monitor["endpoint"], session=session)
    settings = Settings(suffix=SUFFIX, bucket=watched.monitor["outputs"][monitor.OUTPUT_BUCKET],
                        namespace=monitor.METRIC_NAMESPACE)
    letters = handler.DeadLetters(watched.monitor["outputs"][monitor.OUTPUT_DEAD_LETTER_QUEUE_URL],
                                  monitor.MAX_RECEIVES)
    whole = Logged()
    # Enforcement refuses the consumer process too: a batch of it in hand then (an earlier test's change) could not
    # be settled, and its message would stay hidden for the consumer's --visibility, which the next test's
    # `drained` would wait out. With its queue empty, what it is refused is a receive, tried again after its back-off.
    drained(watched, "the consumer's batches before enforcement")
    _enforce(watched.endpoint_url, 0)
    try:
        outcome = handler.process(aws, settings, [Record("schedule", monitor.schedule_body(SUFFIX)),
                                                  Record("poison", "[]")], log=whole, dead_letters=letters)
    finally:
        _enforce(watched.endpoint_url, float("inf"))
    assert outcome.kind == "schedule" and not outcome.retry, whole
    assert [line["messageId"] for line in whole if line["event"] == "dead-lettered"] == ["poison"]
    dead_letters(watched, "the poison the role dead-lettered")
    assert not [f for f in outcome.report.findings if f.status.value == "ERROR"]
    assert {line["event"] for line in whole} >= {"report", "metric", "run"}, whole
    assert not {line["event"] for line in whole} & {"import-failed", "report-failed", "metric-failed",
                                                     "heartbeat-failed"}, whole
    # the role's one PutMetricData, held to the namespace, puts the heartbeat too: a complete whole run
    assert [line["complete"] for line in whole if line["event"] == "heartbeat"] == [1], whole

    change = Record("change", _alarm_change(watched))
    for action, failed_event, record in (("securityhub:BatchImportFindings", "import-failed", change),
                                         ("s3:PutObject", "report-failed", change),
                                         ("sqs:SendMessage", "dead-letter-failed", Record("poison", "[]"))):
        kept = {**document, "Statement": [s for s in document["Statement"] if action not in s["Action"]]}
        iam.put_user_policy(UserName="posture-monitor", PolicyName="role", PolicyDocument=json.dumps(
            _as_moto_needs(kept)))
        logged = Logged()
        _enforce(watched.endpoint_url, 0)
        try:
            outcome = handler.process(aws, settings, [record], log=logged, dead_letters=letters)
        finally:
            _enforce(watched.endpoint_url, float("inf"))
        [failed] = [line for line in logged if line["event"] == failed_event]
        assert "AccessDenied" in failed["reason"], failed
        # without the import nothing of the run is recorded and the change is kept; a report that could not be
        # written is logged, the findings are in Security Hub already; poison that could not be dead-lettered
        # stays for the queue's redrive
        assert list(outcome.retry) == ([] if failed_event == "report-failed" else [record.message_id])


def test_a_way_in_through_an_identity_is_failed_on_the_store_and_passed_once_closed(watched):
    """A role trusted by another account that may decrypt with the project key (STK-PERIM-002): the hourly audit
    (the schedule's message, judged by the consumer) fails the key's own finding, naming the role; once the role is
    deleted, the same finding is PASSED and ARCHIVED. IAM's events reach EventBridge in us-east-1 only, as the
    emulator delivers them, so TapMonitor's rule never gets them: the whole audit is what sees the role."""
    from tests.integration.test_perimeter import foreign_role_with_the_key

    with foreign_role_with_the_key(watched) as role:
        _fire_schedule(watched)
        # the schedule's message, sent once the role was made, was judged: a whole run read the role
        drained(watched, "the schedule's message with the role judged")
        found = hub(watched, generators={stk_perim.IDENTITY_ID})
        opened = {fid: f for fid, f in found.items() if f["GeneratorId"] == stk_perim.IDENTITY_ID and
                  f["Compliance"]["Status"] == "FAILED" and f["RecordState"] == "ACTIVE"}
        assert len(opened) == 1, opened
        [(fid, finding)] = opened.items()
        assert ":kms:" in finding["Resources"][0]["Id"] and role in finding["Description"]
    _fire_schedule(watched)
    drained(watched, "the schedule's message without the role judged")
    closed = hub(watched, ids={fid})[fid]
    assert (closed["Compliance"]["Status"], closed["RecordState"]) == ("PASSED", "ARCHIVED")


def _fire_schedule(watched: Watched) -> None:
    """What EventBridge Scheduler sends at the hour, as `localenv schedule` sends it."""
    sqs = watched.client("sqs")
    sqs.send_message(QueueUrl=watched.monitor["outputs"][monitor.OUTPUT_QUEUE_URL],
                     MessageBody=monitor.schedule_body(SUFFIX))


def _schedule() -> str:
    return json.dumps(monitor.schedule_input(SUFFIX))


def test_a_whole_run_that_cannot_read_the_key_leaves_none_of_its_findings_passed(watched, monitor_aws):
    """The hourly audit with kms:DescribeKey refused: every check the project key has is NOT_AVAILABLE (and ACTIVE)
    in Security Hub, none PASSED from an earlier run; read again, each is judged again. Every finding the full
    read gave is one of the checks `run.checks_of` knows for its resource (what lets a run retire the others)."""
    # the consumer's whole runs (its first, the schedule's message the module's fixture sends) are over: none
    # overlaps these (a run whose reads began after the blind one's would rightly replace its findings)
    drained(watched, "the consumer's runs before this test's")
    aws, settings = monitor_aws, Settings(suffix=SUFFIX)
    scope = core.stack_scope(aws, targets.from_suffix(SUFFIX))
    keys = {r.logical_id for r in scope.resources if r.type == "AWS::KMS::Key"}
    assert keys
    before = {fid: f for fid, f in hub(watched).items() if _logical_id(fid) in keys}
    assert any(f["Compliance"]["Status"] == "PASSED" for f in before.values())

    with _refused(aws, "kms", "DescribeKey", 400, "AccessDeniedException"):
        blind = handler.process(aws, settings, [Record("blind", _schedule())], log=lambda *_, **__: None)
    assert blind.unread and set(blind.unread) >= keys
    found = hub(watched)
    of_keys = {fid: f for fid, f in found.items() if _logical_id(fid) in keys}
    assert set(of_keys) >= set(before)  # every finding the key had was sent again
    assert {(f["Compliance"]["Status"], f["RecordState"]) for f in of_keys.values()} == {("NOT_AVAILABLE", "ACTIVE")}
    assert all("AccessDenied" in f["Description"] for f in of_keys.values())
    # The same whole run on the same stack as the blind one (traced: every line of ours it runs, the keys' reads
    # too, the role's whole run in this module runs), so it is not traced again.
    outcome = untraced_with_its_threads(handler.process)(aws, settings, [Record("again", _schedule())],
                                                         log=lambda *_, **__: None)
    found = hub(watched)
    assert {found[fid]["Compliance"]["Status"] for fid in before} == {f["Compliance"]["Status"]
                                                                      for f in before.values()}
    report = outcome.report  # the full read
    assert report is not None and not outcome.retry and outcome.kind == "schedule" and not outcome.unread
    checks = run.checks_of(resolve.index(scope, region="ap-northeast-1", account=aws.known_account or
                                         core.account_id(aws)), {"Environment": SUFFIX}, whole=True)
    about = [(f, parts[1]) for f in report.findings if (parts := resource_parts(f.resource)) and parts[1] in checks]
    assert len(about) > 500
    unknown = sorted({(lid, f.check_id) for f, lid in about if (f.check_id, f.rule_id) not in checks[lid]})
    assert not unknown, unknown[:10]


def test_a_deleted_resource_keeps_only_its_presence_failed_then_is_judged_again(watched):
    """An alarm deleted beside the declaration reaches the consumer as DeleteAlarms: its presence FAILED, and every
    other check it has NOT_AVAILABLE and ARCHIVED (no PASSED of an earlier run left standing); put back as it
    was, every check is PASSED again."""
    cloudwatch, findings = watched.client("cloudwatch"), hub(watched)
    # an alarm of the stack (its findings name it by ARN), not the one test_drift's toggle flips
    lid, name = min((fid.split("/")[2], f["Resources"][0]["Id"].split(":alarm:", 1)[1])
                    for fid, f in findings.items() if fid.startswith(f"TapStack{SUFFIX}/") and
                    ":alarm:" in f["Resources"][0]["Id"] and "DatabaseCpu" not in f["Resources"][0]["Id"])
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
    accepted = cloudwatch.meta.service_model.operation_model("PutMetricAlarm").input_shape.members
    again = {k: v for k, v in alarm.items() if k in accepted and v not in (None, [], "")}
    mine = [fid for fid in findings if fid.startswith(f"TapStack{SUFFIX}/") and fid.split("/")[2] == lid]
    assert len(mine) > 3, mine
    presence = [fid for fid in mine if fid.split("/", 3)[3].startswith("stack.")]
    assert len(presence) == 1
    since = logged_runs(watched)
    cloudwatch.delete_alarms(AlarmNames=[name])
    try:
        published(watched, lambda: (found := hub(watched, ids=mine)) and
                  found[presence[0]]["Compliance"]["Status"] == "FAILED" and
                  {(found[fid]["Compliance"]["Status"], found[fid]["RecordState"]) for fid in mine
                   if fid not in presence} == {("NOT_AVAILABLE", "ARCHIVED")},
                  "the deleted alarm: presence FAILED, every other check retired", since=since)
    finally:
        since = logged_runs(watched)
        cloudwatch.put_metric_alarm(**again, Tags=tags)
    published(watched, lambda: {hub(watched, ids=mine)[fid]["Compliance"]["Status"] for fid in mine} == {"PASSED"},
              "the alarm put back: every check PASSED", since=since)


def test_a_consumer_killed_mid_batch_leaves_its_message_to_the_next_within_seconds(watched, tmp_path):
    """A consumer of a queue of its own collects a batch for 300 s (--window), so it holds its message when it is
    killed with SIGKILL: the message is delivered again once its short visibility lapses (2 s here, 20 s by
    default), not after the longest a batch may take (122 s before the heartbeat)."""
    sqs = watched.client("sqs")
    queue = sqs.create_queue(QueueName="monitor-killed-mid-batch")["QueueUrl"]
    log = tmp_path / "consumer.log"
    env = {k: v for k, v in unmeasured(os.environ).items() if not k.startswith("OPSCLI_MONITOR_")}
    try:
        with log.open("w") as sink:
            consumer = subprocess.Popen(
                [sys.executable, "-m", "opscli.monitor", "--suffix", SUFFIX, "--queue-url", queue, "--endpoint-url",
                 watched.endpoint_url, "--window", "300", "--visibility", "2"], cwd=ROOT, stdout=sink, stderr=sink,
                env={**env, "AWS_ACCESS_KEY_ID": "local-emulator", "AWS_SECRET_ACCESS_KEY": "local-emulator"})
        try:
            sent = sqs.send_message(QueueUrl=queue, MessageBody=monitor.schedule_body(SUFFIX))["MessageId"]
            poll(lambda: sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"][
                "ApproximateNumberOfMessagesNotVisible"] == "1" or consumer.poll() is not None,
                "the consumer holding the message")
            assert consumer.poll() is None, log.read_text()
        finally:
            consumer.kill()
            consumer.wait()
        killed = time.monotonic()
        [again] = poll(lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1, MessageSystemAttributeNames=[
            "ApproximateReceiveCount"]).get("Messages"), "the message delivered again", timeout=60)
        # 2, or more if a long poll the killed process had under way still took it (hidden 2 s more)
        assert again["MessageId"] == sent and int(again["Attributes"]["ApproximateReceiveCount"]) >= 2
        assert time.monotonic() - killed < 60
    finally:
        sqs.delete_queue(QueueUrl=queue)


def test_up_run_again_starts_a_consumer_that_was_killed(watched, synth, capsys):
    """`localenv up` of the running deployment's suffix, once its consumer was killed: the running `up` starts it
    again (exit 0), as it started the first. Last of the module: a long poll the killed consumer had under way
    may still take the next message sent (the emulator, as SQS, hides it for the consumer's --visibility)."""
    first = watched.consumer()
    assert processes.Identity.of(watched.up.pid) and first.running()
    assert int(Path(f"/proc/{first.pid}/stat").read_text().rpartition(")")[2].split()[1]) == watched.up.pid
    argv = ["up", "--suffix", SUFFIX, "--template", str(synth.template_path), "--outputs", str(watched.outputs_file),
            "--state-dir", str(watched.state_dir)]
    assert localenv_main(argv) == 2  # it runs: the deployment is up, nothing to start
    assert "is already up" in capsys.readouterr().err
    os.kill(first.pid, signal.SIGKILL)
    poll(lambda: not first.running(), "the consumer ended")
    assert localenv_main(argv) == 0
    second = watched.consumer()
    assert second != first and second.running()
    assert f"runs again (pid {second.pid}" in capsys.readouterr().out
    [started] = poll(lambda: [r for r in watched.log_lines() if r["event"] == "started"], "the new consumer started")
    assert started["suffix"] == SUFFIX and started["deadLetterQueue"] == watched.monitor["outputs"][
        monitor.OUTPUT_DEAD_LETTER_QUEUE_URL]


def test_the_emulators_security_hub_keeps_the_later_update_of_a_finding(watched):
    """As Security Hub orders a provider's updates of one finding by UpdatedAt: an older update is accepted and
    changes nothing (what makes a run stamped with when its reads began safe against a run that ended later). And
    as it filters GetFindings (what `hub` reads with): EQUALS and PREFIX filters on one field joined by OR, the
    fields by AND; a filter the emulator does not apply is refused, never ignored."""
    client = watched.client("securityhub")
    account = watched.client("sts").get_caller_identity()["Account"]

    def finding(status: str, when: str) -> dict[str, Any]:
        return {"SchemaVersion": "2018-10-08", "Id": "ordering-test", "GeneratorId": "ordering",
                "ProductArn": f"arn:aws:securityhub:ap-northeast-1:{account}:product/{account}/default",
                "AwsAccountId": account, "Types": ["Software and Configuration Checks"], "CreatedAt": when,
                "UpdatedAt": when, "Severity": {"Label": "HIGH"}, "Title": "t", "Description": "d",
                "Resources": [{"Type": "Other", "Id": "ordering"}], "Compliance": {"Status": status}}

    newer = client.batch_import_findings(Findings=[finding("FAILED", "2026-01-02T03:00:10.000Z")])
    older = client.batch_import_findings(Findings=[finding("PASSED", "2026-01-02T03:00:00.000Z")])
    assert newer["SuccessCount"] == older["SuccessCount"] == 1 and older["FailedCount"] == 0
    kept = hub(watched, ids={"ordering-test"})["ordering-test"]
    assert (kept["Compliance"]["Status"], kept["UpdatedAt"]) == ("FAILED", "2026-01-02T03:00:10.000Z")
    client.batch_import_findings(Findings=[finding("PASSED", "2026-01-02T03:00:20.000Z")])
    kept = hub(watched, ids={"ordering-test"})["ordering-test"]
    assert kept["Compliance"]["Status"] == "PASSED"

    assert set(hub(watched, ids={"ordering-test", "no-such-finding"})) == {"ordering-test"} != set(hub(watched))

    def ids(**filters: list[tuple[str, str]]) -> list[str]:
        return [f["Id"] for f in client.get_findings(Filters={field: [
            {"Value": value, "Comparison": how} for how, value in given] for field, given in filters.items()})[
            "Findings"]]
    assert ids(Id=[("PREFIX", "ordering-"), ("EQUALS", "no-such-finding")], GeneratorId=[("EQUALS", "ordering")]) \
        == ["ordering-test"]
    assert ids(Id=[("PREFIX", "ordering-")], GeneratorId=[("EQUALS", "another")]) == []
    for refused in ({"Title": [("EQUALS", "t")]}, {"Id": [("NOT_EQUALS", "ordering-test")]}):
        with pytest.raises(botocore.exceptions.ClientError, match="InvalidInputException"):
            ids(**refused)
    # the same predicate in process (the emulator's process is not measured), on what botocore never sends
    from moto.securityhub.exceptions import InvalidInputException

    from localenv.emulator import _finding_filter
    assert _finding_filter(None)({}) and _finding_filter({"Id": []})({"Id": "x"})
    assert not _finding_filter({"GeneratorId": [{"Value": "o", "Comparison": "PREFIX"}]})({"Id": "x"})
    # a field or a comparison in another case is not one the emulator applies: refused, never read as its twin
    for malformed in (["Id"], {"Id": "x"}, {"Id": [{"Value": 1, "Comparison": "EQUALS"}]}, {"Title": []},
                      {"id": []}, {"ID": [{"Value": "x", "Comparison": "EQUALS"}]},
                      {"Id": [{"Value": "x", "Comparison": "equals"}]}, {"Id": [{"Value": "x"}]}):
        with pytest.raises(InvalidInputException):
            _finding_filter(malformed)
