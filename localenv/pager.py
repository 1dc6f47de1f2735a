"""The paged test mode's pager: WSGI middleware in front of moto that pages every answer botocore knows to be
pageable (its paginator model: input token, output token, result keys) and moto answers whole, in pages of 1 or 2
items, with a token of its own to the next page. A reader that stops at a first page, or that does not send the
token back, then reads less than the deployment holds, and the paged tests show it.

It pages the JSON, rest-JSON, query and EC2 protocols. An answer moto paged itself (it carries an output token),
an answer to a request whose token is not ours, an answer that is not a 200 or that does not parse, and the
rest-XML protocol (S3) go through unchanged; `Pager.left_whole` counts them by operation and reason, so a test can
tell "nothing to page" from "could not page".

The pager keeps no state between requests: its token is the offset of the next page in the whole answer, which
moto gives again for the same read (the local deployment does not change while it is read)."""

from __future__ import annotations

import io
import json
import re
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import botocore.session

from platform_utils.numbers import whole

TOKEN_PREFIX = "streamtech-page-"
STATS_PATH = "/streamtech-pager/stats"  # GET: what the pager paged and left whole, by operation
# botocore service names for the signing names (the credential scope) that differ from them.
SIGNING_ALIASES = {"monitoring": ("cloudwatch",), "elasticfilesystem": ("efs",),
                   "elasticloadbalancing": ("elbv2", "elb"), "execute-api": ("apigateway",)}
_CREDENTIAL = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    protocol: str
    model: Any  # botocore OperationModel
    paging: dict[str, Any]  # botocore's paginator entry

    @property
    def key(self) -> str:
        return f"{self.service}:{self.name}"


@lru_cache(maxsize=1)
def _session() -> Any:
    return botocore.session.get_session()


@lru_cache(maxsize=64)
def _service(name: str) -> tuple[Any, dict[str, Any]] | None:
    """The service model and its paginator entries, or None when botocore does not know the service."""
    session = _session()
    try:
        model = session.get_service_model(name)
    except Exception:  # noqa: BLE001 - an unknown service is simply not paged
        return None
    try:
        paginators = session.get_paginator_model(name)._paginator_config  # noqa: SLF001 - no public listing
    except Exception:  # noqa: BLE001 - a service without paginators
        paginators = {}
    return model, dict(paginators)


@lru_cache(maxsize=64)
def _rest_routes(name: str) -> tuple[tuple[str, re.Pattern[str], frozenset[str], str], ...]:
    """(method, path pattern, query keys the URI requires, operation) for a REST service's operations."""
    found = _service(name)
    if found is None:
        return ()
    model, _ = found
    routes = []
    for op_name in model.operation_names:
        http = model.operation_model(op_name).http
        path, _, literal = http.get("requestUri", "/").partition("?")
        pattern = re.sub(r"\\\{[^}]+\\\+\\\}", ".+", re.sub(r"\\\{[^}+]+\\\}", "[^/]+", re.escape(path)))
        required = frozenset(k for k, _, _ in (p.partition("=") for p in literal.split("&")) if k)
        routes.append((http.get("method", "GET"), re.compile(f"^{pattern}/?$"), required, op_name))
    # The most specific route first: more query keys required, then fewer path parameters.
    routes.sort(key=lambda route: (-len(route[2]), route[1].pattern.count("[^/]+") + route[1].pattern.count(".+")))
    return tuple(routes)


def identify(environ: dict[str, Any], body: bytes) -> Operation | None:
    """The botocore operation a request asks for, when botocore has a paginator for it."""
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not match:
        return None
    signing = match.group(1)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    form: dict[str, list[str]] = {}
    if not target:
        if environ.get("REQUEST_METHOD") == "POST" and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        elif environ.get("QUERY_STRING", "").find("Action=") >= 0:
            form = urllib.parse.parse_qs(environ["QUERY_STRING"], keep_blank_values=True)
    for name in SIGNING_ALIASES.get(signing, (signing,)):
        found = _service(name)
        if found is None:
            continue
        model, paginators = found
        op_name = None
        if target:
            prefix, _, wanted = target.rpartition(".")
            if prefix == model.metadata.get("targetPrefix") and wanted in model.operation_names:
                op_name = wanted
        elif form.get("Action"):
            if form.get("Version", [model.api_version])[0] == model.api_version and \
                    form["Action"][0] in model.operation_names:
                op_name = form["Action"][0]
        elif model.protocol in ("rest-json", "rest-xml"):
            path = urllib.parse.unquote(environ.get("PATH_INFO", "/"))
            query = {k for k, _ in urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)}
            for method, pattern, required, candidate in _rest_routes(name):
                if method == environ.get("REQUEST_METHOD") and pattern.match(path) and required <= query:
                    op_name = candidate
                    break
        if op_name is None:
            continue
        if op_name not in paginators:
            return None
        protocol = "json" if target else model.protocol
        return Operation(name, op_name, protocol, model.operation_model(op_name), paginators[op_name])
    return None


def _keys(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


class Pager:
    """WSGI middleware: pages whole answers (see the module's text). `paged` and `left_whole` count, by
    operation, the answers it paged and those it let through unchanged (with the reason)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], size: int) -> None:
        self.app, self.size = app, size
        self._lock = threading.Lock()
        self.paged: Counter[str] = Counter()
        self.left_whole: Counter[tuple[str, str]] = Counter()

    def _note(self, op: Operation, reason: str | None) -> None:
        with self._lock:
            if reason is None:
                self.paged[op.key] += 1
            else:
                self.left_whole[(op.key, reason)] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"size": self.size, "paged": dict(self.paged),
                    "left_whole": [{"operation": op, "reason": reason, "answers": count}
                                   for (op, reason), count in sorted(self.left_whole.items())]}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == STATS_PATH:
            stats = json.dumps(self.stats()).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(stats)))])
            return [stats]
        length = whole(environ.get("CONTENT_LENGTH") or "0")
        if length is None:
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        op = identify(environ, body)
        if op is None:
            return self.app(environ, start_response)
        if op.protocol not in ("json", "rest-json", "query", "ec2"):
            self._note(op, f"{op.protocol} protocol")
            return self.app(environ, start_response)
        offset, body = self._take_token(op, environ, body)
        if offset is None:
            self._note(op, "the request carries a token that is not the pager's")
            return self.app(environ, start_response)
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))

        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, headers
            return lambda data: captured.setdefault("written", []).append(data)

        chunks = self.app(environ, capture)
        try:
            answer = b"".join([*captured.get("written", []), *chunks])
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        status, headers = captured["status"], captured["headers"]
        paged: bytes | None = None
        reason: str | None = "not a 200 answer"  # None: paged
        if status.startswith("200"):
            try:
                paged, reason = self._page(op, answer, offset)
            except (ValueError, ET.ParseError, KeyError, TypeError, UnicodeDecodeError) as error:
                paged, reason = None, f"the answer does not parse: {error}"
        self._note(op, reason)
        if paged is not None:
            answer = paged
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(answer))))
        start_response(status, headers)
        return [answer]

    def _input_name(self, op: Operation) -> tuple[str, str]:
        """Where the input token goes: (location, name) -- location "body", "querystring" or "form"."""
        token = op.paging["input_token"]
        token = token[0] if isinstance(token, list) else token
        shape = op.model.input_shape.members[token]
        if op.protocol == "rest-json":
            return shape.serialization.get("location", "body"), shape.serialization.get("name", token)
        if op.protocol == "ec2":
            return "form", shape.serialization.get("queryName") or token
        return ("body" if op.protocol == "json" else "form"), token

    def _take_token(self, op: Operation, environ: dict[str, Any], body: bytes) -> tuple[int | None, bytes]:
        """The offset the request asks for (0 without a token; None when its token is not ours), and the
        request's body without the token."""
        location, name = self._input_name(op)

        def offset_of(token: str | None) -> int | None:
            if not token:
                return 0
            return whole(token[len(TOKEN_PREFIX):]) if token.startswith(TOKEN_PREFIX) else None

        if location == "body":
            document = json.loads(body) if body.strip() else {}
            offset = offset_of(document.pop(name, None))
            return offset, (json.dumps(document).encode() if offset else body)
        if location == "querystring" or (location == "form" and environ.get("REQUEST_METHOD") == "GET"):
            pairs = urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            token = next((v for k, v in pairs if k == name), None)
            environ["QUERY_STRING"] = urllib.parse.urlencode([(k, v) for k, v in pairs if k != name])
            return offset_of(token), body
        pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
        token = next((v for k, v in pairs if k == name), None)
        return offset_of(token), urllib.parse.urlencode([(k, v) for k, v in pairs if k != name]).encode()

    def _page(self, op: Operation, answer: bytes, offset: int) -> tuple[bytes | None, str | None]:
        if op.protocol in ("json", "rest-json"):
            return self._page_json(op, answer, offset)
        return self._page_xml(op, answer, offset)

    def _window(self, total: int, offset: int) -> tuple[int, int, bool]:
        end = min(offset + self.size, total)
        return min(offset, total), end, end < total

    def _page_json(self, op: Operation, answer: bytes, offset: int) -> tuple[bytes | None, str | None]:
        document = json.loads(answer)
        output = op.model.output_shape
        out_token = _keys(op.paging["output_token"])[0]
        out_name = output.members[out_token].serialization.get("name", out_token)
        if document.get(out_name):
            return None, "moto paged it itself"
        lists = []
        for key in _keys(op.paging["result_key"]):
            if "." in key or key not in output.members:
                return None, f"result key {key} is not a top-level member"
            name = output.members[key].serialization.get("name", key)
            if isinstance(document.get(name), list):
                lists.append(name)
        if not lists:
            return None, "the answer holds no list to page"
        more = False
        for name in lists:
            start, end, rest = self._window(len(document[name]), offset)
            document[name], more = document[name][start:end], more or rest
        if more:
            document[out_name] = f"{TOKEN_PREFIX}{offset + self.size}"
        else:
            document.pop(out_name, None)
        if "more_results" in op.paging:
            document[op.paging["more_results"]] = more
        return json.dumps(document).encode(), None

    def _page_xml(self, op: Operation, answer: bytes, offset: int) -> tuple[bytes | None, str | None]:
        root = ET.fromstring(answer)
        namespace = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
        output = op.model.output_shape
        parent = root
        wrapper = output.serialization.get("resultWrapper") if op.protocol == "query" else None
        if wrapper:
            wrapped = root.find(f"{namespace}{wrapper}")
            if wrapped is None:
                return None, f"the answer has no {wrapper}"
            parent = wrapped

        def element_name(member: str) -> str:
            shape = output.members[member]
            if op.protocol == "ec2":
                return shape.serialization.get("name") or member[0].lower() + member[1:]
            return shape.serialization.get("name", member)

        out_token = _keys(op.paging["output_token"])[0]
        token_name = element_name(out_token)
        existing = parent.find(f"{namespace}{token_name}")
        if existing is not None and (existing.text or "").strip():
            return None, "moto paged it itself"
        more, paged_any = False, False
        for key in _keys(op.paging["result_key"]):
            if "." in key or key not in output.members:
                return None, f"result key {key} is not a top-level member"
            shape = output.members[key]
            if shape.type_name != "list":
                return None, f"result key {key} is not a list"
            if shape.serialization.get("flattened"):
                item_name = shape.member.serialization.get("name", element_name(key))
                holder, items = parent, parent.findall(f"{namespace}{item_name}")
            else:
                found = parent.find(f"{namespace}{element_name(key)}")
                if found is None:
                    continue
                holder, items = found, list(found)
            start, end, rest = self._window(len(items), offset)
            for index, item in enumerate(items):
                if not start <= index < end:
                    holder.remove(item)
            more, paged_any = more or rest, True
        if not paged_any:
            return None, "the answer holds no list to page"
        if existing is not None:
            parent.remove(existing)
        if more:
            ET.SubElement(parent, f"{namespace}{token_name}").text = f"{TOKEN_PREFIX}{offset + self.size}"
        if "more_results" in op.paging:
            flag_name = element_name(op.paging["more_results"])
            flag = parent.find(f"{namespace}{flag_name}")
            if flag is None:
                flag = ET.SubElement(parent, f"{namespace}{flag_name}")
            flag.text = "true" if more else "false"
        return ET.tostring(root, encoding="utf-8", xml_declaration=True,
                           default_namespace=namespace[1:-1] or None), None
