"""The metadata API's HTTP server: the framework-free `MetadataApi` served over ASGI by uvicorn (httptools
parser, uvloop event loop) on port 8080, behind the NLB and API Gateway.

Why this stack. uvicorn is the most deployed ASGI server and does what `http.server` did not: HTTP/1.1 framing
by a real parser (a body that is not read is consumed as a body, never parsed as a second request), keep-alive
with an idle timeout, and a graceful shutdown that closes idle keep-alive connections at once and waits for
in-flight requests up to a bound. No web framework on top: routing and validation already live in
`MetadataApi` (four read routes, tested without HTTP), and a framework would add per-request cost and a
dependency for features this API does not use. Both data stores are read on the event loop: the cache
auto-pipelined (the commands of all requests of one loop turn in one write), PostgreSQL through psycopg's
async pool. A hung Redis or database costs the requests that wait on it their timeout, never the loop.

What this module adds to uvicorn: JSON errors for every status, those the server writes before the
application sees a request included (400 malformed, 414 target too long, 431 headers too large, 413 body too
large — uvicorn's own are plain text or unbounded), bounded request sizes, JSON access lines, shutdown on
the service's own stop event (run_service owns SIGTERM for both services), and bounds on connections whose
client owes bytes: a deadline for each request head (uvicorn's only timeout is the keep-alive one, armed after
a response and dropped at the first byte of the next request, so a connection that never completes a head
would be kept forever), one for each request body (408; uvicorn waits for a body without end), and a number
of connections that leaves descriptors free for a new one."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import resource
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from platform_utils.numbers import whole
from services.common.log import JsonLogger
from services.metadata_api.app import MetadataApi, error_response

MAX_TARGET_BYTES = 4096    # the request target (path and query): more is 414
MAX_HEADER_BYTES = 16384   # header names and values together: more is 431
MAX_BODY_BYTES = 65536     # a read-only API takes no body; a larger one is a 413
# A body over MAX_BODY_BYTES is still read (and discarded) up to this much before the 413 is sent: a server that
# answers and closes with the client's bytes unread makes the kernel reset the connection, and the client then
# sees "connection reset" instead of the 413. Past this, the 413 is sent and the connection closed anyway.
MAX_DRAIN_BYTES = 16 * 2**20
KEEP_ALIVE_S = 75          # longer than the NLB's idle timeout would cut, shorter than a leaked connection lives
# From connecting (or from the first byte of a later request on a kept-alive connection) to the end of the
# request head. Clients behind API Gateway and the NLB send the head at once; a connection that has not done
# so by then is a dead client or a slow-header attack.
HEADER_TIMEOUT_S = 10
# From the end of a request head to the end of its body (for a pipelined request, from the end of the answer
# before it): more is a 408. The same reasoning as the head's: API Gateway and the NLB pass a request on whole,
# and this API takes no body, so the largest it reads is the discarded one before a 413 (MAX_DRAIN_BYTES: 16
# MiB in 10 s is 1.7 MB/s, far below any client inside the VPC). A fixed deadline, not a minimum rate, so that a request
# holds its connection for at most HEADER_TIMEOUT_S + BODY_TIMEOUT_S whatever it announces.
BODY_TIMEOUT_S = 10
# Descriptors the process needs besides client connections and the database pool: Redis's connections, the
# event loop's own, stdio, the CA bundles read at connect, and the spare one libuv keeps to survive EMFILE.
OTHER_DESCRIPTORS = 48
SHED_REPORT_S = 10         # at most one "connections_shed" line this often while connections are being shed
GRACEFUL_SHUTDOWN_S = 20   # in-flight requests get this long after SIGTERM; the task's stopTimeout is 30 s
JSON_HEADERS = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


class _Refused(Exception):
    """Raised inside a parser callback: the request breaks a size bound."""


def connection_limit(descriptors: int, pool_size: int) -> int:
    """How many client connections fit under a descriptor limit (RLIMIT_NOFILE; -1 for none) beside a
    database pool of `pool_size` and the process's other descriptors."""
    if descriptors < 0:
        descriptors = 2**20  # no limit: memory is the bound, not this
    return max(1, descriptors - pool_size - OTHER_DESCRIPTORS)


class ConnectionBudget:
    """At most `limit` client connections, so that accepting one never meets the descriptor limit. Past it, a
    new connection closes the one that has waited longest on its client: one that has not completed a head,
    one whose request is still receiving its body, or one kept alive after its last answer (a client
    reconnects for that); a request being answered is never cut.

    Why: at the descriptor limit, libuv accepts and at once closes every new connection (its EMFILE fallback),
    health checks included, until some connection ends; connections that send nothing, or half a body, would
    hold every descriptor until their deadline, and a client opening them anew would hold them for good."""

    def __init__(self, limit: int, logger: JsonLogger) -> None:
        self.limit, self.logger = limit, logger
        self.counted: set[BoundedProtocol] = set()
        self.waiting: dict[BoundedProtocol, None] = {}  # in the order they began to wait: the oldest first
        self.shed = 0
        self._next_report = 0.0

    def opened(self, connection: BoundedProtocol) -> None:
        self.counted.add(connection)
        self.wait(connection)
        if len(self.counted) > self.limit:
            self._shed_one()

    def wait(self, connection: BoundedProtocol) -> None:
        """`connection` waits on its client, nothing being answered: it may be shed. One already waiting keeps
        its place (a head, then its body, is one wait)."""
        self.waiting.setdefault(connection, None)

    def busy(self, connection: BoundedProtocol) -> None:
        self.waiting.pop(connection, None)

    def closed(self, connection: BoundedProtocol) -> None:
        self.counted.discard(connection)
        self.waiting.pop(connection, None)

    def _shed_one(self) -> None:
        while self.waiting:
            victim = next(iter(self.waiting))
            if victim.waits_on_client():
                break
            # Its answer began since it last settled (a refusal sent before its body came): it waits again, if
            # at all, when that answer ends.
            self.busy(victim)
        else:
            return  # every connection is being answered; none is cut
        # Uncounted now, not at connection_lost: the next connection accepted in the same loop turn must pick
        # another victim, not this one again.
        self.closed(victim)
        victim.transport.close()
        self.shed += 1
        now = time.monotonic()
        if now >= self._next_report:
            self._next_report = now + SHED_REPORT_S
            self.logger.warning("connections_shed", limit=self.limit, shed_since_start=self.shed)


class BoundedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with size bounds on the request target and headers, JSON bodies for the
    errors the server itself answers (uvicorn writes a plain-text 400 and has no size bounds here), a deadline
    for each request head and for each request body, and its place in the connection budget."""

    def __init__(self, *args: Any, budget: ConnectionBudget, header_timeout_s: float, body_timeout_s: float,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget, self.header_timeout_s, self.body_timeout_s = budget, header_timeout_s, body_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_pending = True  # the next bytes belong to a request head that has not yet ended
        self._body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()
        self.budget.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._cancel_body_timer()
        self.budget.closed(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # A later request on a kept-alive connection: its deadline runs from its first byte (uvicorn has just
        # dropped the keep-alive timer, and arms it again only after an answer).
        if self._head_pending and self._head_timer is None and not self.transport.is_closing():
            self._arm_head_timer()
        self._settle()

    def _receiving_body(self) -> bool:
        """Whether the request being served has its head and still receives its body, nothing answered yet.
        Then nothing of the API runs either: the adapter reads a body to its end before it calls the API (a
        refusal it sends at once starts the answer). With requests queued behind it (pipelined), `self.cycle`
        is the newest of those, and the one served has had its whole body."""
        cycle = self.cycle
        return cycle is not None and cycle.more_body and not cycle.response_started and not self.pipeline

    def waits_on_client(self) -> bool:
        """Whether the connection waits for bytes its client owes (a head, the next one on a kept-alive
        connection, or the rest of a body) with no answer under way: closing it cuts no answer."""
        return self.cycle is None or self.cycle.response_complete or self._receiving_body()

    def _settle(self) -> None:
        """After anything that can move the connection between waiting on its client and answering: its place
        in the connection budget, and the body deadline, which runs exactly while a body is being received."""
        if self.transport.is_closing():
            return
        receiving = self._receiving_body()
        if receiving and self._body_timer is None:
            self._body_timer = self.loop.call_later(self.body_timeout_s, self._body_timed_out)
        elif not receiving:
            self._cancel_body_timer()
        if self.waits_on_client():
            self.budget.wait(self)
        else:
            self.budget.busy(self)

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if self._receiving_body() and not self.transport.is_closing():
            # The adapter waits in receive(); it is told of the disconnect when the close completes.
            self._answer_and_close(408, "request timeout",
                                   f"the request body did not arrive in full within {self.body_timeout_s:g} s")

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            # The late head follows a request still being answered: that answer is the connection's last.
            self.cycle.keep_alive = False
        elif not self.transport.is_closing():
            self.transport.close()  # no answer: there is no request to answer

    def on_headers_complete(self) -> None:
        self._head_pending = False
        self._cancel_head_timer()
        super().on_headers_complete()  # the budget and the body deadline follow in _settle, after the bytes

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_pending = True

    def on_response_complete(self) -> None:
        super().on_response_complete()  # starts a pipelined request, if one is queued
        self._settle()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._refusal: tuple[int, str, str] | None = None

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > MAX_TARGET_BYTES:
            self._refusal = (414, "uri too long", f"the request target is limited to {MAX_TARGET_BYTES} bytes")
            raise _Refused
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > MAX_HEADER_BYTES:
            self._refusal = (431, "request header fields too large",
                             f"headers are limited to {MAX_HEADER_BYTES} bytes in all")
            raise _Refused
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        status, error, detail = getattr(self, "_refusal", None) or (
            400, "bad request", "malformed HTTP request")
        self._answer_and_close(status, error, detail)

    def _answer_and_close(self, status: int, error: str, detail: str) -> None:
        """An error the server answers itself, the application never asked, as JSON; the connection's last."""
        body = json.dumps({"error": error, "detail": detail}, separators=(",", ":")).encode()
        reason = {400: b"Bad Request", 408: b"Request Timeout", 414: b"URI Too Long",
                  431: b"Request Header Fields Too Large"}[status]
        head = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
        head += [b"%s: %s\r\n" % pair for pair in JSON_HEADERS]
        head += [b"content-length: %d\r\n" % len(body), b"connection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


class AccessLog:
    """The access lines of one turn of the event loop, written together at its end: one write to stdout (and
    one wake-up of whatever reads it) per turn instead of one per request. A line is made when its answer has
    been handed to the connection, and written before the loop waits for anything again."""

    def __init__(self, logger: JsonLogger) -> None:
        self.logger = logger
        self.lines: list[str] = []
        self._handle: asyncio.Handle | None = None

    def request(self, **fields: Any) -> None:
        self.lines.append(self.logger.line("INFO", "request", **fields))
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._handle = None
        if self.lines:
            lines, self.lines = self.lines, []
            self.logger.write_lines(lines)


class AsgiAdapter:
    """`MetadataApi` as an ASGI application: the answer as JSON, one access line per request."""

    def __init__(self, api: MetadataApi, logger: JsonLogger) -> None:
        self.api, self.logger = api, logger
        self.access = AccessLog(logger)

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":  # websockets are not served (uvicorn refuses the upgrade before this)
            return
        started = time.perf_counter()
        method = scope["method"]
        target = scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")
        length, chunked, expects_continue = self._body_size(scope["headers"])
        declared_too_large = length is not None and length > MAX_BODY_BYTES
        close = False
        if declared_too_large and (expects_continue or (length is not None and length > MAX_DRAIN_BYTES)):
            # Refused without reading: the client waits for "100 Continue" before sending, or says it will send
            # more than is ever drained.
            received = 0
        elif chunked or length:
            drained = await self._drain(receive)
            if drained is None:
                return  # the client went away while sending
            received = drained
        else:
            received = 0
        if declared_too_large or received > MAX_BODY_BYTES:
            response = error_response(413, "payload too large",
                                      f"this API takes no request body (at most {MAX_BODY_BYTES} bytes)")
            close = True
        else:
            try:
                response = await self.api.handle(method, target)
            except Exception as exc:  # noqa: BLE001 - the last line of defence: a JSON 500, never a traceback
                self.logger.error("unhandled_error", path=target[:200], error=f"{type(exc).__name__}: {exc}")
                response = error_response(500, "internal error", "the request failed; see the service log")
        body = response.encode()
        headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
        if close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
        self.access.request(method=method, path=target[:200], status=response.status,
                            ms=round((time.perf_counter() - started) * 1000, 2), cache=response.headers.get("X-Cache"))

    @staticmethod
    def _body_size(headers: list[tuple[bytes, bytes]]) -> tuple[int | None, bool, bool]:
        """(Content-Length or None, chunked, Expect: 100-continue); a length that is not a number counts as too
        large."""
        length, chunked, expects_continue = None, False, False
        for name, value in headers:
            if name == b"content-length":
                length = whole(value)
                length = MAX_BODY_BYTES + 1 if length is None else length
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"expect" and value.lower() == b"100-continue":
                expects_continue = True
        return length, chunked, expects_continue

    @staticmethod
    async def _drain(receive: Callable) -> int | None:
        """Read the request body to its end (or MAX_DRAIN_BYTES), keeping none of it; the bytes read, or None
        when the client disconnected first."""
        received = 0
        while received <= MAX_DRAIN_BYTES:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            received += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        return received

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.api.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.access.flush()
                await send({"type": "lifespan.shutdown.complete"})
                return


class _LogBridge(logging.Handler):
    """uvicorn's own log records (warnings and errors) as JSON lines of the service's logger."""

    def __init__(self, logger: JsonLogger) -> None:
        super().__init__(logging.WARNING)
        self.json = logger

    def emit(self, record: logging.LogRecord) -> None:
        self.json.log(record.levelname, "server_log", message=record.getMessage()[:1000])


class ApiServer(uvicorn.Server):
    """uvicorn's server on a socket bound here (a taken port is a clear OSError, before anything starts),
    stopped by the service's stop event instead of its own signal handlers."""

    def __init__(self, address: tuple[str, int], api: MetadataApi, logger: JsonLogger, *,
                 header_timeout_s: float = HEADER_TIMEOUT_S, body_timeout_s: float = BODY_TIMEOUT_S,
                 keep_alive_s: float = KEEP_ALIVE_S, max_connections: int | None = None) -> None:
        """`max_connections` None: what this process's descriptor limit leaves beside the database pool."""
        self.logger, self.api = logger, api
        if max_connections is None:
            max_connections = connection_limit(resource.getrlimit(resource.RLIMIT_NOFILE)[0], api.db.max_size)
        self.budget = ConnectionBudget(max_connections, logger)
        self.socket = socket.create_server(address, backlog=1024, reuse_port=False)  # OSError: port taken
        protocol = functools.partial(BoundedProtocol, budget=self.budget, header_timeout_s=header_timeout_s,
                                     body_timeout_s=body_timeout_s)
        # ws="none": an upgrade is answered as a plain request; were a WebSocket library installed, uvicorn would
        # hand the connection to another protocol, and it would never leave the connection budget.
        self.adapter = AsgiAdapter(api, logger)
        config = uvicorn.Config(self.adapter,
                                http=protocol,  # type: ignore[arg-type]  # typed a class; uvicorn only calls it
                                ws="none", loop="uvloop",
                                lifespan="on", log_config=None, log_level="warning", access_log=False,
                                server_header=False, proxy_headers=False,
                                # typed int; uvicorn hands it to loop.call_later, which takes any seconds
                                timeout_keep_alive=keep_alive_s,  # type: ignore[arg-type]
                                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, backlog=1024)
        super().__init__(config)
        bridge = _LogBridge(logger)
        for name in ("uvicorn", "uvicorn.error"):
            log = logging.getLogger(name)
            log.handlers = [bridge]
            log.propagate = False

    @property
    def server_address(self) -> tuple[str, int]:
        return self.socket.getsockname()[:2]

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # run_service's Shutdown owns SIGTERM/SIGINT and sets the stop event


def serve_until(server: ApiServer, stop: threading.Event) -> None:
    """Serve until `stop` is set, then stop accepting, close idle keep-alive connections, finish in-flight
    requests (for at most GRACEFUL_SHUTDOWN_S) and return."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        serving = asyncio.ensure_future(server.serve(sockets=[server.socket]))
        stopped = loop.run_in_executor(None, stop.wait)
        await asyncio.wait((serving, stopped), return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        await serving
        server.adapter.access.flush()  # the last turn's lines, whatever ended the serving
        await server.api.close()

    server.logger.info("api_started", port=server.server_address[1])
    try:
        uvloop.run(main())
    finally:
        stop.set()  # releases the watcher thread when the server ended by itself
        server.socket.close()
    server.logger.info("api_stopped")
