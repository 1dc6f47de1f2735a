"""Redis commands from an asyncio event loop over one TLS connection, auto-pipelined as ioredis does: the
commands issued during one turn of the loop (by every request that reached Redis in it) go out in one write,
and Redis, which answers a connection's commands in order, sends their replies back in that order.

Why not redis-py's asyncio client: it takes a pooled connection per command, writes it, and awaits its reply
under a timeout context before the connection is free again: one write, one TLS record and one read per
command, and the pool's condition and timeout bookkeeping around each. Here a command costs its encoding, a
future, its share of one write per turn, and its reply parsed in place when the bytes arrive.

Same semantics as the client it replaces for the commands the API sends: TLS with the server's certificate and
name verified, AUTH first, a bounded wait (`timeout_s`) to connect and for each reply, and redis-py's own
exception classes (an error reply fails its command only; a connection that fails or times out fails every
command waiting on it, and the next command opens a new connection). RESP2 replies: bulk and simple strings
as bytes, integers, arrays as lists, nil as None."""

from __future__ import annotations

import asyncio
import collections
import ssl
from typing import Any

from redis import exceptions

# redis-py's own table from error replies to exception classes, so that a reply fails here as it would there
# (NOSCRIPT is NoScriptError, WRONGPASS and NOAUTH are AuthenticationError, ...).
from redis._parsers.base import BaseParser

from services.common.settings import RedisSettings

INCOMPLETE = object()  # parse(): the buffer does not hold the whole reply yet


def pack(args: tuple[Any, ...]) -> bytes:
    """A command as RESP: an array of bulk strings (str as UTF-8, int as its digits, bytes as they are)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int) and not isinstance(arg, bool):
            arg = b"%d" % arg
        elif not isinstance(arg, bytes):
            raise TypeError(f"a Redis argument is str, int or bytes, not {type(arg).__name__}")
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def parse(buffer: bytearray, pos: int) -> tuple[Any, int]:
    """The reply that starts at `pos`, and where the next one starts; (INCOMPLETE, pos) when its bytes have
    not all arrived. An error reply is returned as its exception. ValueError: not RESP2."""
    end = buffer.find(b"\r\n", pos)
    if end < 0:
        return INCOMPLETE, pos
    kind = buffer[pos]
    if kind == 36:  # $ bulk string
        size = int(buffer[pos + 1:end])
        if size < 0:
            return None, end + 2
        stop = end + 2 + size
        if len(buffer) < stop + 2:
            return INCOMPLETE, pos
        if buffer[stop:stop + 2] != b"\r\n":
            raise ValueError("a bulk string longer than announced")
        return bytes(buffer[end + 2:stop]), stop + 2
    if kind == 58:  # : integer
        return int(buffer[pos + 1:end]), end + 2
    if kind == 43:  # + simple string
        return bytes(buffer[pos + 1:end]), end + 2
    if kind == 45:  # - error
        return BaseParser.parse_error(buffer[pos + 1:end].decode("utf-8", "replace")), end + 2
    if kind == 42:  # * array
        count = int(buffer[pos + 1:end])
        if count < 0:
            return None, end + 2
        items, at = [], end + 2
        for _ in range(count):
            item, at = parse(buffer, at)
            if item is INCOMPLETE:
                return INCOMPLETE, pos
            items.append(item)
        return items, at
    raise ValueError(f"unknown reply type {bytes([kind])!r}")


class _Connection(asyncio.Protocol):
    """One connection: the commands written and not yet answered, in order, each with its deadline."""

    def __init__(self, owner: AutoPipeline, loop: asyncio.AbstractEventLoop) -> None:
        self.owner = owner
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.pending: collections.deque[tuple[asyncio.Future, float]] = collections.deque()
        self.closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._suspect: asyncio.Future | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, data: bytes, waiters: list[asyncio.Future], deadline: float) -> None:
        if self.closed or self.transport is None:  # lost before its first use: nothing would ever answer these
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(exceptions.ConnectionError("Connection closed by server."))
            return
        self.pending.extend([(waiter, deadline) for waiter in waiters])
        self.transport.write(data)
        if self._timer is None:
            self._timer = self.loop.call_at(deadline, self._check)

    def data_received(self, data: bytes) -> None:
        buffer, pending = self.buffer, self.pending
        buffer += data
        pos = 0
        try:
            while pos < len(buffer):
                reply, after = parse(buffer, pos)
                if reply is INCOMPLETE:
                    break
                if not pending:
                    raise ValueError("a reply to no command")
                waiter = pending.popleft()[0]
                pos = after
                if not waiter.done():  # a waiter cancelled meanwhile: its reply is read and dropped
                    if isinstance(reply, exceptions.RedisError):
                        waiter.set_exception(reply)
                    else:
                        waiter.set_result(reply)
        except (ValueError, RecursionError) as exc:  # not RESP2, or nested past any reply of ours
            self.fail(exceptions.ConnectionError(f"Protocol error from Redis: {exc}"))
            return
        if pos:
            del buffer[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(exceptions.ConnectionError(
            "Connection closed by server." if exc is None else f"Error while reading from Redis: {exc}"))

    def _check(self) -> None:
        """At the oldest waiting command's deadline: a timeout if it is still waiting after one more read of
        the socket (a loop that was busy past the deadline may have its reply unread: timers run first)."""
        self._timer = None
        if not self.pending or self.closed:
            return
        oldest, deadline = self.pending[0]
        if self.loop.time() < deadline:
            self._suspect = None
            self._timer = self.loop.call_at(deadline, self._check)
        elif self._suspect is oldest:
            self.fail(exceptions.TimeoutError("Timeout reading from Redis"))
        else:
            self._suspect = oldest
            self._timer = self.loop.call_later(0.001, self._check)

    def fail(self, error: exceptions.RedisError) -> None:
        """The connection is done: every command waiting on it fails with `error`; a new one is opened for
        the next command."""
        if not self.closed:
            self.closed = True
            self.owner._lost(self)  # noqa: SLF001 - its owner's, in this module
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self.transport is not None:
                self.transport.abort()
        pending, self.pending = self.pending, collections.deque()
        for waiter, _ in pending:
            if not waiter.done():
                waiter.set_exception(type(error)(*error.args))


class AutoPipeline:
    """`execute(*command)` from the event loop it was made on; the reply, or redis-py's exception."""

    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings
        self.loop: asyncio.AbstractEventLoop | None = None  # the loop of the first command
        # As redis-py's TLS connection: the default context (system trust store, certificate and host name
        # required), with the configured CA bundle added.
        self.ssl = ssl.create_default_context()
        if settings.ca_bundle:
            self.ssl.load_verify_locations(cafile=settings.ca_bundle)
        self._connection: _Connection | None = None
        self._connecting: asyncio.Task | None = None
        self._queue: list[bytes] = []
        self._waiters: list[asyncio.Future] = []
        self._flush: asyncio.Handle | None = None
        self._closed = False

    def execute(self, *command: Any) -> asyncio.Future:
        """Queue one command for this turn's write; a future of its reply."""
        loop = self.loop
        if loop is None:
            loop = self.loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._queue.append(pack(command))
        self._waiters.append(waiter)
        if self._flush is None:
            self._flush = loop.call_soon(self._send, loop)
        return waiter

    def _send(self, loop: asyncio.AbstractEventLoop) -> None:
        self._flush = None
        if not self._queue:
            return
        connection = self._connection
        if connection is None:
            if self._closed:
                self._fail_queued(exceptions.ConnectionError("the Redis client is closed"))
            elif self._connecting is None:
                self._connecting = loop.create_task(self._connect(loop))
            return  # sent once connected
        data = b"".join(self._queue) if len(self._queue) > 1 else self._queue[0]
        waiters = self._waiters
        self._queue, self._waiters = [], []
        connection.send(data, waiters, loop.time() + self.settings.timeout_s)

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> None:
        host, port, timeout = self.settings.host, self.settings.port, self.settings.timeout_s
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self, loop), host, port, ssl=self.ssl, server_hostname=host,
                    ssl_handshake_timeout=timeout)
        except TimeoutError:
            self._fail_queued(exceptions.TimeoutError(f"Timeout connecting to {host}:{port}"))
            return
        except (OSError, ssl.SSLError) as exc:
            self._fail_queued(exceptions.ConnectionError(f"Error connecting to {host}:{port}: {exc}"))
            return
        finally:
            self._connecting = None
        if self._closed or connection.closed:  # closed meanwhile, by us or by the server
            connection.fail(exceptions.ConnectionError("Connection closed by server."))
            self._fail_queued(exceptions.ConnectionError(
                "the Redis client is closed" if self._closed else "Connection closed by server."))
            return
        # AUTH goes first, in the same write as the commands queued meanwhile; if it is refused they are
        # refused too (NOAUTH), and the connection is closed so that the next command authenticates anew.
        auth = loop.create_future()

        def refused(done: asyncio.Future) -> None:
            if not done.cancelled() and done.exception() is not None:
                connection.fail(exceptions.AuthenticationError("AUTH was refused"))

        auth.add_done_callback(refused)
        self._queue.insert(0, pack(("AUTH", self.settings.password)))
        self._waiters.insert(0, auth)
        self._connection = connection
        self._send(loop)

    def _fail_queued(self, error: exceptions.RedisError) -> None:
        waiters, self._queue, self._waiters = self._waiters, [], []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(type(error)(*error.args))

    def _lost(self, connection: _Connection) -> None:
        if self._connection is connection:
            self._connection = None

    def close(self) -> None:
        """Close the connection; commands still waiting fail, later ones too."""
        self._closed = True
        if self._connection is not None:
            self._connection.fail(exceptions.ConnectionError("the Redis client is closed"))
        if self._connecting is not None:
            self._connecting.cancel()
        self._fail_queued(exceptions.ConnectionError("the Redis client is closed"))
