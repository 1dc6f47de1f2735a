"""The fault harness (issue 12): every operation opscli calls, answered badly, never yields a verdict.

A local fault endpoint (a proxy on 127.0.0.1 in front of the session's emulator) forwards every request and,
for the one operation a run targets, replaces the answer: a 500, throttling, an HTML 200, an empty 200, a
truncated or garbled body, a connection reset, or no answer at all. Hypothesis then mutates real answers of
the emulator (a key dropped, a value of another type, the whole answer emptied) after botocore parsed them.

The property, for each run: the read and the judgement finish (no exception, the report can print), and every
resource whose reader asked the operation is ERROR with all its findings ERROR, or, where the fault did not
touch what the reader uses, exactly the picture an unfaulted read gives. Never a PASS or FAIL that rests on an
answer it could not fully read."""

from __future__ import annotations

import http.client
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import botocore.exceptions
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opscli import core, livestack, stackcheck, targets
from opscli.aws import Aws, new_session
from opscli.readers import READERS
from opscli.stack import StackScope
from platform_spec.contract import LOCAL_NOT_EMULATED
from platform_spec.result import Status

pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("faults")]  # its own deployment, on either worker

FAULT_HEADER = "x-streamtech-fault"
SCOPE_OPERATIONS = {"cloudformation:ListStackResources", "cloudformation:GetTemplate", "sts:GetCallerIdentity"}
KINDS = ("error500", "throttle", "html200", "empty200", "truncated", "garbage", "reset")


# --- the fault endpoint ----------------------------------------------------------------------------------------

class FaultProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.faulted: list[tuple[str, str]] = []  # (kind, path) of every answer replaced
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # noqa: D102 - quiet
        pass

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        kind = self.headers.get(FAULT_HEADER)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in (FAULT_HEADER, "connection")}
        if kind == "reset":
            return self._reset()
        if kind == "hang":
            time.sleep(5)
            return self._reset()
        upstream = http.client.HTTPConnection(self.server.upstream.hostname, self.server.upstream.port, timeout=30)
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        status, payload = answer.status, answer.read()
        content_type = answer.getheader("Content-Type", "application/xml")
        upstream.close()
        if kind:
            with self.server.lock:
                self.server.faulted.append((kind, self.path))
            status, content_type, payload = _fault(kind, status, content_type, payload)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)
        self.close_connection = True

    def _reset(self) -> None:
        with self.server.lock:
            self.server.faulted.append(("reset", self.path))
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward


def _fault(kind: str, status: int, content_type: str, payload: bytes) -> tuple[int, str, bytes]:
    json_answer = "json" in content_type
    if kind == "error500":
        return 500, content_type, b""
    if kind == "throttle":
        if json_answer:
            return 400, content_type, b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
        return 400, "text/xml", (b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                                 b"<Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>")
    if kind == "html200":
        return 200, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    if kind == "empty200":
        return 200, content_type, b""
    if kind == "truncated":
        return status, content_type, payload[: len(payload) // 2]
    if kind == "garbage":
        return 200, content_type, b"\x00\xff{<not an answer"
    wrapped = payload.lstrip().startswith(b"<?xml") and b"Response" in payload.split(b">", 2)[1]
    if kind == "foreign":  # well-formed, of its protocol, and another operation's (or a proxy's) document
        if json_answer:
            return 200, content_type, b'{"status": "ok", "checked": true}'
        if wrapped:
            return 200, content_type, (b"<OtherOperationResponse><OtherOperationResult><Status>ok</Status>"
                                       b"</OtherOperationResult></OtherOperationResponse>")
        return 200, content_type, b"<OtherConfiguration><Status>ok</Status></OtherConfiguration>"
    if kind == "error200":  # an error document, sent with 200
        if json_answer:
            return 200, content_type, b'{"__type": "AccessDeniedException", "message": "not authorized"}'
        if wrapped:
            return 200, content_type, (b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                                       b"<Message>not authorized</Message></Error><RequestId>r</RequestId>"
                                       b"</ErrorResponse>")
        return 200, content_type, b"<Error><Code>AccessDenied</Code><Message>not authorized</Message></Error>"
    if kind.startswith("boolean:"):  # every boolean member's true spelled TRUE (botocore reads it as false)
        for name in kind.split(":", 1)[1].split(","):
            payload = payload.replace(f"<{name}>true</{name}>".encode(), f"<{name}>TRUE</{name}>".encode())
        return status, content_type, payload
    raise AssertionError(kind)


@pytest.fixture(scope="module")
def proxy(local_deployment) -> Iterator[FaultProxy]:
    server = FaultProxy(local_deployment.endpoint)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# --- reads through it ------------------------------------------------------------------------------------------

class Harness:
    """Reads of the deployment through the proxy, with a fault (or a mutation) on one operation."""

    def __init__(self, deployment, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.session = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                                   region_name="ap-northeast-1")
        self.fault: tuple[str, str] | None = None  # (operation, kind)
        self.mutation = None  # (operation, fn(parsed) -> bool mutated)
        self.mutated = 0
        self._aws: Aws | None = None
        self.session.events.register("before-call.*.*", self._mark)
        self.session.events.register("after-call.*.*", self._mutate)
        aws = self.aws()
        self.target = targets.from_outputs(deployment.outputs_file)
        self.scope = core.stack_scope(aws, self.target)
        self.account = core.account_id(aws)
        self.scopes: dict[frozenset[str], tuple[StackScope, livestack.LiveStack]] = {}

    def aws(self) -> Aws:
        """One guarded access through the proxy for the module (its clients made once); no retries, so no
        backoff sleeps. Faults are marked per request by the session's hooks, not by the client."""
        if self._aws is None:
            self._aws = Aws(session=self.session, endpoint_url=self.proxy.endpoint, max_attempts=1)
        return self._aws

    def _mark(self, model, params, **_) -> None:
        if self.fault and f"{model.service_model.service_name}:{model.name}" == self.fault[0]:
            params["headers"][FAULT_HEADER] = self.fault[1]

    def _mutate(self, model, parsed, **_) -> None:
        if self.mutation and f"{model.service_model.service_name}:{model.name}" == self.mutation[0]:
            if self.mutation[1](parsed):
                self.mutated += 1

    def sub_scope(self, operation: str) -> StackScope:
        """The declared resources whose reader asks `operation`, plus those whose live attributes they need
        (found from the unfaulted read); every other resource stays in the scope, unread, for its id."""
        types = self._types(operation)
        if types not in self.scopes:
            wanted = {r.logical_id for r in self.scope.resources if r.type in types}
            for _ in range(4):
                scope = self._only(wanted)
                live = livestack.read_stack(self.aws(), scope, account=self.account, max_workers=4)
                needed = {lid for r in live.resources.values() if r.state == livestack.ReadState.ERROR
                          for lid in re.findall(r"could not look: (\w+)(?:\.\w+)? is not known", r.detail or "")}
                if needed <= wanted:
                    break
                wanted |= needed
            self.scopes[types] = (scope, live)
        return self.scopes[types][0]

    def _only(self, wanted: set[str]) -> StackScope:
        return StackScope(self.scope.stack_name, self.scope.template, tuple(
            r if r.logical_id in wanted else replace(r, status=LOCAL_NOT_EMULATED, reason="outside this fault run")
            for r in self.scope.resources), self.scope.source)

    def read(self, operation: str, *, deadline: float | None = None) -> livestack.LiveStack:
        return livestack.read_stack(self.aws(), self.sub_scope(operation), account=self.account, max_workers=4,
                                    deadline=deadline)

    def unfaulted(self, operation: str) -> livestack.LiveStack:
        self.fault = self.mutation = None
        self.sub_scope(operation)
        return self.scopes[self._types(operation)][1]

    @staticmethod
    def _types(operation: str) -> frozenset[str]:
        """The resource types whose reader asks `operation`. Operations of the same types (IAM's four for roles,
        say) share one unfaulted read: the deployment does not change under the harness, which only reads."""
        return frozenset(t for t, r in READERS.items() if operation in r.operations)


@pytest.fixture(scope="module")
def harness(local_deployment, proxy) -> Iterator[Harness]:
    """The harness, with a manual snapshot beside the database for the module: without a child to read, the
    readers never ask for one's attributes (DescribeDBSnapshotAttributes) and no fault of it would be applied."""
    from tests.conftest import manual_snapshot

    with manual_snapshot(local_deployment):
        yield Harness(local_deployment, proxy)


def reader_operations() -> list[str]:
    return sorted({op for r in READERS.values() for op in r.operations} - SCOPE_OPERATIONS)


def assert_no_verdict_without_evidence(before: livestack.LiveStack, after: livestack.LiveStack,
                                       why: str) -> list[str]:
    """Each resource read before the fault is ERROR after it (all findings ERROR), or unchanged. Returns the
    resources that turned ERROR."""
    findings = stackcheck.judge(after)  # must not raise
    stackcheck.drift(after)
    erred = []
    for lid, was in before.resources.items():
        if was.state != livestack.ReadState.READ:
            continue
        now = after.resources[lid]
        if now.state == livestack.ReadState.ERROR:
            assert now.detail.startswith("could not look"), (why, lid, now.detail)
            mine = [f for f in findings if f.resource.endswith(f" {lid}") or lid in f.resource]
            assert all(f.status is Status.ERROR for f in mine if f.rule_id and lid in f.resource), (why, lid)
            erred.append(lid)
        else:
            assert now.state == livestack.ReadState.READ and now.properties == was.properties and \
                now.facts == was.facts, (why, lid, now.state, now.detail)
    return erred


# --- every operation, every kind of broken answer ------------------------------------------------------------

def test_the_harness_covers_every_operation_in_the_iam_policy():
    """The operations the readers declare plus the scope's own are exactly the IAM policy's (and allowlist)."""
    from opscli.checks.collectors import SECRET

    declared = set(core.declared_operations())
    secrets = set(SECRET.operations) if hasattr(SECRET, "operations") else {
        "secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds"}
    assert set(reader_operations()) | SCOPE_OPERATIONS | secrets == declared


@pytest.mark.parametrize("operation", reader_operations())
def test_a_broken_answer_to_any_operation_is_error_never_a_verdict(harness, operation):
    before = harness.unfaulted(operation)
    assert any(r.state == livestack.ReadState.READ for r in before.resources.values()), \
        f"nothing of {operation} reads on the emulator: the fault would prove nothing"
    index = reader_operations().index(operation)
    for kind in (KINDS[index % len(KINDS)], KINDS[(index + 3) % len(KINDS)]):
        harness.fault, mark = (operation, kind), len(harness.proxy.faulted)
        try:
            after = harness.read(operation)
        finally:
            harness.fault = None
        hits = harness.proxy.faulted[mark:]
        assert hits, f"{operation} was never asked: the {kind} fault was not applied"
        erred = assert_no_verdict_without_evidence(before, after, f"{operation} {kind}")
        assert erred, f"{operation} answered with {kind}, yet every resource kept its verdict"


def _boolean_members(operation: str) -> set[str]:
    """The wire names of the boolean members anywhere in the operation's output (not strings that say true)."""
    import botocore.session

    service, name = operation.split(":")
    names, seen, todo = set(), set(), [botocore.session.get_session().get_service_model(service)
                                        .operation_model(name).output_shape]
    while todo:
        shape = todo.pop()
        if shape is None or shape.name in seen:
            continue
        seen.add(shape.name)
        if shape.type_name == "structure":
            for member_name, member in shape.members.items():
                if member.type_name == "boolean":
                    names.add(member.serialization.get("name", member_name))
                todo.append(member)
        elif shape.type_name == "list":
            todo.append(shape.member)
        elif shape.type_name == "map":
            todo.append(shape.value)
    return names


DOCUMENT_KINDS = ("foreign", "error200")


def _protocol(operation: str) -> str:
    import botocore.session

    service, name = operation.split(":")
    return botocore.session.get_session().get_service_model(service).protocol


@pytest.mark.parametrize("operation", reader_operations())
def test_a_document_that_is_not_the_answer_to_any_operation_is_error_never_a_verdict(harness, operation):
    """A well-formed document of the operation's protocol that is another operation's answer, or an error
    document sent with status 200: each is ERROR ("could not look"), for every operation opscli calls."""
    if _protocol(operation) == "smithy-rpc-v2-cbor":
        pytest.skip(f"{operation} answers in CBOR: its documents are binary (the garbage and truncated faults "
                    "of the test above cover it)")
    before = harness.unfaulted(operation)
    for kind in DOCUMENT_KINDS:
        harness.fault, mark = (operation, kind), len(harness.proxy.faulted)
        try:
            after = harness.read(operation)
        finally:
            harness.fault = None
        assert harness.proxy.faulted[mark:], f"{operation} was never asked: the {kind} fault was not applied"
        erred = assert_no_verdict_without_evidence(before, after, f"{operation} {kind}")
        assert erred, f"{operation} answered with a {kind} document, yet every resource kept its verdict"


def _answers_with_a_true_boolean(harness, operation: str, booleans: set[str]) -> bool:
    captured = []

    def keep(http_response, model, **_):
        if f"{model.service_model.service_name}:{model.name}" == operation:
            captured.append(http_response.content or b"")

    events = harness.aws().client(operation.split(":")[0]).meta.events  # the client exists: its own hooks
    events.register("after-call.*.*", keep)
    try:
        harness.read(operation)
    finally:
        events.unregister("after-call.*.*", keep)
    return any(f"<{name}>true</{name}>".encode() in body for body in captured for name in booleans)


@pytest.mark.parametrize("operation", [op for op in reader_operations()
                                       if _protocol(op) in ("query", "ec2", "rest-xml") and _boolean_members(op)])
def test_an_xml_boolean_spelled_true_in_capitals_is_error_never_false(harness, operation):
    """Every XML operation whose output has a boolean member: where the emulator's answer holds one that is
    true, that true spelled TRUE is ERROR for the resources that asked."""
    booleans = _boolean_members(operation)
    before = harness.unfaulted(operation)
    if not booleans or not _answers_with_a_true_boolean(harness, operation, booleans):
        pytest.skip(f"the emulator's answers to {operation} hold no boolean member that is true here")
    harness.fault = (operation, "boolean:" + ",".join(sorted(booleans)))
    try:
        after = harness.read(operation)
    finally:
        harness.fault = None
    erred = assert_no_verdict_without_evidence(before, after, f"{operation} boolean")
    assert erred, f"{operation} answered TRUE, yet every resource kept its verdict"


@pytest.mark.parametrize("attempts", [1, 2])
def test_max_attempts_counts_every_attempt_the_first_included(harness, attempts):
    """Aws(max_attempts=N) asks N times in all before a throttled answer is final (botocore's own
    "max_attempts" counts retries only: opscli asked once more than it said, with a backoff sleep)."""
    aws = Aws(session=harness.session, endpoint_url=harness.proxy.endpoint, max_attempts=attempts)
    harness.fault, mark = ("sts:GetCallerIdentity", "throttle"), len(harness.proxy.faulted)
    try:
        with pytest.raises(botocore.exceptions.ClientError, match="Throttling"):
            aws.client("sts").get_caller_identity()
    finally:
        harness.fault = None
    assert len(harness.proxy.faulted) - mark == attempts


@pytest.mark.parametrize("operation", ["rds:DescribeDBInstances", "ecs:DescribeServices", "s3:GetBucketPolicy"])
def test_an_operation_that_never_answers_is_error_at_the_deadline(harness, operation):
    before = harness.unfaulted(operation)
    harness.fault = (operation, "hang")
    try:
        after = harness.read(operation, deadline=time.monotonic() + 1.0)
    finally:
        harness.fault = None
    assert after.incomplete == "timeout"
    assert assert_no_verdict_without_evidence(before, after, f"{operation} hang")


@pytest.mark.parametrize("operation, kind", [("cloudformation:ListStackResources", "html200"),
                                             ("cloudformation:GetTemplate", "truncated"),
                                             ("sts:GetCallerIdentity", "empty200")])
def test_a_broken_scope_answer_is_one_error_and_a_printed_report(harness, operation, kind):
    harness.fault = (operation, kind)
    try:
        report = core.audit(harness.aws(), harness.target)
    except Exception as exc:  # noqa: BLE001 - the CLI turns an OpsError into exit 3 with one line
        from opscli.errors import OpsError
        assert isinstance(exc, OpsError) and operation.split(":")[1] in str(exc), exc
        return
    finally:
        harness.fault = None
    assert report.findings and {f.status for f in report.findings} == {Status.ERROR}


# --- hypothesis: real answers, mutated after parsing ---------------------------------------------------------

def _paths(value, prefix=()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, sub in value.items():
            if key != "ResponseMetadata":
                out += _paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for n, sub in enumerate(value[:3]):
            out += _paths(sub, (*prefix, n))
    return out


def _retyped(value):
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return {"value": value}
    if isinstance(value, list):
        return {"items": value}
    if isinstance(value, dict):
        return [value]
    return 0


def mutation(kind: str, pick: int):
    def apply(parsed: dict) -> bool:
        if kind == "emptied":
            parsed_keys = [k for k in parsed if k != "ResponseMetadata"]
            for key in parsed_keys:
                del parsed[key]
            return bool(parsed_keys)
        paths = _paths(parsed)
        if not paths:
            return False
        path = paths[pick % len(paths)]
        holder = parsed
        for step in path[:-1]:
            holder = holder[step]
        if kind == "dropped" and isinstance(holder, dict):
            del holder[path[-1]]
            return True
        if kind == "retyped":
            holder[path[-1]] = _retyped(holder[path[-1]])
            return True
        return False
    return apply


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(operation=st.sampled_from(reader_operations()), kind=st.sampled_from(["retyped", "dropped", "emptied"]),
       pick=st.integers(min_value=0, max_value=10_000))
def test_mutated_real_answers_never_make_a_verdict_from_what_could_not_be_read(harness, operation, kind, pick):
    before = harness.unfaulted(operation)
    harness.mutation, harness.mutated = (operation, mutation(kind, pick)), 0
    try:
        after = harness.read(operation)
    finally:
        harness.mutation = None
    if not harness.mutated:
        return  # the operation was not asked, or its answer had nothing to mutate: nothing to judge
    findings = stackcheck.judge(after)  # never raises, whatever the answer held
    stackcheck.drift(after)
    assert all(r.state in vars(livestack.ReadState).values() for r in after.resources.values())
    if kind in ("dropped", "emptied"):
        # A key may be legitimately absent (an unset optional setting, no tags, no policy, versioning never
        # enabled): that the read and the judgement finish is the property; the keys AWS always returns are
        # proven ERROR by the readers' own tests.
        return
    for lid, was in before.resources.items():
        now = after.resources[lid]
        if was.state == livestack.ReadState.READ and now.state == livestack.ReadState.READ:
            assert now.properties == was.properties and now.facts == was.facts, \
                (operation, kind, pick, lid, "a changed picture from an answer that could not be fully read")
    assert findings is not None


# --- the cases of the issue, against real answers -------------------------------------------------------------

def _edit(operation: str, edit):
    def apply(parsed: dict) -> bool:
        edit(parsed)
        return True
    return (operation, apply)


@pytest.mark.parametrize("operation, edit, resource_type, said", [
    # Issue 12: an answer without networkConfiguration made ecs.service PASS.
    ("ecs:DescribeServices", lambda p: [s.pop("networkConfiguration", None) for s in p["services"]],
     "AWS::ECS::Service", "networkConfiguration"),
    # Issue 12: a RedrivePolicy that is not JSON aborted the whole audit with "internal error".
    ("sqs:GetQueueAttributes", lambda p: p["Attributes"].__setitem__("RedrivePolicy", "{not json")
     if "RedrivePolicy" in p.get("Attributes", {}) else None, "AWS::SQS::Queue", "RedrivePolicy"),
])
def test_real_answers_missing_or_garbling_a_judged_field_are_error(harness, operation, edit, resource_type, said):
    before = harness.unfaulted(operation)
    harness.mutation, harness.mutated = _edit(operation, edit), 0
    try:
        after = harness.read(operation)
    finally:
        harness.mutation = None
    assert harness.mutated
    judged = [lid for lid, r in before.resources.items()
              if r.state == livestack.ReadState.READ and r.declared.type == resource_type]
    if resource_type == "AWS::SQS::Queue":  # only the intake queue has a redrive policy (its DLQ has none)
        judged = [lid for lid in judged if (before.resources[lid].properties or {}).get("RedrivePolicy")]
    assert judged
    for lid in judged:
        assert after.resources[lid].state == livestack.ReadState.ERROR and said in after.resources[lid].detail, \
            (lid, after.resources[lid].state, after.resources[lid].detail)
    findings = [f for f in stackcheck.judge(after) if any(lid in f.resource for lid in judged)]
    assert findings and {f.status for f in findings} == {Status.ERROR}


@pytest.mark.parametrize("operation", ["secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds"])
@pytest.mark.parametrize("kind", ["html200", "empty200", "truncated", "error500"])
def test_rotate_check_on_a_broken_secrets_answer_is_error_never_pass_or_fail(harness, operation, kind):
    """Issue 12: an HTML or empty 200 made rotate-check report 12 FAIL ("never rotated") and 3 PASS."""
    harness.fault, mark = (operation, kind), len(harness.proxy.faulted)
    try:
        report = core.rotate_secrets(harness.aws(), harness.target)
    finally:
        harness.fault = None
    assert harness.proxy.faulted[mark:], f"{operation} was never asked"
    assert report.findings and all(f.status is Status.ERROR for f in report.findings if f.check_id == "secret.pending")
    # Rotation on/off and its age come from DescribeSecret alone: with only the versions broken, those two may
    # keep their verdict; nothing else may.
    decided_without = {"secret.rotation_enabled", "secret.rotation_age"} if operation.endswith("VersionIds") else set()
    assert {f.check_id for f in report.findings if f.status is not Status.ERROR} <= decided_without, \
        sorted({(f.check_id, f.status.value, f.reason[:60]) for f in report.findings})
