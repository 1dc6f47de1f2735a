"""The monitor's queue messages, read: a CloudTrail-shaped EventBridge event (a change), the schedule's message, or
poison (anything else), with the reason it cannot be used.

Whose a change is: EventBridge puts its `account` and `region` on every event it delivers, and CloudTrail's record
(the event's detail) its `recipientAccountId` (the account that received the call, where CloudTrail writes it) and
`awsRegion`. A change is this monitor's only where every one of them that is stated is the monitor's own account and
region (`foreign`); another account's or region's event is ignored, never read for and never poison. The calls of
AWS's global services (IAM, STS, CloudFront, Route 53, Organizations) are recorded in us-east-1 whatever region
served them, and their resources belong to the account, in no region: their events are judged by account alone.
Malformed, it cannot be judged at all, and is poison: an envelope without its account or region, or any of these
fields present but not an account id or a region code. The caller's own account (`userIdentity.accountId`) is not
looked at: another account allowed to change a resource of ours changes it all the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opscli.arns import ACCOUNT, REGION
from platform_spec.monitor import CLOUDTRAIL_DETAIL_TYPE, SCHEDULE_KIND, SCHEDULE_MARKER, SCHEDULE_SUFFIX
from platform_utils.numbers import whole

MAX_BODY = 256 * 1024  # an SQS message (and an EventBridge event) is at most 256 KB
# What a message weighs in the event Lambda invokes the function with, beyond its id, receipt handle and body: its
# attributes, MD5, the queue's ARN and the region (about 400 bytes in AWS's example event; rounded up), and the
# event's own envelope. The local consumer stops a batch before the message that would take it past Lambda's 6 MB.
RECORD_OVERHEAD = 512
EVENT_OVERHEAD = 16
# Services whose CloudTrail events carry us-east-1 (or the region of the endpoint called) for resources of no region.
GLOBAL_SOURCES = frozenset({"iam.amazonaws.com", "sts.amazonaws.com", "cloudfront.amazonaws.com",
                            "route53.amazonaws.com", "organizations.amazonaws.com"})


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
                   str(record.get("receiptHandle", "")), whole(count, 1) or 1)

    @classmethod
    def from_sqs(cls, message: Mapping[str, Any]) -> Record:
        """A message of an SQS ReceiveMessage answer."""
        count = str((message.get("Attributes") or {}).get("ApproximateReceiveCount", "1"))
        body = message.get("Body")
        return cls(str(message["MessageId"]), body if isinstance(body, str) else "",
                   str(message["ReceiptHandle"]), whole(count, 1) or 1)


def payload_bytes(record: Record) -> int:
    """What `record` adds to the payload of the Lambda invocation its batch is (JSON, UTF-8)."""
    fields = json.dumps([record.message_id, record.receipt_handle, record.body], ensure_ascii=False)
    return len(fields.encode("utf-8", "surrogatepass")) + RECORD_OVERHEAD


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
    accounts: frozenset[str] = frozenset()  # every account the event states (EventBridge's, CloudTrail's recipient)
    regions: frozenset[str] = frozenset()  # every region it states (EventBridge's, CloudTrail's awsRegion)
    resources: tuple[str, ...] = ()  # the ARNs it lists (the envelope's resources, the record's resources[].ARN)

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
    ignored: list[tuple[Change, str]] = field(default_factory=list)  # changes not of this monitor's stack, and why

    def reasons(self) -> dict[str, int]:
        """Why changes were ignored, each reason once with how many it holds (what a batch's log says once)."""
        counts: dict[str, int] = {}
        for _, reason in self.ignored:
            counts[reason] = counts.get(reason, 0) + 1
        return counts


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
    stated = _stated(document, detail)
    if isinstance(stated, str):
        return Poison(record, stated)
    accounts, regions = stated
    resources = _resources(document, detail)
    if isinstance(resources, str):
        return Poison(record, resources)
    region = detail.get("awsRegion") or document["region"]
    return Change(record, detail["eventSource"], detail["eventName"], region, detail.get("requestParameters"),
                  detail.get("responseElements"), str(detail.get("eventID") or document.get("id") or ""),
                  failed=bool(detail.get("errorCode")), accounts=accounts, regions=regions, resources=resources)


def _shown(value: Any) -> str:
    return repr(value)[:40]


def _stated(document: dict[str, Any], detail: dict[str, Any]) -> tuple[frozenset[str], frozenset[str]] | str:
    """The accounts and regions an event states, or why it cannot be judged (a reason for poison)."""
    for key in ("account", "region"):
        if document.get(key) is None:
            return f"an event without EventBridge's {key} (every event EventBridge delivers has one)"
    accounts: set[str] = set()
    regions: set[str] = set()
    for where, key, pattern, found in (("the event's", "account", ACCOUNT, accounts),
                                       ("the record's", "recipientAccountId", ACCOUNT, accounts),
                                       ("the event's", "region", REGION, regions),
                                       ("the record's", "awsRegion", REGION, regions)):
        value = (document if where == "the event's" else detail).get(key)
        if value is None:
            continue  # only CloudTrail's two may be absent (recipientAccountId is not in every record)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            what = "an account id" if pattern is ACCOUNT else "a region code"
            return f"an event whose {key} ({where}) is {_shown(value)}, not {what}"
        found.add(value)
    return frozenset(accounts), frozenset(regions)


def _resources(document: dict[str, Any], detail: dict[str, Any]) -> tuple[str, ...] | str:
    """The ARNs the envelope's `resources` (strings) and the record's (objects with an ARN) list, or why not."""
    listed = document.get("resources")
    if listed is not None and not (isinstance(listed, list) and all(isinstance(x, str) for x in listed)):
        return f"an event whose resources are {_shown(listed)}, not a list of ARNs"
    arns = list(listed or [])
    recorded = detail.get("resources")
    if recorded is not None:
        if not isinstance(recorded, list) or not all(isinstance(x, dict) for x in recorded):
            return f"an event whose record's resources are {_shown(recorded)}, not a list of objects"
        arns += [x["ARN"] for x in recorded if isinstance(x.get("ARN"), str)]
    return tuple(dict.fromkeys(arns))


def foreign(change: Change, *, region: str, account: str) -> str | None:
    """Why a change is not of the stack a monitor in `region` and `account` watches (another account's or
    region's event), or None."""
    others = sorted(change.accounts - {account})
    if others:
        return f"an event of account {others[0]}, not this monitor's {account}"
    if change.source not in GLOBAL_SOURCES:
        others = sorted(change.regions - {region})
        if others:
            return f"an event of region {others[0]}, not this monitor's {region}"
    return None


def within(batch: Batch, *, region: str, account: str) -> Batch:
    """`batch` with every change that is not of this monitor's account and region moved to `ignored`."""
    kept = Batch(schedules=batch.schedules, poison=batch.poison, ignored=list(batch.ignored))
    for change in batch.changes:
        reason = foreign(change, region=region, account=account)
        if reason is None:
            kept.changes.append(change)
        else:
            kept.ignored.append((change, reason))
    return kept


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
