"""CloudTrail as EventBridge sees it, for the emulator: every write call the emulator serves successfully puts an
"AWS API Call via CloudTrail" event on the default event bus of the caller's account and region (us-east-1 for
a global service's, below), so a rule routes it to its targets (the posture monitor's queue) as it would on AWS.

What counts as a write is decided from the operation as botocore's model names it, as CloudTrail's `readOnly`
does: reads (the read prefixes of platform_spec.contract, and GET/HEAD operations of the REST protocols) put
nothing. Nor do the calls CloudTrail records as data events (an S3 object, an SQS message, an SNS publish, a
function invocation, a metric or log event, an event put on a bus): a trail logs those only when asked, and a
monitor that acts on them would see its own queue and report writes. The event is put in process, through the
events backend, never as a served request, so it cannot itself be recorded. Nothing is built while no enabled rule
on the default bus could receive it (by its detail-type and source), so a deployment pays only that check until
the monitor's rule exists.

moto gaps closed here as well: a rule whose State is DISABLED still delivered to its targets, and a rule with a
schedule and no pattern received every event (its empty pattern matched all); EventBridge delivers neither. A
target moto cannot deliver to (a Lambda function) no longer stops delivery to the rules after its own. A target
without an input transformer gets the event as EventBridge delivers it, with its `account` (moto's default
template left it out, and substituted its fields into the text of the detail too).

AWS's global services are recorded where AWS records them, not where the call was signed: CloudTrail records the
calls of IAM, CloudFront, Route 53, Organizations and Account Management in us-east-1 and puts their events on
us-east-1's default bus only, so a rule in any other region (TapMonitor's, in ap-northeast-1) never receives them
(`recorded_region`). moto took the region from the request's credential scope, and a client with an endpoint URL
signs IAM for its own region: the emulator put IAM's events on ap-northeast-1's bus, which AWS never does. STS is
not among them: its regional endpoints, the SDKs' default, record in their own region."""

from __future__ import annotations

import copy
import json
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from platform_spec.contract import READ_PREFIXES
from platform_spec.monitor import CLOUDTRAIL_DETAIL_TYPE

log = logging.getLogger(__name__)

# What CloudTrail writes in place of a parameter the service marks sensitive (botocore's `sensitive` trait).
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
# EventBridge refuses an event larger than 256 KB: the parameters are left out first, as CloudTrail does for
# requests too large to record.
MAX_EVENT_BYTES = 256 * 1024
# Rule states that receive events (ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS also gets read-only events, which
# the emulator does not emit).
RECEIVING = frozenset({"ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"})
# The fields of every event EventBridge delivers (its event structure reference), in its order.
ENVELOPE = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")
# Calls CloudTrail records as data events (each service's "Logging ... API calls using AWS CloudTrail" page): not on
# the bus by default. S3's object-level calls are found by their model (an input with a Key member), but for the
# one that names its objects in its body.
DATA_EVENTS = {
    "s3": frozenset({"DeleteObjects"}),
    "sqs": frozenset({"SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
                      "ChangeMessageVisibility", "ChangeMessageVisibilityBatch"}),
    "sns": frozenset({"Publish", "PublishBatch"}),
    "lambda": frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"}),
    "cloudwatch": frozenset({"PutMetricData"}),
    "logs": frozenset({"PutLogEvents"}),
    "events": frozenset({"PutEvents"}),
    # KMS's cryptographic calls are management events that CloudTrail marks readOnly.
    "kms": frozenset({"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
                      "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateRandom", "Sign",
                      "Verify", "GenerateMac", "VerifyMac"}),
}
# Where CloudTrail records the calls of a global service (by endpoint prefix) and EventBridge delivers their events:
# us-east-1 only (AWS's knowledge center, "use EventBridge rule across regions" and "EventBridge rule triggers IAM
# single region"; CloudTrail's user guide, update-trail, for IAM's and CloudFront's records). The emulator serves
# the aws partition only.
GLOBAL_REGION = "us-east-1"
GLOBAL_SERVICES = frozenset({"iam", "cloudfront", "route53", "organizations", "account"})


def recorded_region(prefix: str, region: str) -> str:
    """The region whose CloudTrail records a call of the service with endpoint prefix `prefix` served for `region`,
    and whose default bus gets its event: us-east-1 for a global service, else `region`."""
    return GLOBAL_REGION if prefix in GLOBAL_SERVICES else region


class Counter:
    """How many events the emulator put on a bus, and how many writes it could not describe (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.put = 0
        self.failed = 0

    def add(self, *, failed: bool = False) -> None:
        with self._lock:
            if failed:
                self.failed += 1
            else:
                self.put += 1


COUNTS = Counter()


def is_write(operation: Any) -> bool:
    """Whether CloudTrail records `operation` (a botocore OperationModel) as a write management event."""
    name, service = operation.name, operation.service_model.service_name
    if name.startswith(READ_PREFIXES) or name in DATA_EVENTS.get(service, ()):
        return False
    if operation.service_model.protocol in ("rest-json", "rest-xml") and \
            operation.http.get("method") in ("GET", "HEAD"):
        return False
    # an S3 call on an object is a data event
    return not (service == "s3" and operation.input_shape is not None and "Key" in operation.input_shape.members)


def _camel(name: str) -> str:
    """A member name as CloudTrail writes it: the first letter lower case (GroupId -> groupId)."""
    return name[:1].lower() + name[1:]


def as_recorded(value: Any, shape: Any) -> Any:
    """A parsed request or response value as CloudTrail records it: structure members in lower camel case,
    sensitive values hidden, timestamps as ISO 8601 text, binary data left out (None)."""
    if shape is None:
        return None
    if getattr(shape, "serialization", {}).get("sensitive") or shape.metadata.get("sensitive"):
        return HIDDEN
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        out = {}
        for name, item in value.items():
            member = shape.members.get(name)
            recorded = as_recorded(item, member) if member is not None else None
            if recorded is not None:
                out[_camel(name)] = recorded
        return out
    if kind == "list" and isinstance(value, list):
        return [as_recorded(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {str(key): as_recorded(item, shape.value) for key, item in value.items()}
    if kind == "timestamp" and isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if kind == "blob" or isinstance(value, (bytes, bytearray)):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _request_parameters(operation: Any, request: Any, uri_params: dict[str, Any]) -> Any:
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import determine_request_protocol

    if operation.input_shape is None:
        return None
    protocol = determine_request_protocol(operation.service_model, request.content_type)
    parsed = PROTOCOL_PARSERS[protocol](operation, map_type=dict).parse({
        "method": request.method, "values": request.values, "headers": request.headers, "body": request.data,
        "url_path": request.path, "url_params": uri_params})
    return as_recorded(parsed, operation.input_shape)


def _response_elements(operation: Any, status: int, headers: Any, body: Any) -> Any:
    import botocore.parsers

    if operation.output_shape is None:
        return None
    parser = botocore.parsers.create_parser(operation.service_model.protocol)
    raw = body.encode() if isinstance(body, str) else bytes(body or b"")
    parsed = parser.parse({"status_code": status, "headers": {str(k).lower(): str(v) for k, v in headers.items()},
                           "body": raw}, operation.output_shape)
    parsed.pop("ResponseMetadata", None)
    return as_recorded(parsed, operation.output_shape) or None


def _could_match(rule: Any, source: str) -> bool:
    """Whether a rule's pattern could match a CloudTrail event from `source`: False only where its detail-type or
    source field is a plain list without ours (anything subtler is left to EventBridge's matching)."""
    pattern = rule.event_pattern.get_pattern() or {}
    for key, ours in (("detail-type", CLOUDTRAIL_DETAIL_TYPE), ("source", source)):
        wanted = pattern.get(key)
        if isinstance(wanted, list) and all(isinstance(w, str) for w in wanted) and ours not in wanted:
            return False
    return True


def _known(account: str, region: str) -> bool:
    """Whether EventBridge has buses in `region` (a region botocore lists for it): an account not yet seen counts
    as known (no rule of it can listen anywhere)."""
    from moto.events.models import events_backends

    accounts = dict.get(events_backends, account)
    return accounts is None or region in accounts.regions


def _listened_elsewhere(account: str) -> bool:
    """Whether an enabled rule of another account than `account` listens on a default bus (in a region already
    used): only then is a write of `account` that no rule of its own receives worth a word."""
    from moto.events.models import events_backends

    for other, regions in list(dict.items(events_backends)):
        if other == account:
            continue
        for backend in list(dict.values(regions)):
            bus = backend.event_buses.get("default")
            if bus is not None and any(rule.state in RECEIVING for rule in list(bus.rules.values())):
                return True
    return False


def _listening(account: str, region: str, source: str) -> bool:
    """Whether an enabled rule on the default bus of the account and region could receive an event from
    `source`: otherwise nothing is built."""
    from moto.events.models import events_backends

    # dict.get, not the BackendDict's own lookup: that one takes moto's lock and compares itself with every service's
    # BackendDict on each call (to add an account the first time), on every request served; here the account exists.
    accounts = dict.get(events_backends, account)
    if accounts is None or region not in accounts.regions:
        return False
    bus = accounts[region].event_buses.get("default")
    return bus is not None and any(rule.state in RECEIVING and _could_match(rule, source)
                                   for rule in list(bus.rules.values()))


def event_detail(operation: Any, *, account: str, region: str, request: Any, uri_params: dict[str, Any],
                 status: int, headers: Any, body: Any) -> dict[str, Any]:
    """The CloudTrail record of one served write call (detail of the EventBridge event)."""
    service = operation.service_model
    detail: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "accountId": account,
                         "accessKeyId": _access_key(request.headers.get("Authorization", ""))},
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": f"{service.endpoint_prefix}.amazonaws.com",
        "eventName": operation.name,
        "awsRegion": region,
        "sourceIPAddress": request.remote_addr or "127.0.0.1",
        "userAgent": request.headers.get("User-Agent", ""),
        "requestParameters": None,
        "responseElements": None,
        "requestID": str(headers.get("x-amzn-RequestId") or headers.get("x-amz-request-id") or uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    try:
        detail["requestParameters"] = _request_parameters(operation, request, uri_params)
        detail["responseElements"] = _response_elements(operation, status, headers, body)
    except Exception as exc:  # noqa: BLE001 - a request moto served but we cannot describe is still recorded
        detail["additionalEventData"] = {"emulator": f"parameters not recorded: {type(exc).__name__}: {exc}"[:300]}
    for key in ("responseElements", "requestParameters"):
        if len(json.dumps(detail, default=str)) <= MAX_EVENT_BYTES:
            break
        detail[key] = None
    return detail


def _credential(authorization: str) -> list[str]:
    """The parts of a SigV4 Authorization header's credential scope: key id, date, region, service, terminator."""
    marker = "Credential="
    start = authorization.find(marker)
    return authorization[start + len(marker):].split(",", 1)[0].split("/") if start >= 0 else []


def _access_key(authorization: str) -> str:
    return (_credential(authorization) or [""])[0]


def _signed_for(authorization: str) -> str:
    parts = _credential(authorization)
    return parts[3] if len(parts) == 5 else ""


def record(response: Any, service_name: str, answer: Any) -> None:
    """After moto answered a request (`response`: its BaseResponse, set up with the request): put the CloudTrail
    event when the call was a write that succeeded and a rule could receive it, on the default bus of the region
    CloudTrail records it in (`recorded_region`). Never fails the request."""
    try:
        status, headers, body = answer
        if not 200 <= int(status) < 300:
            return
        from moto.core.routing import get_service_router

        request = response.normalized_request
        # The service the request was signed for names the event's source without loading the service's model
        # (a model is megabytes of JSON: EC2's took 0.2 s), which only a write a rule can receive needs.
        signed_for = _signed_for(request.headers.get("Authorization", ""))
        account = response.current_account
        if signed_for:
            # A region EventBridge has no bus in, or another account listening, is decided below, on the model.
            where = recorded_region(signed_for, response.region)
            if _known(account, where) and not _listening(account, where, f"aws.{signed_for}") and \
                    not _listened_elsewhere(account):
                return
        operation, uri_params = get_service_router(service_name).match(request)
        if not is_write(operation):
            return
        prefix = operation.service_model.endpoint_prefix
        source, region = f"aws.{prefix}", recorded_region(prefix, response.region)
        if not _known(account, region):
            # moto serves any region a request is signed for, and a global resource (an S3 bucket) is changed from
            # it; no bus there can receive its record: say so, as for a record that could not be built.
            raise LookupError(f"{operation.name} served for region {region!r}, which has no event bus")
        if not _listening(account, region, source):
            if _listened_elsewhere(account):
                # moto lets an account change another's resource by its name (an S3 bucket), and records the call
                # in the caller's account only, where no rule listens: whoever listens in another account would
                # not hear a change to its own resource. Say so.
                raise LookupError(f"{operation.name} served for account {account}, where no rule listens")
            return
        detail = event_detail(operation, account=response.current_account, region=region,
                              request=request, uri_params=uri_params, status=int(status), headers=headers, body=body)
        from moto.events.models import events_backends

        events_backends[response.current_account][region].put_events([{
            "Source": source, "DetailType": CLOUDTRAIL_DETAIL_TYPE, "Detail": json.dumps(detail, default=str)}])
        COUNTS.add()
    except Exception as exc:  # noqa: BLE001 - the call itself was served; the event is what failed
        COUNTS.add(failed=True)
        log.warning("emulator: no CloudTrail event for a %s call: %s: %s", service_name, type(exc).__name__, exc)


def install() -> None:
    """Record every served write (moto's BaseResponse.call_action, and S3's bucket-level entry, which does not go
    through it), and keep disabled rules silent. Idempotent."""
    from moto.core.responses import BaseResponse
    from moto.events.models import Rule
    from moto.events.utils import EventTemplateParser
    from moto.s3.responses import S3Response

    if getattr(BaseResponse, "_records_cloudtrail", False):
        return
    call_action = BaseResponse.call_action

    def recorded_call_action(self: Any) -> Any:
        answer = call_action(self)
        record(self, self.boto3_service_name, answer)
        return answer

    bucket_response = S3Response.bucket_response

    def recorded_bucket_response(self: Any, request: Any, full_url: str, headers: Any) -> Any:
        answer = bucket_response(self, request, full_url, headers)
        record(self, "s3", answer)
        return answer

    send_to_targets = Rule.send_to_targets

    def send_if_enabled(self: Any, *args: Any, **kwargs: Any) -> None:
        if self.state not in RECEIVING or not (self.event_pattern.get_pattern() or not self.scheduled_expression):
            return  # disabled, or a schedule's rule (it receives no events; moto's empty pattern matched all)
        try:
            send_to_targets(self, *args, **kwargs)
        except NotImplementedError as exc:  # a target moto cannot deliver to (a function): other rules still get it
            log.warning("emulator: rule %s did not deliver to a target: %s", self.name, exc)

    parse = EventTemplateParser.parse

    def delivered(input_template: Any, input_paths_map: Any, event: Any) -> Any:
        if input_template or input_paths_map:
            return parse(input_template, input_paths_map, event)
        return {key: copy.deepcopy(event[key]) for key in ENVELOPE if key in event}

    EventTemplateParser.parse = staticmethod(delivered)  # type: ignore[method-assign]
    BaseResponse.call_action = recorded_call_action  # type: ignore[method-assign]
    S3Response.bucket_response = recorded_bucket_response  # type: ignore[method-assign]
    Rule.send_to_targets = send_if_enabled  # type: ignore[method-assign]
    BaseResponse._records_cloudtrail = True  # type: ignore[attr-defined]
