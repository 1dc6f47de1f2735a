"""The monitor's entry for one batch of its queue, shared by the Lambda function and the local consumer: judge
(opscli.monitor.run), publish (opscli.monitor.publish), dead-letter what cannot be judged (poison, and a change
still failing on its last receive) with its reason, and log one JSON line per event worth a look (a poison message
and its reason, a message dead-lettered or left for another try, the run's summary)."""

from __future__ import annotations

import json
import os
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

import botocore.exceptions

from opscli.aws import Aws
from opscli.errors import OpsError, UsageError
from opscli.model import Report
from opscli.monitor import publish
from opscli.monitor.messages import EVENT_OVERHEAD, Record, payload_bytes
from opscli.monitor.run import Outcome, Settings, judge_batch
from opscli.sanitize import visible_json
from opscli.targets import from_suffix
from platform_spec import monitor
from platform_spec.monitor import ENV_BUCKET, ENV_NAMESPACE, ENV_SUFFIX
from platform_spec.result import CouldNotLook
from platform_spec.stacks import ALLOWED_REGION
from platform_utils.numbers import whole

DEADLINE_MARGIN = 10.0  # seconds of the invocation kept for publishing after the reads

Log = Callable[..., None]


def json_log(stream: TextIO | None = None) -> Log:
    """A logger writing one JSON object a line (CloudWatch Logs reads them as fields), every character a
    terminal could act on escaped."""
    lock = threading.Lock()

    def log(event: str, **fields: Any) -> None:
        line = visible_json(json.dumps({"event": event, **fields}, sort_keys=True, default=str, ensure_ascii=False))
        with lock:
            print(line, file=stream or sys.stderr, flush=True)
    return log


def monitor_session(*, region: str = ALLOWED_REGION, endpoint_url: str | None = None,
                    session: Any = None) -> Aws:
    """The monitor's guarded session: every read opscli declares, and its three writes."""
    return Aws(region=region, endpoint_url=endpoint_url, session=session, writes=publish.WRITES)


def warm(aws: Aws) -> int:
    """Make the session's client for every service it may call (what a warm function container holds), so the
    first change is not also the first use of twenty clients; returns how many."""
    services = sorted({operation.split(":", 1)[0] for operation in aws.allowed | aws.writes})
    for service in services:
        aws.client(service)
    return len(services)


_PUBLISH_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, CouldNotLook, OpsError,
                   ValueError)


@dataclass(frozen=True)
class DeadLetters:
    """Where the monitor dead-letters a message itself: its own dead-letter queue (SendMessage, the message's body
    with why as message attributes), for poison at once and for a change that still fails on its last receive
    (`max_receives`, the queue's maxReceiveCount; None: poison only). What cannot be sent there stays on the
    queue, and SQS's redrive moves it after maxReceiveCount (without its reason; the log has it)."""

    queue_url: str
    max_receives: int | None = None

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> DeadLetters | None:
        """From the function's environment; None when it names no dead-letter queue. A URL or a count that cannot
        be one is a UsageError (the template set it)."""
        url = environment.get(monitor.ENV_DEAD_LETTER_QUEUE) or None
        count = environment.get(monitor.ENV_MAX_RECEIVES) or None
        return None if url is None else cls.checked(url, count)

    @classmethod
    def checked(cls, url: str, max_receives: str | int | None) -> DeadLetters:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or not parts.path.strip("/"):
            raise UsageError(f"{url!r} is not a queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)")
        if max_receives is None:
            return cls(url)
        text = str(max_receives)
        count = whole(text, 1, 1000)
        if count is None:
            raise UsageError(f"{text!r} is not a maxReceiveCount (1 to 1000)")
        return cls(url, count)

    def due(self, record: Record, poison: bool) -> bool:
        """Whether a message left for another try is dead-lettered now: poison, or its last receive."""
        return poison or (self.max_receives is not None and record.receive_count >= self.max_receives)


MAX_REASON = 1000  # characters of the reason attribute (a reason holds at most a few hundred)


def _attribute_text(text: str) -> str:
    """`text` as an SQS message attribute may hold it: only the characters SQS allows (#x9 #xA #xD, #x20 to
    #xD7FF, #xE000 to #xFFFD, #x10000 to #x10FFFF; anything else becomes U+FFFD), never empty, at most MAX_REASON
    characters."""
    allowed = "".join(c if c in "\t\n\r" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c >= "\U00010000"
                      else "\ufffd" for c in text[:MAX_REASON])
    return allowed or "(none given)"


def dead_letter(aws: Aws, dead_letters: DeadLetters, outcome: Outcome, records: Iterable[Record],
                log: Log) -> int:
    """Send every message of the batch that is due (`DeadLetters.due`) to the dead-letter queue, with its reason,
    and take it off `outcome.retry` (it is handled: Lambda, or the consumer, deletes it). One that cannot be sent
    stays in `outcome.retry`; the log says why. Returns how many were sent."""
    poison = {p.record.message_id for p in outcome.poison}
    sent = 0
    for record in records:
        reason = outcome.retry.get(record.message_id)
        if reason is None or not dead_letters.due(record, record.message_id in poison):
            continue
        if not record.body:
            log("dead-letter-failed", messageId=record.message_id, reason="SQS takes no message with an empty "
                "body: left for the queue's redrive")
            continue
        attributes = {
            monitor.DEAD_LETTER_REASON: {"DataType": "String", "StringValue": _attribute_text(reason)},
            monitor.DEAD_LETTER_MESSAGE_ID: {"DataType": "String",
                                             "StringValue": _attribute_text(record.message_id)},
            monitor.DEAD_LETTER_RECEIVE_COUNT: {"DataType": "Number", "StringValue": str(record.receive_count)},
            monitor.DEAD_LETTER_SOURCE: {"DataType": "String", "StringValue": monitor.DEAD_LETTER_SENDER}}
        try:
            answer = aws.client("sqs").send_message(QueueUrl=dead_letters.queue_url, MessageBody=record.body,
                                                    MessageAttributes=attributes)
        except _PUBLISH_ERRORS as exc:
            log("dead-letter-failed", messageId=record.message_id, reason=f"{type(exc).__name__}: {exc}")
            continue
        del outcome.retry[record.message_id]
        sent += 1
        log("dead-lettered", messageId=record.message_id, receiveCount=record.receive_count, reason=reason,
            deadLetterMessageId=answer.get("MessageId") if isinstance(answer, dict) else None)
    return sent


def process(aws: Aws, settings: Settings, records: Iterable[Record], *, log: Log | None = None,
            dead_letters: DeadLetters | None = None) -> Outcome:
    """Judge and publish one batch. The outcome's `retry` names the messages to leave on the queue: poison, a
    change whose resources could not be read, and every judged message when Security Hub did not take the
    findings (nothing of the run is recorded then); with `dead_letters`, less what was dead-lettered (poison, and
    what still failed on its last receive). The session's call log holds this batch's calls only."""
    log = json_log() if log is None else log
    records = list(records)
    aws.log.clear()  # the session outlives the batch (a warm container's, the consumer's): its log does not
    outcome = judge_batch(aws, settings, records)
    for poison in outcome.poison:
        log("poison", messageId=poison.record.message_id, receiveCount=poison.record.receive_count,
            reason=poison.reason)
    report = outcome.report
    if report is not None:
        try:
            imported = publish.to_security_hub(aws, report)
            problem = f"Security Hub refused {len(imported.failed)} of {imported.sent} findings " \
                      f"(first: {imported.failed[0]})" if imported.failed else None
        except OpsError as exc:
            problem = f"not imported into Security Hub: {exc}"
        if problem:
            log("import-failed", reason=problem)
            for record_id in _judged_ids(outcome, records):
                outcome.retry.setdefault(record_id, problem)
        else:
            _side_outputs(aws, settings, outcome, log)
    sent = dead_letter(aws, dead_letters, outcome, records, log) if dead_letters is not None else 0
    for message_id, reason in outcome.retry.items():
        if message_id not in {p.record.message_id for p in outcome.poison}:
            log("retry", messageId=message_id, reason=reason)
    log("run", **outcome.summary(), deadLettered=sent,
        payload=EVENT_OVERHEAD + sum(payload_bytes(r) for r in records))  # the batch's weight against Lambda's 6 MB
    return outcome


def failed_batch(aws: Aws, records: list[Record], error: Exception, *, log: Log,
                 dead_letters: DeadLetters | None = None) -> Outcome:
    """The outcome of a batch the monitor failed on (what it did not foresee; the log says what): every message
    left for another try with that reason, except what is on its last receive, dead-lettered with it (SQS's
    redrive would move it there without)."""
    reason = f"the monitor failed on this batch: {type(error).__name__}: {error}"
    log("batch-failed", messages=len(records), reason=reason)
    outcome = Outcome(kind="failed", messages=len(records), retry={r.message_id: reason for r in records})
    if dead_letters is not None:
        try:
            dead_letter(aws, dead_letters, outcome, records, log)
        except Exception as exc:  # noqa: BLE001 - what failed the batch may fail this too: the redrive remains
            log("dead-letter-failed", reason=f"{type(exc).__name__}: {exc}")
    return outcome


def _judged_ids(outcome: Outcome, records: Iterable[Record]) -> list[str]:
    poison = {p.record.message_id for p in outcome.poison}
    return [r.message_id for r in records if r.message_id not in poison]


def _side_outputs(aws: Aws, settings: Settings, outcome: Outcome, log: Log) -> None:
    """The report in the bucket and the metric: a failure is logged (the findings are in Security Hub already)."""
    report = outcome.report
    assert report is not None
    if settings.bucket:
        try:
            log("report", bucket=settings.bucket, key=publish.to_bucket(aws, settings.bucket, outcome))
        except _PUBLISH_ERRORS as exc:
            log("report-failed", bucket=settings.bucket, reason=f"{type(exc).__name__}: {exc}")
    if settings.namespace:
        try:
            counts = publish.to_metrics(aws, settings.namespace, report, whole=outcome.kind == "schedule")
            log("metric", namespace=settings.namespace, counts=counts)
        except _PUBLISH_ERRORS as exc:
            log("metric-failed", namespace=settings.namespace, reason=f"{type(exc).__name__}: {exc}")
        if outcome.kind == "schedule":
            try:
                log("heartbeat", namespace=settings.namespace, complete=heartbeat(aws, settings.namespace, report))
            except _PUBLISH_ERRORS as exc:
                log("heartbeat-failed", namespace=settings.namespace, reason=f"{type(exc).__name__}: {exc}")


def heartbeat(aws: Aws, namespace: str, report: Report) -> int:
    """Put the heartbeat of a whole-stack run whose findings Security Hub took (`monitor.HEARTBEAT_METRIC_NAME`):
    1 when every check got a verdict, 0 when one could not (an ERROR, or reads cut short), so that a monitor that
    runs but cannot look is as silent to the heartbeat's alarm as one that does not run. No timestamp: CloudWatch
    stamps it when it arrives, the moment the run was known to have ended. Returns the value put."""
    complete = int(publish.judged_everything(report, whole=True))  # no ERROR, not cut short, judged something
    aws.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": monitor.HEARTBEAT_METRIC_NAME, "Value": float(complete), "Unit": "Count"}])
    return complete


def settings_from(environment: Mapping[str, str], *, timeout: float = 60.0) -> Settings:
    """The function's settings from its environment; a missing or malformed suffix is a UsageError."""
    suffix = environment.get(ENV_SUFFIX, "")
    if not suffix:
        raise UsageError(f"{ENV_SUFFIX} is not set: the monitor does not know which stack it watches")
    return Settings(suffix=from_suffix(suffix).suffix, bucket=environment.get(ENV_BUCKET) or None,
                    namespace=environment.get(ENV_NAMESPACE) or None, timeout=timeout)


_sessions: dict[tuple[str, str | None], Aws] = {}
_sessions_lock = threading.Lock()


def _session(region: str, endpoint_url: str | None) -> Aws:
    """One guarded session per region and endpoint for the life of the function's container (its clients are
    made once, not once per invocation)."""
    with _sessions_lock:
        key = (region, endpoint_url)
        if key not in _sessions:
            _sessions[key] = monitor_session(region=region, endpoint_url=endpoint_url)
        return _sessions[key]


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda function's handler for its SQS event source (with ReportBatchItemFailures): the messages it
    names in batchItemFailures return to the queue; the others (judged, ignored, or dead-lettered by the monitor
    with their reason) are deleted by Lambda. A batch the monitor fails on is logged (batch-failed) and returned
    as failures, but for what is on its last receive (`failed_batch`)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    timeout = max(5.0, remaining() / 1000 - DEADLINE_MARGIN) if callable(remaining) else 60.0
    try:
        settings = settings_from(os.environ, timeout=timeout)
    except OpsError as exc:  # the whole batch returns to the queue; the log says why
        json_log(sys.stdout)("misconfigured", reason=str(exc))
        raise
    aws = _session(os.environ.get("AWS_REGION", ALLOWED_REGION), os.environ.get("AWS_ENDPOINT_URL") or None)
    try:
        dead_letters = DeadLetters.from_environment(os.environ)
    except OpsError as exc:
        json_log(sys.stdout)("misconfigured", reason=str(exc))
        raise
    records = [Record.from_lambda(record) for record in event.get("Records", [])]
    log = json_log(sys.stdout)
    try:
        outcome = process(aws, settings, records, log=log, dead_letters=dead_letters)
    except Exception as exc:  # noqa: BLE001 - every message returns to the queue but those on their last receive
        outcome = failed_batch(aws, records, exc, log=log, dead_letters=dead_letters)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in outcome.retry]}
