"""The monitor's queue messages, read: a CloudTrail-shaped EventBridge event (a change), the schedule's message, or
poison (anything else), with the reason it cannot be used."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from platform_spec.monitor import CLOUDTRAIL_DETAIL_TYPE, SCHEDULE_KIND, SCHEDULE_MARKER, SCHEDULE_SUFFIX

MAX_BODY = 256 * 1024  # an SQS message (and an EventBridge event) is at most 256 KB


@dataclass(frozen=True)
class Record:
    """One queue message as the Lambda SQS event source hands it over (and the local consumer makes it)."""

    message_id: str
    body: str
    receipt_handle: str = ""
    receive_count: int = 1

    @classmethod
    def from_lambda(cls, record: Any) -> Record:
        """A record of the SQS event a Lambda function is invoked with; one without a message id cannot even be
        reported as failed (KeyError is the handler's to raise: the whole batch then returns to the queue)."""
        attributes = record.get("attributes") if isinstance(record.get("attributes"), Mapping) else {}
        count = str(attributes.get("ApproximateReceiveCount", "1"))
        body = record.get("body")
        return cls(str(record["messageId"]), body if isinstance(body, str) else "",
                   str(record.get("receiptHandle", "")), int(count) if count.isdigit() else 1)

    @classmethod
    def from_sqs(cls, message: Mapping[str, Any]) -> Record:
        """A message of an SQS ReceiveMessage answer."""
        count = str((message.get("Attributes") or {}).get("ApproximateReceiveCount", "1"))
        body = message.get("Body")
        return cls(str(message["MessageId"]), body if isinstance(body, str) else "",
                   str(message["ReceiptHandle"]), int(count) if count.isdigit() else 1)


@dataclass(frozen=True)
class Change:
    """A CloudTrail record of a write call: what the monitor maps to the stack's resources."""

    record: Record
    source: str  # eventSource, e.g. ec2.amazonaws.com
    name: str  # eventName, e.g. AuthorizeSecurityGroupIngress
    region: str
    request: Any = None  # requestParameters
    response: Any = None  # responseElements
    event_id: str = ""
    failed: bool = False  # the call failed (CloudTrail's errorCode): it changed nothing

    @property
    def service(self) -> str:
        return self.source.split(".", 1)[0]


@dataclass(frozen=True)
class Schedule:
    """The schedule's message: run the whole-stack audit."""

    record: Record
    suffix: str


@dataclass(frozen=True)
class Poison:
    """A message the monitor cannot use: left on the queue, so SQS dead-letters it after maxReceiveCount."""

    record: Record
    reason: str


@dataclass
class Batch:
    changes: list[Change] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    poison: list[Poison] = field(default_factory=list)


def read(record: Record, suffix: str) -> Change | Schedule | Poison:
    """What one message is, for the monitor of `suffix`."""
    if not record.body:
        return Poison(record, "an empty body")
    if len(record.body.encode("utf-8", "surrogatepass")) > MAX_BODY:
        return Poison(record, f"a body over {MAX_BODY} bytes")
    try:
        document = json.loads(record.body)
    except (ValueError, RecursionError) as exc:
        return Poison(record, f"a body that is not JSON ({str(exc)[:80]})")
    if not isinstance(document, dict):
        return Poison(record, f"a JSON {type(document).__name__}, not an event or the schedule's message")
    if SCHEDULE_MARKER in document:
        return _schedule(record, document, suffix)
    return _change(record, document)


def _schedule(record: Record, document: dict[str, Any], suffix: str) -> Schedule | Poison:
    if document.get(SCHEDULE_MARKER) != SCHEDULE_KIND:
        return Poison(record, f"{SCHEDULE_MARKER} is {str(document.get(SCHEDULE_MARKER))[:40]!r}, not "
                              f"{SCHEDULE_KIND!r}")
    if document.get(SCHEDULE_SUFFIX) != suffix:
        return Poison(record, f"a schedule for suffix {str(document.get(SCHEDULE_SUFFIX))[:40]!r}; this monitor "
                              f"watches {suffix!r}")
    return Schedule(record, suffix)


def _change(record: Record, document: dict[str, Any]) -> Change | Poison:
    if document.get("detail-type") != CLOUDTRAIL_DETAIL_TYPE:
        return Poison(record, f"detail-type {str(document.get('detail-type'))[:60]!r}, not "
                              f"{CLOUDTRAIL_DETAIL_TYPE!r} (and not the schedule's message)")
    detail = document.get("detail")
    if not isinstance(detail, dict):
        return Poison(record, "an event without a detail object")
    missing = [key for key in ("eventSource", "eventName") if not isinstance(detail.get(key), str) or
               not detail.get(key)]
    if missing:
        return Poison(record, f"an event whose detail lacks {', '.join(missing)}")
    for key in ("requestParameters", "responseElements"):
        if detail.get(key) is not None and not isinstance(detail[key], (dict, list)):
            return Poison(record, f"an event whose {key} is a {type(detail[key]).__name__}")
    named = detail.get("awsRegion")
    region = named if isinstance(named, str) else str(document.get("region") or "")
    return Change(record, detail["eventSource"], detail["eventName"], region, detail.get("requestParameters"),
                  detail.get("responseElements"), str(detail.get("eventID") or document.get("id") or ""),
                  failed=bool(detail.get("errorCode")))


def sort(records: list[Record], suffix: str) -> Batch:
    batch = Batch()
    for record in records:
        item = read(record, suffix)
        if isinstance(item, Change):
            batch.changes.append(item)
        elif isinstance(item, Schedule):
            batch.schedules.append(item)
        else:
            batch.poison.append(item)
    return batch
