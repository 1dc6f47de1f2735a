"""The fault harness (issue 12): every operation opscli calls, answered badly, never yields a verdict.

A local fault endpoint (a proxy on 127.0.0.1 in front of the session's emulator) answers every request with the
emulator's answer and, for the one operation a run targets, replaces it: a 500, throttling, an HTML 200, an empty
200, a truncated or garbled body, a connection reset, or no answer at all. Each request is asked of the emulator
once (a real read of the real deployment) and its answer recorded; the proxy's answers are then made in process
and handed to botocore in its before-send event (the same status, headers and bytes, through botocore's parser,
retry handler and opscli's answer check), except a reset and a hang, which the proxy does on the network.
test_an_answer_made_in_process_is_the_one_the_proxy_sends_on_the_network holds the two ways to the same picture.
Hypothesis then mutates real answers of the emulator (a key dropped, a value of another type, the whole answer
emptied) after botocore parsed them.

Answers misshapen in AWS's own terms are written on the wire too, by the operation's model: each boolean member
repeated with the other value (or, without one, the first scalar member repeated with another), each enumerated
value in another case, the list of a describe by id emptied, a page token that leads around in a circle, a JSON
boolean spelled 1 or 0, a boolean carried in a string spelled TRUE. And AWS's text holding what a terminal acts on
(a tag value, an error's code and message), written into real answers: `opscli drift --verbose` shows each as
its escape, and where the protocol or the model leaves no room for such a character, the resource is ERROR.

The property, for each run: the read and the judgement finish (no exception, the report can print), and every
resource whose reader asked the operation is ERROR with all its findings ERROR, or, where the fault did not
touch what the reader uses, exactly the picture an unfaulted read gives. Never a PASS or FAIL that rests on an
answer it could not fully read."""

from __future__ import annotations

import contextlib
import copy
import functools
import http.client
import io
import json
import re
import socket
import struct
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import botocore.exceptions
import pytest
from botocore.awsrequest import AWSResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opscli import core, livestack, stackcheck, targets
from opscli.aws import Aws, models, new_session
from opscli.operations import ACCOUNT_OPERATIONS
from opscli.readers import READERS
from opscli.sanitize import is_visible
from opscli.stack import StackScope
from platform_spec.contract import LOCAL_NOT_EMULATED
from platform_spec.result import Status
from platform_spec.rules import stk_perim
from tests.library_tracing import untraced
from tests.opscli.test_hostile_text import HOSTILE, assert_shown_not_acted_on

pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("faults")]  # its own deployment, on either worker

FAULT_HEADER = "x-streamtech-fault"
OPERATION_HEADER = "x-streamtech-operation"  # the faulted operation, for the faults written by its model
SCOPE_OPERATIONS = {"cloudformation:ListStackResources", "cloudformation:GetTemplate", "sts:GetCallerIdentity"}
KINDS = ("error500", "throttle", "html200", "empty200", "truncated", "garbage", "reset")


# --- the fault endpoint ----------------------------------------------------------------------------------------

# The faults whose point is the network itself: the faulted request goes on the wire to the proxy, which resets
# the connection (at once, or after holding it past the read's deadline). Every other answer, faulted or not, is
# made in process by the same code the proxy runs (FaultProxy.answer) and handed to botocore in its before-send
# event: the same status, headers and bytes the proxy would have sent, through botocore's real parser, retry
# handler and opscli's answer check.
WIRE_KINDS = ("reset", "hang")
# Request headers that differ between two asks of the same thing (signature, time, ids) or that the emulator
# does not read (the fault's own): left out of a recorded answer's key.
UNKEYED = frozenset({"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256",
                     "amz-sdk-invocation-id", "amz-sdk-request", "user-agent", "host", "connection",
                     "content-length", "accept-encoding", "expect", FAULT_HEADER, OPERATION_HEADER})


class Recording:
    """The deployment's answers: each request asked of the emulator once, for real, and its answer given again
    from memory to the same request after. The harness only reads, and nothing changes the deployment under it
    (its fixture makes its children first), so the same request has the same answer."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.answers: dict[tuple, tuple[int, str, bytes]] = {}
        self.asked = 0  # requests that reached the emulator
        self.replayed = 0  # requests answered from memory
        self.lock = threading.Lock()

    def answer(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
        # The access key (the emulator's account follows from it), and the service and region the request is signed
        # for (its credential scope: how the emulator tells two services' requests to the same path apart) are part
        # of the key, though the signature is not.
        scope = re.search(r"Credential=([^/,]*)/\d{8}/([^/,]+/[^/,]+)/", _header(headers, "authorization") or "")
        key = (method, path, body, scope and scope.groups(),
               frozenset((k.lower(), v) for k, v in headers.items() if k.lower() not in UNKEYED))
        with self.lock:
            found = self.answers.get(key)
            self.replayed += found is not None
        if found is None:
            found = self._ask(method, path, body, headers)
            with self.lock:
                self.asked += 1
                if found[0] < 500:  # an error of the emulator itself is asked again next time
                    self.answers.setdefault(key, found)
        return found

    def _ask(self, method: str, path: str, body: bytes, headers: dict) -> tuple[int, str, bytes]:
        """The emulator's answer, on a connection of its own (only a request not seen before is asked)."""
        sent = {k: v for k, v in headers.items()
                if k.lower() not in (FAULT_HEADER, OPERATION_HEADER, "connection", "content-length")}
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers={**sent, "Content-Length": str(len(body))})
            answer = connection.getresponse()
            return answer.status, answer.getheader("Content-Type", "application/xml"), answer.read()
        finally:
            connection.close()


class FaultProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        self.recording = Recording(upstream)
        self.faulted: list[tuple[str, str]] = []  # (kind, path) of every answer replaced
        self.rewritten: list[str] = []  # the kind of every answer a model-written fault changed
        self.followed = 0  # requests that sent a circling page token back
        self.circled = 0  # answers given a circling page token (bounded: see LOOP_BOUND)
        self.started = 0  # first pages given one: each starts a circle
        self.wire = 0  # requests that came over the network
        self.hang_seconds = 5.0  # how long a hung request waits before its connection is reset
        self.hung = 0  # hung requests whose connection has been reset
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """A request's thread runs none of our code (the forwarding, the faults and the rewrites are this module's
        and the standard library's): coverage's tracer is paused in it, as in the library hot paths
        (tests/library_tracing.py)."""
        untraced(super().process_request_thread)(request, client_address)

    def answer(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
        """The answer to one request (the deployment's, recorded), replaced or rewritten where it carries a fault
        other than the network's: what the proxy sends, and what the harness hands botocore in process."""
        kind = _header(headers, FAULT_HEADER)
        operation = _header(headers, OPERATION_HEADER) or ""
        asked, original = None, path
        if kind == "pageloop":
            path, body, asked = _without_loop_token(path, body)
            if asked:
                with self.lock:
                    self.followed += 1
        status, content_type, payload = self.recording.answer(method, path, body, headers)
        if kind:
            with self.lock:
                self.faulted.append((kind, original))
            if kind in MODEL_KINDS:
                with self.lock:
                    self.circled += kind == "pageloop"
                    circling = self.circled <= LOOP_BOUND
                changed = _misshapen(kind, operation, payload, asked, circling) if status == 200 else None
                if changed is not None:
                    payload = changed
                    with self.lock:
                        self.rewritten.append(kind)
                        self.started += kind == "pageloop" and not asked and circling
            else:
                status, content_type, payload = _fault(kind, status, content_type, payload)
        return status, content_type, payload


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


class _Handler(BaseHTTPRequestHandler):
    """One client connection, kept as long as the client keeps it (HTTP/1.1)."""

    server: FaultProxy
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # an answer's head and body are two writes: neither waits for an ACK

    def log_message(self, *args) -> None:
        pass

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        kind = self.headers.get(FAULT_HEADER)
        with self.server.lock:
            self.server.wire += 1
            # Counted as it comes, with the request: a hang's reset comes seconds later, when the client that gave
            # up on it is long gone and another test counts the faults it asked for.
            if kind in WIRE_KINDS:
                self.server.faulted.append((kind, self.path))
        if kind == "reset":
            return self._reset()
        if kind == "hang":
            time.sleep(self.server.hang_seconds)
            self._reset()
            with self.server.lock:
                self.server.hung += 1
            return None
        status, content_type, payload = self.server.answer(self.command, self.path, body, dict(self.headers.items()))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward


class _Body(io.BytesIO):
    """An answer's body held in memory, read as botocore reads urllib3's (its `stream`)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


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


# --- faults written by the operation's model -------------------------------------------------------------------

MODEL_KINDS = ("twice", "enumcase", "emptied", "pageloop", "one", "truecase")
LOOP_TOKENS = ("streamtech-loop-1", "streamtech-loop-2")
LOOP_BOUND = 64  # circling answers per run at most: a reader that never noticed the circle would never end

# The describes opscli asks by id: the parameter that names the id, the list that answers. AWS answers a
# not-found error for an id that does not exist, so an empty list is no answer and its reader must say ERROR.
# A describe by filter, under a parent or by name prefix (DescribeSubnets, DescribeMountTargets, DescribeFlowLogs,
# DescribeScalableTargets, DescribeAlarms, DescribeLogGroups answer an empty list for what does not exist) is not
# one: there an empty list says "not there".
BY_ID = {
    "ec2:DescribeAddresses": ("PublicIps", "Addresses"),
    "ec2:DescribeInternetGateways": ("InternetGatewayIds", "InternetGateways"),
    "ec2:DescribeNatGateways": ("NatGatewayIds", "NatGateways"),
    "ec2:DescribeVpcs": ("VpcIds", "Vpcs"),
    "ecs:DescribeClusters": ("clusters", "clusters"),  # a missing one under failures (MISSING), not an empty list
    "ecs:DescribeServices": ("services", "services"),
    "efs:DescribeAccessPoints": ("AccessPointId", "AccessPoints"),
    "efs:DescribeFileSystems": ("FileSystemId", "FileSystems"),
    "efs:DescribeReplicationConfigurations": ("FileSystemId", "Replications"),
    "elasticache:DescribeCacheSubnetGroups": ("CacheSubnetGroupName", "CacheSubnetGroups"),
    "elasticache:DescribeReplicationGroups": ("ReplicationGroupId", "ReplicationGroups"),
    "elbv2:DescribeListeners": ("ListenerArns", "Listeners"),
    "elbv2:DescribeLoadBalancers": ("LoadBalancerArns", "LoadBalancers"),
    "elbv2:DescribeTags": ("ResourceArns", "TagDescriptions"),
    "elbv2:DescribeTargetGroups": ("TargetGroupArns", "TargetGroups"),
    "rds:DescribeDBInstances": ("DBInstanceIdentifier", "DBInstances"),
    "rds:DescribeDBParameterGroups": ("DBParameterGroupName", "DBParameterGroups"),
    "rds:DescribeDBSubnetGroups": ("DBSubnetGroupName", "DBSubnetGroups"),
}

# Pages opscli follows by hand, where botocore has no paginator.
HAND_PAGING = {
    "wafv2:ListTagsForResource": {"input_token": "NextMarker", "output_token": "NextMarker",
                                  "result_key": "TagInfoForResource.TagList"},
    "secretsmanager:ListSecretVersionIds": {"input_token": "NextToken", "output_token": "NextToken",
                                            "result_key": "Versions"},
}


@functools.cache
def _model(operation: str) -> Any:
    service, name = operation.split(":")
    return models().get_service_model(service).operation_model(name)


@functools.cache
def _paging(operation: str) -> dict | None:
    """botocore's paginator entry for the operation (or the hand-paged one's), or None: it does not page. Looked up
    once per operation (models() makes a session per call); callers only read it."""
    if operation in HAND_PAGING:
        return HAND_PAGING[operation]
    service, name = operation.split(":")
    try:
        return models().get_paginator_model(service).get_paginator(name)
    except ValueError:
        return None


def _first(value: str | list[str]) -> str:
    return value[0] if isinstance(value, list) else value


def _body_shape(model: Any) -> Any:
    output = model.output_shape
    payload = output.serialization.get("payload") if output is not None else None
    return output.members[payload] if payload else output


def _reachable(shape: Any) -> Iterator[Any]:
    """Every shape inside `shape`, itself included, each once."""
    seen, todo = set(), [shape]
    while todo:
        shape = todo.pop()
        if shape is None or shape.name in seen:
            continue
        seen.add(shape.name)
        yield shape
        if shape.type_name == "structure":
            todo += [m for m in shape.members.values() if not m.serialization.get("location")]
        elif shape.type_name == "list":
            todo.append(shape.member)
        elif shape.type_name == "map":
            todo.append(shape.value)


def _wire(member: Any, name: str, protocol: str) -> str:
    """A member's element or key name on the wire."""
    if protocol == "ec2":
        return member.serialization.get("name") or name[:1].lower() + name[1:]
    return member.serialization.get("name", name)


class _Pairs(list):
    """A JSON object as its (key, value) pairs in order, so that a key can be written twice."""


def _dump(value: Any) -> str:
    if isinstance(value, _Pairs):
        return "{" + ", ".join(f"{json.dumps(k)}: {_dump(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_dump(v) for v in value) + "]"
    return json.dumps(value)


def _json_positions(value: Any, shape: Any) -> Iterator[tuple[list, int, Any, bool]]:
    """(holder, index, shape, is a structure's member) of every value inside a JSON document read as `shape`, in
    document order, containers before what they hold; a holder is a _Pairs (whose item is a pair) or a list."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, _Pairs) and not shape.metadata.get("document"):
        members = {_wire(m, n, "json"): m for n, m in shape.members.items() if not m.serialization.get("location")}
        items = [(index, members[key], item, True) for index, (key, item) in enumerate(value) if key in members]
    elif kind == "list" and isinstance(value, list):
        items = [(index, shape.member, item, False) for index, item in enumerate(value)]
    elif kind == "map" and isinstance(value, _Pairs):
        items = [(index, shape.value, item, False) for index, (_, item) in enumerate(value)]
    else:
        return
    for index, inner, item, member in items:
        yield value, index, inner, member
        yield from _json_positions(item, inner)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_positions(element: Any, shape: Any, protocol: str) -> Iterator[tuple[Any, Any, Any, bool]]:
    """(parent, element, shape, is a structure's member) of every element inside `element` read as `shape`, in
    document order, containers before what they hold (a flattened list's items are not members: they repeat)."""
    kind = shape.type_name
    children: list[tuple[Any, Any, bool]] = []
    if kind == "structure":
        members = {_wire(m, n, protocol): m for n, m in shape.members.items() if not m.serialization.get("location")}
        for child in element:
            found = members.get(_local(child.tag))
            if found is None:
                continue
            if found.type_name == "list" and found.serialization.get("flattened"):
                children.append((child, found.member, False))
            elif found.type_name == "map" and found.serialization.get("flattened"):
                children += [(part, found.value, False) for part in _values([child], found)]
            else:
                children.append((child, found, True))
    elif kind == "list":
        children = [(child, shape.member, False) for child in element]
    elif kind == "map":
        children = [(part, shape.value, False) for part in _values(list(element), shape)]
    for child, inner, member in children:
        yield _parent(element, child), child, inner, member
        yield from _xml_positions(child, inner, protocol)


def _values(entries: list, shape: Any) -> list:
    value_name = shape.value.serialization.get("name") or "value"
    return [part for entry in entries for part in entry if _local(part.tag) == value_name]


def _parent(element: Any, child: Any) -> Any:
    return element if any(c is child for c in element) else next(e for e in element if any(c is child for c in e))


def _other(value: Any) -> Any:
    """Another value of the same kind: the other boolean, another number or string."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if value in ("true", "false"):
        return "false" if value == "true" else "true"
    if isinstance(value, str) and value.isdigit():
        return str(int(value) + 1)
    return f"{value}x" if isinstance(value, str) else value


def _other_case(value: str) -> str:
    return value.upper() if value != value.upper() else value.lower()


def _misshapen(kind: str, operation: str, payload: bytes, asked: str | None, circling: bool = True) -> bytes | None:
    """The operation's answer rewritten by `kind`, or None where the fault changes nothing in it (nothing of
    what it rewrites is there, the answer is not of the operation's protocol, its body is a raw payload)."""
    model = _model(operation)
    protocol, shape = model.service_model.resolved_protocol, _body_shape(model)
    if shape is None or shape.type_name != "structure":
        return None
    if protocol in ("json", "rest-json"):
        try:
            document = json.loads(payload, object_pairs_hook=_Pairs)
        except ValueError:
            return None
        if not isinstance(document, _Pairs) or not _rewrite_json(kind, operation, document, shape, asked, circling):
            return None
        return _dump(document).encode()
    try:
        root = ElementTree.fromstring(payload)
    except ElementTree.ParseError:
        return None
    node = root
    if protocol == "query":
        node = next((c for c in root if _local(c.tag) == shape.serialization.get("resultWrapper")), None)
        if node is None:
            return None
    if not _rewrite_xml(kind, operation, node, shape, protocol, asked, circling):
        return None
    namespace = root.tag[1:root.tag.index("}")] if root.tag.startswith("{") else None
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=namespace)


def _next_token(asked: str | None, circling: bool) -> str | None:
    """The circle: no token, then 1, 2, 1, 2 ... (never the same twice in a row: botocore's own check)."""
    if not circling:
        return None
    return LOOP_TOKENS[1] if asked == LOOP_TOKENS[0] else LOOP_TOKENS[0]


def _result_keys(paging: dict) -> list[str]:
    keys = paging["result_key"]
    return keys if isinstance(keys, list) else [keys]


def _rewrite_json(kind: str, operation: str, document: _Pairs, shape: Any, asked: str | None,
                  circling: bool) -> int:
    """Rewrites the document in place; the number of values it changed (or added)."""
    positions = list(_json_positions(document, shape))

    def value(holder: list, index: int) -> Any:
        return holder[index][1] if isinstance(holder, _Pairs) else holder[index]

    def put(holder: list, index: int, new: Any) -> None:
        holder[index] = (holder[index][0], new) if isinstance(holder, _Pairs) else new

    changes = 0
    if kind == "twice":
        members = [(h, i, s) for h, i, s, member in positions if member]
        for holder, index, _ in reversed([m for m in members if m[2].type_name == "boolean"] or members[:1]):
            holder.insert(index + 1, (holder[index][0], _other(holder[index][1])))
            changes += 1
    elif kind in ("enumcase", "one", "truecase"):
        for holder, index, scalar, _ in positions:
            old = value(holder, index)
            if kind == "enumcase" and scalar.type_name == "string" and old in scalar.enum:
                new = _other_case(old)
            elif kind == "one" and scalar.type_name == "boolean" and isinstance(old, bool):
                new = int(old)
            elif kind == "truecase" and scalar.type_name == "string" and old in ("true", "false"):
                new = old.upper()
            else:
                continue
            if new != old or type(new) is not type(old):
                put(holder, index, new)
                changes += 1
    elif kind == "emptied":
        name = BY_ID[operation][1]
        for index, (key, items) in enumerate(document):
            if key == _wire(shape.members[name], name, "json") and items:
                document[index], changes = (key, []), changes + 1
    elif kind == "pageloop":
        paging = _paging(operation)
        if asked:
            for path in _result_keys(paging):
                *up, last = path.split(".")
                holder = document
                for step in up:
                    holder = next((v for k, v in holder if k == step), _Pairs())
                for index, (key, _) in enumerate(holder):
                    if key == last:
                        holder[index] = (key, [])
        token = _first(paging["output_token"])
        document[:] = [(k, v) for k, v in document if k not in (token, paging.get("more_results"))]
        following = _next_token(asked, circling)
        if following:
            document.append((token, following))
            if "more_results" in paging:
                document.append((paging["more_results"], True))
        changes = 1
    return changes


def _rewrite_xml(kind: str, operation: str, node: Any, shape: Any, protocol: str, asked: str | None,
                 circling: bool) -> int:
    """Rewrites the XML answer in place; the number of values it changed (or added)."""
    positions = list(_xml_positions(node, shape, protocol))
    changes = 0
    if kind == "twice":
        members = [(p, e, s) for p, e, s, member in positions if member]
        for parent, element, _ in reversed([m for m in members if m[2].type_name == "boolean"] or members[:1]):
            twin = copy.deepcopy(element)
            if not len(element):
                twin.text = _other(element.text or "")
            parent.insert(list(parent).index(element) + 1, twin)
            changes += 1
    elif kind in ("enumcase", "truecase"):
        for _, element, scalar, _ in positions:
            old = element.text
            if kind == "enumcase" and scalar.type_name == "string" and old in scalar.enum:
                new = _other_case(old)
            elif kind == "truecase" and scalar.type_name == "string" and old in ("true", "false"):
                new = old.upper()
            else:
                continue
            if new != old:
                element.text, changes = new, changes + 1
    elif kind == "emptied":
        name = BY_ID[operation][1]
        for child in node:
            if _local(child.tag) == _wire(shape.members[name], name, protocol) and len(child):
                for item in list(child):
                    child.remove(item)
                changes += 1
    elif kind == "pageloop":
        paging = _paging(operation)
        if asked:
            for key in _result_keys(paging):
                for child in node:
                    if _local(child.tag) == _wire(shape.members[key], key, protocol):
                        for item in list(child):
                            child.remove(item)
        namespace = node.tag[:node.tag.index("}") + 1] if node.tag.startswith("{") else ""
        flags = [_first(paging["output_token"])] + ([paging["more_results"]] if "more_results" in paging else [])
        names = {_wire(shape.members[flag], flag, protocol): flag for flag in flags}
        for child in list(node):
            if _local(child.tag) in names:
                node.remove(child)
        following = _next_token(asked, circling)
        if following:
            for name, flag in names.items():
                ElementTree.SubElement(node, f"{namespace}{name}").text = \
                    following if flag == flags[0] else "true"
        changes = 1
    return changes


def _without_loop_token(path: str, body: bytes) -> tuple[str, bytes, str | None]:
    """The request without the circling token it sends back (the emulator would refuse a token not its own),
    and that token: in a JSON body, a form body or the query string."""
    asked = None
    split = urllib.parse.urlsplit(path)
    pairs = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
    if any(v in LOOP_TOKENS for _, v in pairs):
        asked = next(v for _, v in pairs if v in LOOP_TOKENS)
        path = urllib.parse.urlunsplit(split._replace(query=urllib.parse.urlencode(
            [(k, v) for k, v in pairs if v not in LOOP_TOKENS])))
    if body.strip().startswith(b"{"):
        document = json.loads(body)
        for key, value in list(document.items()):
            if value in LOOP_TOKENS:
                asked = document.pop(key)
        body = json.dumps(document).encode() if asked else body
    elif any(token.encode() in body for token in LOOP_TOKENS):
        form = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
        asked = next(v for _, v in form if v in LOOP_TOKENS)
        body = urllib.parse.urlencode([(k, v) for k, v in form if v not in LOOP_TOKENS]).encode()
    return path, body, asked


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
        # operation -> fn(status, content type, body) -> its answer, rewritten in process as AWS could send it
        self.rewrites: dict[str, Callable[[int, str, bytes], tuple[int, str, bytes]]] = {}
        self.mutated = 0
        self.requests: list[dict] = []  # the parameters of every request of the faulted operation
        self.on_the_wire = False  # every request through the proxy on the network, none answered in process
        self._aws: Aws | None = None
        self.session.events.register("before-parameter-build.*.*", self._keep_request)
        self.session.events.register("before-call.*.*", self._mark)
        self.session.events.register("after-call.*.*", self._mutate)
        self.session.events.register("before-send.*.*", self._answer_in_process)
        aws = self.aws()
        self.target = targets.from_outputs(deployment.outputs_file)
        self.outputs_file = deployment.outputs_file
        self.scope = core.stack_scope(aws, self.target)
        self.account = core.account_id(aws)
        self.scopes: dict[frozenset[str], tuple[StackScope, frozenset[str], livestack.LiveStack]] = {}

    def aws(self) -> Aws:
        """One guarded access through the proxy for the module (its clients made once); no retries, so no
        backoff sleeps. Faults are marked per request by the session's hooks, not by the client."""
        if self._aws is None:
            self._aws = Aws(session=self.session, endpoint_url=self.proxy.endpoint, max_attempts=1)
        return self._aws

    def cli_aws(self, **_options: Any) -> Aws:
        """What `opscli.cli` builds from its options, answered as the harness answers (the recording, with the
        faults and rewrites set): a session of its own, so the CLI's hooks never replace the harness's."""
        session = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                              region_name="ap-northeast-1")
        session.events.register("before-call.*.*", self._mark)
        session.events.register("before-send.*.*", self._answer_in_process)
        return Aws(session=session, endpoint_url=self.proxy.endpoint, max_attempts=1)

    def _mark(self, model, params, **_) -> None:
        operation = f"{model.service_model.service_name}:{model.name}"
        if self.fault and operation == self.fault[0]:
            params["headers"][FAULT_HEADER] = self.fault[1]
            params["headers"][OPERATION_HEADER] = self.fault[0]
        elif operation in self.rewrites:
            params["headers"][OPERATION_HEADER] = operation

    @untraced  # this module's code and botocore's only: none of ours runs inside
    def _answer_in_process(self, request, **_) -> AWSResponse | None:
        """The answer the proxy would send to `request`, made here and handed to botocore as its HTTP response;
        None (botocore sends it to the proxy) for a fault whose point is the network (WIRE_KINDS)."""
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        if self.on_the_wire or _header(headers, FAULT_HEADER) in WIRE_KINDS:
            return None
        split = urlsplit(request.url)
        path = (split.path or "/") + (f"?{split.query}" if split.query else "")
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        body = body.encode() if isinstance(body, str) else body or b""
        status, content_type, payload = self.proxy.answer(request.method, path, body, headers)
        rewrite = self.rewrites.get(_header(headers, OPERATION_HEADER) or "")
        if rewrite is not None and not _header(headers, FAULT_HEADER):
            status, content_type, payload = rewrite(status, content_type, payload)
        return AWSResponse(request.url, status, {"Content-Type": content_type, "Content-Length": str(len(payload))},
                           _Body(b"" if request.method == "HEAD" else payload))

    def _keep_request(self, model, params, **_) -> None:
        if self.fault and f"{model.service_model.service_name}:{model.name}" == self.fault[0]:
            self.requests.append(dict(params))

    def _mutate(self, model, parsed, **_) -> None:
        if (self.mutation and f"{model.service_model.service_name}:{model.name}" == self.mutation[0]
                and self.mutation[1](parsed)):
                self.mutated += 1

    def sub_scope(self, operation: str) -> tuple[StackScope, frozenset[str]]:
        """The declared resources whose reader asks `operation`, plus those whose live attributes they need
        (found from the unfaulted read): the scope, where every other resource is left unread (its id still
        resolves), and the logical ids a read of it reads (read_stack's `only`: the others are not in its picture,
        as no reader of theirs would have asked the faulted operation)."""
        types = self._types(operation)
        if types not in self.scopes:
            wanted = {r.logical_id for r in self.scope.resources if r.type in types}
            with self._as_deployed():  # whatever fault the test that asks first has set: the unfaulted read
                for _ in range(4):
                    scope = self._only(wanted)
                    live = livestack.read_stack(self.aws(), scope, account=self.account, max_workers=4, only=wanted)
                    needed = {lid for r in live.resources.values() if r.state == livestack.ReadState.ERROR
                              for lid in re.findall(r"could not look: (\w+)(?:\.\w+)? is not known",
                                                    r.detail or "")}
                    if needed <= wanted:
                        break
                    wanted |= needed
            self.scopes[types] = (scope, frozenset(wanted), live)
        return self.scopes[types][:2]

    @contextlib.contextmanager
    def _as_deployed(self) -> Iterator[None]:
        """No fault, mutation or rewrite for the block, its answers made in process (those set before it again
        after): the reads that find a sub-scope and keep its unfaulted picture. A test that reads under a fault
        before any test asked for the operation's unfaulted read (another order of the tests: pytest-testmon's, say)
        would have kept its faulted picture as the unfaulted one, and every later test of the operation found
        nothing READ."""
        kept = self.fault, self.mutation, self.rewrites, self.on_the_wire
        self.fault, self.mutation, self.rewrites, self.on_the_wire = None, None, {}, False
        try:
            yield
        finally:
            self.fault, self.mutation, self.rewrites, self.on_the_wire = kept

    def _only(self, wanted: set[str]) -> StackScope:
        return StackScope(self.scope.stack_name, self.scope.template, tuple(
            r if r.logical_id in wanted else replace(r, status=LOCAL_NOT_EMULATED, reason="outside this fault run")
            for r in self.scope.resources), self.scope.source)

    def read(self, operation: str, *, deadline: float | None = None) -> livestack.LiveStack:
        scope, wanted = self.sub_scope(operation)
        return livestack.read_stack(self.aws(), scope, account=self.account, max_workers=4, deadline=deadline,
                                    only=wanted)

    def unfaulted(self, operation: str) -> livestack.LiveStack:
        self.fault = self.mutation = None
        self.sub_scope(operation)
        return self.scopes[self._types(operation)][2]

    @staticmethod
    @functools.cache  # the readers' registry is whole once opscli.readers is imported
    def _types(operation: str) -> frozenset[str]:
        """The resource types whose reader asks `operation`. Operations of the same types (IAM's four for roles,
        say) share one unfaulted read: the deployment does not change under the harness, which only reads."""
        return frozenset(t for t, r in READERS.items() if operation in r.operations)


@pytest.fixture(scope="module")
def harness(local_deployment, proxy) -> Iterator[Harness]:
    """The harness, with a manual snapshot beside the database and the file system replicated within Tokyo for the
    module: without a child to read, the readers never ask for one's attributes (DescribeDBSnapshotAttributes),
    and without a replication EFS answers DescribeReplicationConfigurations with an error: no fault of either
    would be applied."""
    from tests.conftest import copied_within_tokyo, manual_snapshot

    with manual_snapshot(local_deployment), _replicated_within_tokyo(local_deployment), \
            copied_within_tokyo(local_deployment):
        yield Harness(local_deployment, proxy)


@contextlib.contextmanager
def _replicated_within_tokyo(deployment) -> Iterator[None]:
    from opscli.aws import new_session

    efs = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                      region_name="ap-northeast-1").client("efs", endpoint_url=deployment.endpoint)
    source = deployment.outputs["EfsFileSystemId"]
    efs.create_replication_configuration(SourceFileSystemId=source, Destinations=[{"Region": "ap-northeast-1"}])
    try:
        yield
    finally:
        efs.delete_replication_configuration(SourceFileSystemId=source)


# Operations only the posture monitor's stack (TapMonitor) gives a reader something to read: the harness deploys
# and reads TapStack, where they have nothing to answer, so a fault there would prove nothing. Listed, never
# skipped silently: test_monitor_only_operations_are_exactly_those_tapstack_never_asks keeps the list exact.
MONITOR_ONLY = {"lambda:GetEventSourceMapping": "TapMonitor's queue -> function mapping; TapStack declares none",
                **dict.fromkeys(("iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListEntitiesForPolicy"),
                                "TapMonitor's managed policies; TapStack declares none"),
                "scheduler:GetSchedule": "TapMonitor's hourly schedule; TapStack declares none"}


@functools.cache  # the readers' registry is whole once opscli.readers is imported
def all_reader_operations() -> tuple[str, ...]:
    return tuple(sorted({op for r in READERS.values() for op in r.operations} - SCOPE_OPERATIONS))


@functools.cache
def reader_operations() -> tuple[str, ...]:
    return tuple(op for op in all_reader_operations() if op not in MONITOR_ONLY)


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
    assert set(all_reader_operations()) | SCOPE_OPERATIONS | secrets | ACCOUNT_OPERATIONS == declared


def test_monitor_only_operations_are_exactly_those_tapstack_never_asks(harness):
    """The harness leaves out exactly the operations whose readers' types TapStack does not declare."""
    declared = {r.type for r in harness.scope.resources}
    unasked = {op for op in all_reader_operations()
               if not any(op in READERS[t].operations for t in declared if t in READERS)}
    assert unasked == set(MONITOR_ONLY)


@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_answer_to_the_account_read_is_error_never_a_verdict(harness, kind):
    """The audit's one account-wide read (the account's IAM, for STK-PERIM-002), answered badly: one ERROR for the
    account rule, never a PASS that says nobody outside reaches the stack's data."""
    [operation] = ACCOUNT_OPERATIONS
    harness.fault, mark = (operation, kind), len(harness.proxy.faulted)
    try:
        live = livestack.read_stack(harness.aws(), harness._only(set()), account=harness.account, max_workers=4,
                                    account_iam=True)
    finally:
        harness.fault = None
    assert harness.proxy.faulted[mark:], f"{operation} was never asked: the {kind} fault was not applied"
    found = [f for f in stackcheck.judge(live) if f.rule_id == stk_perim.IDENTITY_ID]
    assert [f.status for f in found] == [Status.ERROR], found
    assert found[0].reason.startswith("could not look"), found[0].reason


class _Denied:
    """Every answer rewritten to S3's AccessDenied; `applied` counts them."""

    def __init__(self) -> None:
        self.applied = 0

    def __call__(self, status: int, content_type: str, payload: bytes) -> tuple[int, str, bytes]:
        self.applied += 1
        return 403, "application/xml", b"<Error><Code>AccessDenied</Code><Message>denied</Message></Error>"


def _policy_not_json(parsed: dict) -> bool:
    parsed["Policy"] = "{not json"
    return True


@pytest.mark.parametrize("set_up", ["fault", "mutation", "rewrite"])
def test_the_unfaulted_picture_is_unfaulted_whichever_test_asks_first(harness, local_deployment, proxy, set_up):
    """A harness whose first read of an operation is under a fault, a mutation or a rewrite (the order
    pytest-testmon chose once: the in-process test of s3:GetBucketPolicy's html200 fault before any unfaulted read
    of it) applies it to that read, keeps it set for the test, and still keeps the unfaulted picture for the
    tests after it."""
    first = Harness(local_deployment, proxy)
    operation, mark = "s3:GetBucketPolicy", len(proxy.faulted)
    denied = _Denied()
    try:
        if set_up == "fault":
            first.fault = (operation, "html200")
        elif set_up == "mutation":
            first.mutation = (operation, _policy_not_json)
        else:
            first.rewrites = {operation: denied}
        set_as = (first.fault, first.mutation, dict(first.rewrites))
        faulted = first.read(operation)
        assert (first.fault, first.mutation, first.rewrites) == set_as  # the test's own setting, kept
        first.fault, first.mutation, first.rewrites = None, None, {}
        assert not any(r.state == livestack.ReadState.READ for r in faulted.resources.values())
        assert {"fault": len(proxy.faulted) > mark, "mutation": first.mutated > 0,
                "rewrite": denied.applied > 0}[set_up]
        assert any(r.state == livestack.ReadState.READ for r in first.unfaulted(operation).resources.values())
    finally:
        first.aws().close()


@pytest.mark.parametrize("operation", reader_operations())
def test_a_broken_answer_to_any_operation_is_error_never_a_verdict(harness, operation):
    before = harness.unfaulted(operation)
    assert any(r.state == livestack.ReadState.READ for r in before.resources.values()), \
        f"nothing of {operation} reads on the emulator: the fault would prove nothing"
    index = reader_operations().index(operation)
    for kind in (KINDS[index % len(KINDS)], KINDS[(index + 3) % len(KINDS)]):
        harness.fault, mark, wire = (operation, kind), len(harness.proxy.faulted), harness.proxy.wire
        try:
            after = harness.read(operation)
        finally:
            harness.fault = None
        hits = harness.proxy.faulted[mark:]
        assert hits, f"{operation} was never asked: the {kind} fault was not applied"
        if kind in WIRE_KINDS:  # the connection reset by the proxy on the network, not imitated in process
            assert harness.proxy.wire - wire == len(hits), (kind, harness.proxy.wire - wire, hits)
        erred = assert_no_verdict_without_evidence(before, after, f"{operation} {kind}")
        assert erred, f"{operation} answered with {kind}, yet every resource kept its verdict"


@pytest.mark.parametrize("operation, kind", [("rds:DescribeDBInstances", "truncated"),
                                             ("sqs:GetQueueAttributes", "twice"),
                                             ("ec2:DescribeSubnets", "pageloop"),
                                             ("s3:GetBucketPolicy", "html200"),
                                             ("logs:DescribeLogGroups", None)])
def test_an_answer_made_in_process_is_the_one_the_proxy_sends_on_the_network(harness, operation, kind):
    """The harness hands botocore its answers in process (before-send) rather than over a connection to the proxy:
    the same fault read both ways (and an unfaulted read) gives the same picture, to the word, and the answers
    of the network came over it (every request the read made)."""
    pictures = []
    for on_the_wire in (False, True):
        harness.fault, harness.on_the_wire, wire = (operation, kind) if kind else None, on_the_wire, \
            harness.proxy.wire
        harness.proxy.circled = harness.proxy.followed = harness.proxy.started = 0
        try:
            after = harness.read(operation)
        finally:
            harness.fault, harness.on_the_wire = None, False
        assert (harness.proxy.wire > wire) is on_the_wire
        pictures.append({lid: (r.state, r.detail, r.properties, r.facts) for lid, r in after.resources.items()})
    assert pictures[0] == pictures[1]
    assert any(state == livestack.ReadState.READ for state, *_ in pictures[0].values()) is (kind is None)


def _boolean_members(operation: str) -> set[str]:
    """The wire names of the boolean members anywhere in the operation's output (not strings that say true)."""
    return {member.serialization.get("name", name) for shape in _reachable(_model(operation).output_shape)
            if shape.type_name == "structure" for name, member in shape.members.items()
            if member.type_name == "boolean"}


DOCUMENT_KINDS = ("foreign", "error200")


def _protocol(operation: str) -> str:
    """The protocol botocore speaks for the operation (CloudWatch's model lists CBOR first; botocore speaks JSON)."""
    return _model(operation).service_model.resolved_protocol


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


def misshapen_kinds(operation: str) -> list[str]:
    """The model-written faults that can touch the operation's answers, from its model alone: a member twice
    (any answer with a structure body), an enumerated value in another case, an emptied describe by id, a page
    token in a circle (an operation that pages), a JSON boolean spelled 1 or 0."""
    model = _model(operation)
    body = _body_shape(model)
    if body is None or body.type_name != "structure":
        return []  # no output, or a raw payload (a policy document as the body)
    shapes = list(_reachable(body))
    kinds = ["twice"]
    if any(shape.type_name == "string" and shape.enum for shape in shapes):
        kinds.append("enumcase")
    if operation in BY_ID:
        kinds.append("emptied")
    if _paging(operation):
        kinds.append("pageloop")
    if _protocol(operation) in ("json", "rest-json") and any(shape.type_name == "boolean" for shape in shapes):
        kinds.append("one")
    return kinds


# What the emulator's answers hold nothing of, for a fault written by the model: the fault is then not applied,
# and the test says so here rather than pass on nothing.
NOTHING_TO_MISSHAPE = {
    # No boolean in the answers: moto leaves out the optional ones (a deployment has none).
    "apigateway:GetDeployments": ("one",), "application-autoscaling:DescribeScalableTargets": ("one",),
    "ecs:DescribeClusters": ("one",), "ecs:DescribeServices": ("one",), "lambda:GetFunction": ("one",),
    "logs:DescribeLogGroups": ("one", "enumcase"), "events:ListTargetsByRule": ("one", "enumcase"),
    # No enumerated value in the answers: moto leaves out the optional ones (and the stack sets none there; the
    # key has no grant).
    "apigateway:GetUsagePlan": ("enumcase",), "iam:GetRole": ("enumcase",),
    "kms:ListGrants": ("enumcase",), "rds:DescribeDBInstances": ("enumcase",),
    "rds:DescribeDBSnapshots": ("enumcase",), "s3:ListBucketInventoryConfigurations": ("enumcase",),
    "wafv2:GetLoggingConfiguration": ("enumcase",),
    # The subscription filter the harness adds has no boolean (moto leaves out applyOnTransformedLogs).
    "logs:DescribeSubscriptionFilters": ("one",),
    # The attachment's state, its only enumerated value, is "available": beyond the model (opscli.answers's
    # ENUM_BEYOND_THE_MODEL), so not one of the model's values to spell otherwise.
    "ec2:DescribeInternetGateways": ("enumcase",),
    # No member inside: <LocationConstraint> holds its text (outside botocore's model), <BucketLoggingStatus/> is
    # empty (no access logging configured here); <NotificationConfiguration> holds <EventBridgeConfiguration/> alone.
    "s3:GetBucketLocation": ("twice", "enumcase"), "s3:GetBucketLogging": ("twice", "enumcase"),
    "s3:GetBucketNotificationConfiguration": ("twice", "enumcase"),
    # Its only enumerated values are LogConfig's (IncludeDetail, Level): the default bus has no log configuration.
    "events:DescribeEventBus": ("enumcase",),
}


@pytest.mark.parametrize("operation", [op for op in reader_operations() if misshapen_kinds(op)])
def test_an_answer_misshapen_in_its_models_terms_is_error_never_a_verdict(harness, operation):
    """Every operation opscli calls, each of its answers rewritten on the wire by its model, one way at a time:
    every resource that asked is ERROR, or its picture is the unfaulted one where the fault did not touch what
    its reader uses. A page token in a circle is ERROR wherever a reader follows it (and nothing changes where
    it reads one page); an emptied describe by id was asked by its id (the parameter BY_ID names)."""
    before = harness.unfaulted(operation)
    assert any(r.state == livestack.ReadState.READ for r in before.resources.values()), \
        f"nothing of {operation} reads on the emulator: the fault would prove nothing"
    for kind in misshapen_kinds(operation):
        harness.fault, harness.requests = (operation, kind), []
        proxy, mark = harness.proxy, len(harness.proxy.rewritten)
        proxy.circled = proxy.followed = proxy.started = 0
        try:
            after = harness.read(operation)
        finally:
            harness.fault = None
        erred = assert_no_verdict_without_evidence(before, after, f"{operation} {kind}")
        if not proxy.rewritten[mark:]:
            assert kind in NOTHING_TO_MISSHAPE.get(operation, ()), \
                f"the emulator's answers to {operation} hold nothing the {kind} fault rewrites"
            continue
        if kind == "emptied":
            # Asked by its id at least once. EFS's DescribeAccessPoints is also asked by file system, to list the
            # access points beside the declared ones: there an empty list is an answer (none), and the picture of
            # the file system stays the unfaulted one (none were added).
            assert any(BY_ID[operation][0] in r for r in harness.requests), harness.requests
        if kind == "pageloop":
            # A pagination that notices the circle sends back two tokens (1, then 2) and stops at 1 again.
            assert proxy.followed <= 2 * proxy.started, f"{operation}: a reader went around the circle"
            if not proxy.followed:
                continue  # its readers read one page (by id): the token is not followed, the picture is unchanged
        assert erred, f"{operation} answered with {kind}, yet every resource kept its verdict"


@pytest.mark.parametrize("operation, resource_type", [("elbv2:DescribeLoadBalancerAttributes",
                                                       "AWS::ElasticLoadBalancingV2::LoadBalancer"),
                                                      ("sqs:GetQueueAttributes", "AWS::SQS::Queue")])
def test_a_boolean_carried_in_a_string_spelled_otherwise_is_error(harness, operation, resource_type):
    """Attributes are strings ("true"): the answer check cannot hold them to a boolean's spelling, the reader
    does. Each "true"/"false" string of the answer spelled TRUE/FALSE: every resource of the type is ERROR."""
    before = harness.unfaulted(operation)
    harness.fault, mark = (operation, "truecase"), len(harness.proxy.rewritten)
    try:
        after = harness.read(operation)
    finally:
        harness.fault = None
    assert harness.proxy.rewritten[mark:], f"the emulator's answers to {operation} hold no string true or false"
    assert_no_verdict_without_evidence(before, after, f"{operation} truecase")
    judged = [lid for lid, r in before.resources.items()
              if r.state == livestack.ReadState.READ and r.declared.type == resource_type]
    assert judged and all(after.resources[lid].state == livestack.ReadState.ERROR for lid in judged), \
        {lid: after.resources[lid].detail for lid in judged}


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


def test_a_hung_request_is_counted_when_it_comes_not_when_its_connection_is_reset(harness):
    """A client gives up on a hung request long before the proxy resets it: counted then, the reset would land
    among the faults of whatever test runs next (a fault-counting test failed so, in pytest-testmon's order)."""
    proxy = harness.proxy
    proxy.hang_seconds, hung, wire, faulted = 1.0, proxy.hung, proxy.wire, len(proxy.faulted)
    try:
        with socket.create_connection(proxy.server_address, timeout=10) as client:
            client.sendall(f"GET /hung HTTP/1.1\r\nHost: proxy\r\n{FAULT_HEADER}: hang\r\n"
                           "Content-Length: 0\r\n\r\n".encode())
            deadline = time.monotonic() + 30
            while proxy.wire == wire:  # the request came: it is counted already, its reset a second away
                assert time.monotonic() < deadline, "the hung request never came"
                time.sleep(0.01)
            assert proxy.faulted[faulted:] == [("hang", "/hung")]
        while proxy.hung == hung:
            assert time.monotonic() < deadline, "the hung request was never reset"
            time.sleep(0.02)
    finally:
        proxy.hang_seconds = 5.0
    assert proxy.faulted[faulted:] == [("hang", "/hung")]  # nothing more when its connection is reset


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
    # Rotation on/off and its age, a scheduled deletion and the replicas come from DescribeSecret alone: with only
    # the versions broken, those may keep their verdict; nothing else may.
    decided_without = {"secret.rotation_enabled", "secret.rotation_age", "secret.deletion", "secret.replicas"} \
        if operation.endswith("VersionIds") else set()
    assert {f.check_id for f in report.findings if f.status is not Status.ERROR} <= decided_without, \
        sorted({(f.check_id, f.status.value, f.reason[:60]) for f in report.findings})


def test_rotate_check_on_a_circle_of_version_pages_is_error_never_pass_or_fail(harness):
    """rotate-check pages ListSecretVersionIds by hand: around a circle of tokens, what the versions decide is
    ERROR (it was a hang), and nothing else changes."""
    operation = "secretsmanager:ListSecretVersionIds"
    harness.fault = (operation, "pageloop")
    proxy = harness.proxy
    proxy.circled = proxy.followed = proxy.started = 0
    try:
        report = core.rotate_secrets(harness.aws(), harness.target)
    finally:
        harness.fault = None
    assert proxy.started and proxy.followed == 2 * proxy.started, (proxy.started, proxy.followed)
    pending = [f for f in report.findings if f.check_id == "secret.pending"]
    assert pending and all(f.status is Status.ERROR and "a second time" in f.reason for f in pending)


# --- AWS's text holding what a terminal acts on ----------------------------------------------------------------

# An error code carrying a screen clear, a bidi override and a bell (no ":" or "#": botocore cuts a code there).
HOSTILE_CODE = "AccessDenied\x1b[2J\u202e\x07Exception"
# What of them an XML answer can carry (XML 1.0 has no ESC or BEL, not even as a reference): a bidi override, an
# 8-bit CSI and a carriage return, written as a reference (a raw one is read as a line feed).
XML_HOSTILE = "\u202e|\x9b31m|&#13;|"
XML_SHOWN = "\\u202e|\\x9b31m|\\x0d|"
# tests/opscli/test_hostile_text.py's HOSTILE as the operator reads it, each character as its escape, and the code.
SHOWN_HOSTILE = r"<\x1b[2J|\x1b]8;;http://x\x1b\t\x1b]8;;\x1b\|\u202e|\x9b31m|\x0d|\x07>"
SHOWN_CODE = r"AccessDenied\x1b[2J\u202e\x07Exception"


class Rewritten:
    """An answer's bytes with `old` replaced by `new` (each time it is asked); `applied` counts the answers
    that held `old`, so that a test knows the rewrite reached what it judges."""

    def __init__(self, old: bytes, new: bytes) -> None:
        self.old, self.new, self.applied = old, new, 0

    def __call__(self, status: int, content_type: str, payload: bytes) -> tuple[int, str, bytes]:
        if self.old in payload:
            self.applied += 1
        return status, content_type, payload.replace(self.old, self.new)


def _json_error(status: int, content_type: str, payload: bytes) -> tuple[int, str, bytes]:
    """AccessDenied as a JSON service sends it, its code and its message carrying what a terminal acts on."""
    return 400, content_type, json.dumps({"__type": HOSTILE_CODE, "message": f"User {HOSTILE} is denied"}).encode()


def test_terminal_controls_in_an_answer_are_shown_escaped_in_the_table_and_the_verbose_lines(harness, monkeypatch,
                                                                                             capsys):
    """`opscli drift --verbose` as an operator runs it, answered from the recording with AWS's text holding what a
    terminal acts on: a tag value of a JSON answer (ESC sequences, an OSC 8 link, U+202E, an 8-bit CSI, CR, BEL:
    ECS's model allows none of them in a tag value, opscli holds no answer to a pattern and judges it as
    written), a tag value of an XML answer (what XML can carry of them) and an error of a JSON service (its code
    and its message). The table on stdout, and each AWS call and progress line on stderr, show every one as its
    escape and none raw."""
    from opscli import cli as opscli_cli
    from platform_spec import exit_codes

    ecs = Rewritten(b'"platform-team"', json.dumps(f"platform-team{HOSTILE}").encode())
    rds = Rewritten(b">platform-team<", f">platform-team{XML_HOSTILE}<".encode())
    harness.rewrites = {"ecs:DescribeServices": ecs, "rds:ListTagsForResource": rds,
                        "cloudwatch:DescribeAlarms": _json_error}
    monkeypatch.setattr(opscli_cli, "Aws", harness.cli_aws)
    monkeypatch.setenv("COLUMNS", "400")  # no row cut: the escapes are asserted whole
    try:
        code = opscli_cli.main(["drift", "--outputs", str(harness.outputs_file), "--endpoint-url",
                                harness.proxy.endpoint, "--no-history", "--verbose"])
    finally:
        harness.rewrites = {}
    out, err = capsys.readouterr()
    assert code == exit_codes.EXIT_INCOMPLETE and ecs.applied and rds.applied, err[-3000:]  # ERROR and FAIL
    assert_shown_not_acted_on(out, escapes=False)
    assert_shown_not_acted_on(err, escapes=False)
    for value in (f"platform-team{SHOWN_HOSTILE}", f"platform-team{XML_SHOWN}"):  # in a row and in its details
        assert out.count(f"Tags: added {{Key: Owner, Value: {value}}}") == 4, out
    assert f"could not look: DescribeAlarms failed: {SHOWN_CODE} User {SHOWN_HOSTILE} is denied" in out, out
    calls = [line for line in err.splitlines() if line.startswith("aws: cloudwatch:DescribeAlarms ")]
    assert calls and all(f" -> 400 {SHOWN_CODE} (" in line for line in calls), calls
    assert f"could not look: DescribeAlarms failed: {SHOWN_CODE} User {SHOWN_HOSTILE} is denied" in err


@pytest.mark.parametrize("operation, old, new, said", [
    # XML 1.0 has no ESC or BEL, not even as a reference: such an answer is no XML document at all.
    ("rds:ListTagsForResource", b">platform-team<", b">platform-team\x1b[2J\x07<",
     "malformed answer: Unable to parse response (not well-formed (invalid token)"),
    # An enumerated value is one of its model's values exactly: with a control character it is none of them.
    ("ecs:DescribeServices", b'"FARGATE"', json.dumps("FAR\x1b[2J\u202eGATE").encode(),
     "= 'FAR\\x1b[2J\\u202eGATE', not one of its model's values"),
], ids=["xml-esc-bel", "json-enum"])
def test_a_control_character_where_the_answer_cannot_hold_one_is_error_and_its_reason_holds_none(
        harness, operation, old, new, said):
    """Where the protocol or the model leaves no room for a control character, the resources that asked are
    ERROR (never a verdict), and the reason names the problem with the character written as its escape, so
    that no view, JSON included, carries it raw."""
    before = harness.unfaulted(operation)
    rewrite = Rewritten(old, new)
    harness.rewrites = {operation: rewrite}
    try:
        after = harness.read(operation)
    finally:
        harness.rewrites = {}
    assert rewrite.applied, f"the emulator's answers to {operation} hold no {old!r}"
    erred = assert_no_verdict_without_evidence(before, after, f"{operation} {old!r}")
    assert erred and all(said in after.resources[lid].detail for lid in erred), \
        {lid: after.resources[lid].detail for lid in erred}
    assert all(is_visible(after.resources[lid].detail) for lid in erred)
