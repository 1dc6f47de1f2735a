"""opscli.monitor.handler: a batch as the Lambda function and the local consumer process it: the session warmed
and logging one batch's calls, the heartbeat and metrics, poison and last receives dead-lettered with their
reason, a batch it fails on returned as failures, a misconfigured function refusing, its JSON log escaped."""

from __future__ import annotations

import json

import pytest

from opscli.model import Finding, Report
from opscli.monitor import messages, run
from opscli.monitor.messages import Record
from platform_spec import monitor
from platform_spec.result import Status
from tests.opscli.monitor.conftest import SUFFIX, cloudtrail_event, record_of


def test_warming_makes_a_client_for_every_service_the_session_may_call():
    from opscli.aws import Aws, new_session
    from opscli.monitor import handler

    aws = Aws(session=new_session(region_name="ap-northeast-1"), allowed=frozenset({"sqs:ListQueues"}),
              writes=frozenset({"s3:PutObject"}))
    assert handler.warm(aws) == 2 and set(aws._clients) == {"sqs", "s3"}


@pytest.mark.parametrize("environment", [{}, {"OPSCLI_MONITOR_SUFFIX": "Not A Suffix"}])
def test_a_function_without_a_valid_suffix_refuses_the_batch_and_says_why(environment, monkeypatch, capsys):
    from opscli.errors import UsageError
    from opscli.monitor import lambda_handler

    monkeypatch.delenv("OPSCLI_MONITOR_SUFFIX", raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(UsageError):
        lambda_handler({"Records": []}, None)
    assert json.loads(capsys.readouterr().out)["event"] == "misconfigured"


def test_without_the_stack_every_change_is_kept_and_the_stack_is_not_available(moto_env):
    """The declaration cannot be read (no such stack): one NOT_AVAILABLE finding for the stack, the change left
    on the queue; Security Hub refusing the findings leaves it too; a report bucket that is not there is logged."""
    from opscli.aws import new_session
    from opscli.monitor import handler

    aws = handler.monitor_session(session=new_session(region_name="ap-northeast-1"))
    log: list = []
    settings = run.Settings(suffix=SUFFIX, bucket="no-such-bucket", namespace="StreamTech/PostureMonitor")
    outcome = handler.process(aws, settings, [record_of(cloudtrail_event(request={"groupId": "sg-1"}))],
                              log=lambda event, **fields: log.append({"event": event, **fields}))
    assert outcome.retry == {"m-1": outcome.report.findings[0].reason} and "does not exist" in \
        outcome.report.findings[0].reason
    hub = aws.client("securityhub")
    assert [f["Compliance"]["Status"] for f in new_session(region_name="ap-northeast-1").client(
        "securityhub").get_findings()["Findings"]] == ["NOT_AVAILABLE"]
    assert [e["event"] for e in log] == ["report-failed", "metric", "retry", "run"]

    refused = {"SuccessCount": 0, "FailedCount": 1, "FailedFindings": [
        {"Id": f"TapStack{SUFFIX}/STK-STACK-001/TapStack{SUFFIX}/stack.scope", "ErrorCode": "InvalidInput",
         "ErrorMessage": "no"}]}

    class Raw:
        def stream(self, **_: object) -> object:
            yield json.dumps(refused).encode()

    def refuse(**_: object) -> tuple:
        import botocore.awsrequest

        return botocore.awsrequest.AWSResponse("https://securityhub", 200, {}, Raw()), refused

    hub.meta.events.register("before-call.securityhub.BatchImportFindings", refuse)
    log.clear()
    handler.process(aws, settings, [record_of(cloudtrail_event(request={"groupId": "sg-1"}))],
                    log=lambda event, **fields: log.append({"event": event, **fields}))
    assert [e["event"] for e in log][:1] == ["import-failed"] and "refused 1 of 1" in log[0]["reason"]


class _Metrics:
    """The monitor's session as far as CloudWatch goes: every datum put, recorded; `refuse` makes each put fail."""

    def __init__(self, refuse: bool = False) -> None:
        self.data: list[dict] = []
        self.refuse = refuse

    def client(self, service: str) -> _Metrics:
        assert service == "cloudwatch"
        return self

    def put_metric_data(self, Namespace: str, MetricData: list[dict]) -> None:  # noqa: N803 - botocore's names
        if self.refuse:
            import botocore.exceptions

            raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        self.data += [{**datum, "Namespace": Namespace} for datum in MetricData]


@pytest.mark.parametrize(("kind", "status", "incomplete", "beat"), [
    ("schedule", Status.PASS, None, 1.0),  # judged everything
    ("schedule", Status.FAIL, None, 1.0),  # a verdict all the same
    ("schedule", Status.ERROR, None, 0.0),  # could not look at something: as silent as not running
    ("schedule", Status.PASS, "timeout", 0.0),  # reads cut short
    ("change", Status.PASS, None, None),  # a run on some resources says nothing of the stack
])
def test_a_whole_stack_run_beats_the_heartbeat_one_when_it_judged_everything(kind, status, incomplete, beat):
    from opscli.monitor import handler

    aws, log = _Metrics(), []
    report = Report(command="monitor", target={"suffix": SUFFIX}, incomplete=incomplete, findings=[
        Finding("STK-KMS-002", "STK-KMS-002", status, "AWS::KMS::Key K (k)", "x")])
    outcome = run.Outcome(kind=kind, report=report)
    handler._side_outputs(aws, run.Settings(suffix=SUFFIX, namespace="N"), outcome,
                          lambda event, **fields: log.append({"event": event, **fields}))
    beats = [d for d in aws.data if d["MetricName"] == monitor.HEARTBEAT_METRIC_NAME]
    assert [d["Value"] for d in beats] == ([] if beat is None else [beat])
    assert all(d["Namespace"] == "N" and "Dimensions" not in d and "Timestamp" not in d for d in beats)
    assert [e.get("complete") for e in log if e["event"] == "heartbeat"] == ([] if beat is None else [int(beat)])
    # a heartbeat CloudWatch refuses is logged, never raised: the findings are in Security Hub already
    refused = []
    handler._side_outputs(_Metrics(refuse=True), run.Settings(suffix=SUFFIX, namespace="N"), outcome,
                          lambda event, **fields: refused.append(event))
    # a run that judged everything, or found something failing, has metrics to put; a blind whole run puts no 0
    # (publish.judged_everything) and a clean partial run nothing: "metric" (nothing was put, so nothing failed)
    puts = beat == 1.0 or status is Status.FAIL
    assert refused == ["metric-failed" if puts else "metric", *(["heartbeat-failed"] if beat is not None else [])]


def test_a_long_lived_session_keeps_the_calls_of_one_batch_only(moto_env):
    """The warm function's cached session (and the consumer's) logs each batch's calls, not every call it ever
    made; the run's count of its own calls is unchanged by that."""
    from opscli.aws import new_session
    from opscli.monitor import handler

    aws = handler.monitor_session(session=new_session(region_name="ap-northeast-1"))
    logged = []
    for _ in range(3):
        outcome = handler.process(aws, run.Settings(suffix=SUFFIX),
                                  [record_of(cloudtrail_event(request={"groupId": "sg-1"}))],
                                  log=lambda event, **fields: None)
        logged.append(list(aws.log.calls))
        assert 0 < outcome.report.api_calls <= len(aws.log.calls)
    assert len(logged[2]) == len(logged[1]) <= len(logged[0])  # not growing with each batch
    assert "cloudformation:GetTemplate" in logged[2]


def _dead_letter_queue() -> tuple[object, str]:
    from opscli.aws import new_session

    sqs = new_session(region_name="ap-northeast-1").client("sqs")
    return sqs, sqs.create_queue(QueueName="monitor-dead-letter-unit")["QueueUrl"]


def _dead_letters(sqs: object, url: str) -> list[dict]:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                               WaitTimeSeconds=0).get("Messages", [])


def test_poison_and_a_change_failing_on_its_last_receive_are_dead_lettered_with_their_reason(moto_env):
    """The monitor sends them to its own dead-letter queue with the original body and why (message attributes),
    and takes them off the messages left on the queue; a change with receives left stays for another try."""
    from opscli.aws import new_session
    from opscli.monitor import handler

    sqs, url = _dead_letter_queue()
    aws = handler.monitor_session(session=new_session(region_name="ap-northeast-1"))
    log: list = []
    change = json.dumps(cloudtrail_event(request={"groupId": "sg-1"}))  # the stack does not exist: it cannot be read
    records = [Record("poison", "{not an event", receive_count=1),
               Record("last", change, receive_count=monitor.MAX_RECEIVES),
               Record("again", change, receive_count=monitor.MAX_RECEIVES - 1)]
    outcome = handler.process(aws, run.Settings(suffix=SUFFIX), records, log=lambda event, **fields: log.append(
        {"event": event, **fields}), dead_letters=handler.DeadLetters(url, monitor.MAX_RECEIVES))
    assert list(outcome.retry) == ["again"]
    sent = {m["MessageAttributes"][monitor.DEAD_LETTER_MESSAGE_ID]["StringValue"]: m for m in _dead_letters(sqs, url)}
    assert set(sent) == {"poison", "last"}
    poison = sent["poison"]
    assert poison["Body"] == "{not an event"
    assert poison["MessageAttributes"][monitor.DEAD_LETTER_REASON]["StringValue"].startswith(
        "a body that is not JSON")
    assert poison["MessageAttributes"][monitor.DEAD_LETTER_SOURCE]["StringValue"] == "opscli-monitor"
    assert poison["MessageAttributes"][monitor.DEAD_LETTER_RECEIVE_COUNT] == {"DataType": "Number",
                                                                              "StringValue": "1"}
    assert sent["last"]["Body"] == change and "does not exist" in \
        sent["last"]["MessageAttributes"][monitor.DEAD_LETTER_REASON]["StringValue"]
    assert [e["messageId"] for e in log if e["event"] == "dead-lettered"] == ["poison", "last"]
    [summary] = [e for e in log if e["event"] == "run"]
    assert summary["deadLettered"] == 2 and summary["retry"] == 1
    # the batch's weight as Lambda's event would carry it (what the bench's storm reads against the 6 MB bound)
    assert summary["payload"] == messages.EVENT_OVERHEAD + sum(messages.payload_bytes(r) for r in records) > \
        len(change) * 2


def test_what_cannot_be_dead_lettered_stays_on_the_queue_and_the_log_says_why(moto_env):
    """A dead-letter queue that refuses (here: it does not exist) or a body SQS cannot carry: the message stays
    for another try, so the queue's redrive moves it after maxReceiveCount."""
    from opscli.aws import new_session
    from opscli.monitor import handler

    aws = handler.monitor_session(session=new_session(region_name="ap-northeast-1"))
    log: list = []
    missing = handler.DeadLetters("https://sqs.ap-northeast-1.amazonaws.com/123456789012/no-such-queue")
    outcome = handler.process(aws, run.Settings(suffix=SUFFIX), [Record("a", "[]"), Record("b", "")],
                              log=lambda event, **fields: log.append({"event": event, **fields}),
                              dead_letters=missing)
    assert set(outcome.retry) == {"a", "b"}
    failed = {e["messageId"]: e["reason"] for e in log if e["event"] == "dead-letter-failed"}
    assert "QueueDoesNotExist" in failed["a"] and "empty body" in failed["b"]


def test_the_dead_letter_settings_are_checked():
    from opscli.errors import UsageError
    from opscli.monitor import handler

    url = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/monitor-dead-letter-x"
    assert handler.DeadLetters.from_environment({}) is None
    assert handler.DeadLetters.from_environment({monitor.ENV_DEAD_LETTER_QUEUE: url,
                                                 monitor.ENV_MAX_RECEIVES: "3"}) == handler.DeadLetters(url, 3)
    for bad_url, bad_count in (("ftp://x/q", None), ("https://sqs.x/", None), (url, "0"), (url, "three")):
        with pytest.raises(UsageError):
            handler.DeadLetters.checked(bad_url, bad_count)
    # ASCII digits only, in our own words: int() reads a fullwidth three and refuses 5,000 digits with its own
    for bad_count in ("\uff13", "\u00b2", " 3", "9" * 5000):
        with pytest.raises(UsageError, match="is not a maxReceiveCount"):
            handler.DeadLetters.checked(url, bad_count)
    # every character SQS refuses in an attribute becomes U+FFFD; never empty, never longer than MAX_REASON
    assert handler._attribute_text("a\x00b\ud800c\n") == "a\ufffdb\ufffdc\n"
    assert handler._attribute_text("") == "(none given)"
    assert len(handler._attribute_text("x" * 5000)) == handler.MAX_REASON


def test_a_batch_the_monitor_fails_on_dead_letters_what_is_on_its_last_receive(moto_env):
    from opscli.aws import new_session
    from opscli.monitor import handler

    sqs, url = _dead_letter_queue()
    aws = handler.monitor_session(session=new_session(region_name="ap-northeast-1"))
    log: list = []
    outcome = handler.failed_batch(aws, [Record("last", "x", receive_count=3), Record("again", "y", receive_count=1)],
                                   RuntimeError("a bug"), log=lambda event, **fields: log.append(
                                       {"event": event, **fields}), dead_letters=handler.DeadLetters(url, 3))
    assert outcome.kind == "failed" and list(outcome.retry) == ["again"] and "RuntimeError: a bug" in \
        outcome.retry["again"]
    [dead] = _dead_letters(sqs, url)
    assert dead["Body"] == "x" and "RuntimeError: a bug" in dead["MessageAttributes"]["reason"]["StringValue"]
    assert [e["event"] for e in log] == ["batch-failed", "dead-lettered"]


def test_the_lambda_handler_returns_a_batch_it_fails_on_as_failures(monkeypatch, capsys):
    from opscli.monitor import handler, lambda_handler

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(handler, "process", broken)
    monkeypatch.setenv(monitor.ENV_SUFFIX, SUFFIX)
    for key in (monitor.ENV_DEAD_LETTER_QUEUE, monitor.ENV_MAX_RECEIVES):
        monkeypatch.delenv(key, raising=False)
    event = {"Records": [{"messageId": "a", "body": "{}", "attributes": {}}]}
    assert lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "a"}]}
    assert json.loads(capsys.readouterr().out)["event"] == "batch-failed"
    monkeypatch.setenv(monitor.ENV_DEAD_LETTER_QUEUE, "not a url")
    with pytest.raises(Exception, match="not a queue URL"):
        lambda_handler(event, None)
    assert json.loads(capsys.readouterr().out)["event"] == "misconfigured"


def test_a_control_character_in_a_message_never_reaches_the_log_raw():
    """A poison message's reason quotes what it was sent; ESC, BEL and U+202E in it are escaped in the JSON log line
    (what CloudWatch Logs and a terminal tailing the consumer's log show), and a key repeated in another case is
    still poison, never read as the envelope's."""
    import io

    from opscli.monitor import handler

    hostile = "\x1b]0;pwned\x07\x1b[31mred\u202etxt"
    body = json.dumps({"detail-type": hostile, "Source": "aws.ec2", "source": hostile, "detail": {}})
    batch = messages.sort([record_of(body)], SUFFIX)
    assert batch.poison and not batch.changes
    stream = io.StringIO()
    handler.json_log(stream)("poison", reason=batch.poison[0].reason, sent=hostile)
    line = stream.getvalue()
    assert not any(ch in line for ch in ("\x1b", "\x07", "\u202e"))
    assert json.loads(line)["event"] == "poison"
