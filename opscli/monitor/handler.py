"""The monitor's entry for one batch of its queue, shared by the Lambda function and the local consumer: judge
(opscli.monitor.run), publish (opscli.monitor.publish), and log one JSON line per event worth a look (a poison
message and its reason, a message left for another try, the run's summary)."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

import botocore.exceptions

from opscli.aws import ALLOWED_REGION, Aws
from opscli.errors import OpsError, UsageError
from opscli.monitor import publish
from opscli.monitor.messages import Record
from opscli.monitor.run import Outcome, Settings, judge_batch
from opscli.sanitize import visible_json
from opscli.targets import from_suffix
from platform_spec.monitor import ENV_BUCKET, ENV_NAMESPACE, ENV_SUFFIX
from platform_spec.result import CouldNotLook

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


def process(aws: Aws, settings: Settings, records: Iterable[Record], *, log: Log | None = None) -> Outcome:
    """Judge and publish one batch. The outcome's `retry` names the messages to leave on the queue: poison, a
    change whose resources could not be read, and every judged message when Security Hub did not take the
    findings (nothing of the run is recorded then)."""
    log = json_log() if log is None else log
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
    for message_id, reason in outcome.retry.items():
        if message_id not in {p.record.message_id for p in outcome.poison}:
            log("retry", messageId=message_id, reason=reason)
    log("run", **outcome.summary())
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
    names in batchItemFailures return to the queue; the others are deleted by Lambda."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    timeout = max(5.0, remaining() / 1000 - DEADLINE_MARGIN) if callable(remaining) else 60.0
    try:
        settings = settings_from(os.environ, timeout=timeout)
    except OpsError as exc:  # the whole batch returns to the queue; the log says why
        json_log(sys.stdout)("misconfigured", reason=str(exc))
        raise
    aws = _session(os.environ.get("AWS_REGION", ALLOWED_REGION), os.environ.get("AWS_ENDPOINT_URL") or None)
    records = [Record.from_lambda(record) for record in event.get("Records", [])]
    outcome = process(aws, settings, records, log=json_log(sys.stdout))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in outcome.retry]}
