"""The metadata API closes connections that send nothing: a deadline for each request head (a silent
connection, a head trickled a byte at a time, a late head on a kept-alive connection), a deadline for each
request body (a body half sent, or trickled), the keep-alive timeout, and a connection limit under the
descriptor limit so that /health answers through a flood of connections that are idle or owe a body."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from localenv.emulator import free_port
from services.metadata_api.server import connection_limit
from tests.services.conftest import received_until, request, running

# Only a guard against a hang: each test waits for an outcome (the server closed the connection), never for a time.
HANG_GUARD_S = 30
ROOT = Path(__file__).resolve().parents[2]


def closed_by_server(sock: socket.socket, guard: float = HANG_GUARD_S) -> bool:
    """Whether the server closes `sock` (end of stream or a reset) before the guard; whatever it sends first
    is read and dropped."""
    sock.settimeout(guard)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One Content-Length framed answer from `sock`: status, headers (lower-case names), body."""
    sock.settimeout(HANG_GUARD_S)
    head, _, body = received_until(sock, b"\r\n\r\n").partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "closed in the middle of an answer"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def still_open(sock: socket.socket) -> bool:
    """Whether the server has not closed `sock` yet (without waiting)."""
    try:
        return sock.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False


HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(api_pool, redis_settings, log):
    with running(api_pool, redis_settings, log, header_timeout_s=0.5) as (server, _):
        with socket.create_connection(server.server_address) as silent:
            assert closed_by_server(silent)
        assert request(server.server_address[1], "GET", "/health")[0] == 200  # a request sent at once is served


def _trickled_until_closed(sock: socket.socket, piece: bytes) -> bool:
    """Send `piece` again and again, a tenth of a second apart, until the server closes the connection (True) or
    the hang guard runs out (False). The pacing only spaces the pieces; the close is what is observed."""
    guard = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < guard:
        try:
            sock.sendall(piece)
            readable, _, _ = select.select([sock], [], [], 0.1)
            if readable and sock.recv(65536) == b"":
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def test_a_head_trickled_a_byte_at_a_time_is_closed(api_pool, redis_settings, log):
    """A slow-header client: each byte comes well within the timeout, the head never ends. The deadline runs
    from the connection, so the bytes do not push it back."""
    with running(api_pool, redis_settings, log, header_timeout_s=0.5) as (server, _):
        with socket.create_connection(server.server_address) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            closed = _trickled_until_closed(sock, b"a")
            assert closed, "a head trickled byte by byte kept its connection open"


def test_an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout(api_pool, redis_settings, log):
    with running(api_pool, redis_settings, log, header_timeout_s=60, keep_alive_s=0.5) as (server, _):
        with socket.create_connection(server.server_address) as sock:
            sock.sendall(HEALTH)
            status, headers, _ = read_answer(sock)
            assert status == 200 and headers.get("connection") != "close"  # kept alive, then idle
            assert closed_by_server(sock)


def test_a_later_head_on_a_kept_alive_connection_has_its_own_deadline(api_pool, redis_settings, log):
    """uvicorn drops its keep-alive timer at the first byte of the next request and arms it again only after
    an answer: a head begun and never finished kept the connection for good."""
    with running(api_pool, redis_settings, log, header_timeout_s=0.5, keep_alive_s=60) as (server, _):
        with socket.create_connection(server.server_address) as sock:
            sock.sendall(HEALTH)
            assert read_answer(sock)[0] == 200
            sock.sendall(b"GET /health HTTP/1.1\r\n")  # the next head, never finished
            assert closed_by_server(sock)


def test_a_late_head_behind_a_request_in_flight_lets_that_answer_finish(api_pool, redis_settings, log):
    """The head deadline of the next request never cuts the answer to the current one: that answer comes
    whole, marked as the connection's last, and then the connection closes."""
    with running(api_pool, redis_settings, log, header_timeout_s=0.5, keep_alive_s=60) as (server, _):
        original = server.api.health

        async def slower_than_the_header_timeout():
            await asyncio.sleep(1.0)  # the next head's deadline (0.5 s, armed first) falls due before this ends
            return await original()

        server.api.health = slower_than_the_header_timeout
        with socket.create_connection(server.server_address) as sock:
            sock.sendall(HEALTH + b"GET /health HTTP/1.1\r\n")
            status, headers, body = read_answer(sock)
            assert status == 200 and json.loads(body)["status"] == "ok" and headers.get("connection") == "close"
            assert closed_by_server(sock)


def test_past_the_connection_limit_the_longest_waiting_connection_is_closed(api_pool, redis_settings, log):
    """At the limit, a new connection closes the one that has waited longest for a request; one with a request
    in flight is never cut, older though it is, and the new one is served."""
    with running(api_pool, redis_settings, log, header_timeout_s=60, max_connections=2) as (server, _):
        original, entered, release = server.api.popular, threading.Event(), threading.Event()

        async def held(query):
            entered.set()
            await asyncio.get_running_loop().run_in_executor(None, release.wait, HANG_GUARD_S)
            return await original(query)

        server.api.popular = held
        with socket.create_connection(server.server_address) as busy, \
                socket.create_connection(server.server_address) as waiting:
            busy.sendall(b"GET /videos/popular HTTP/1.1\r\nHost: x\r\n\r\n")
            assert entered.wait(HANG_GUARD_S)
            with socket.create_connection(server.server_address) as new:  # the third: one must go
                new.sendall(HEALTH)
                assert read_answer(new)[0] == 200
                assert closed_by_server(waiting)
            release.set()
            assert read_answer(busy)[0] == 200
    assert log.events("connections_shed")[0]["limit"] == 2


HALF_BODY = b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nAB"  # 2 bytes of the 100 announced


def wait_for_requests(server, count: int) -> None:
    """Until `count` requests have a complete head on the server (each has its ASGI task, which reads a body
    before anything is answered)."""
    guard = time.monotonic() + HANG_GUARD_S
    while len(server.server_state.tasks) < count:
        assert time.monotonic() < guard, f"{len(server.server_state.tasks)} of {count} requests began"
        select.select([], [], [], 0.01)


@pytest.mark.parametrize("data, answers", [(HALF_BODY, []), (HEALTH + HALF_BODY, [200])],
                         ids=["first request", "pipelined behind an answer"])
def test_a_half_sent_body_is_answered_408_and_the_connection_closed(api_pool, redis_settings, log, data, answers):
    """A complete head announcing 100 bytes, then 2 of them: the head deadline has stopped, and nothing read the
    body with a deadline, so the connection was held for good. Behind a pipelined request, the body's deadline
    starts when that request's answer is done."""
    with running(api_pool, redis_settings, log, header_timeout_s=60, body_timeout_s=0.5) as (server, _):
        with socket.create_connection(server.server_address) as sock:
            sock.sendall(data)
            assert [read_answer(sock)[0] for _ in answers] == answers
            status, headers, body = read_answer(sock)
            assert status == 408 and headers["content-type"] == "application/json"
            assert headers["connection"] == "close"
            assert json.loads(body) == {"error": "request timeout",
                                        "detail": "the request body did not arrive in full within 0.5 s"}
            assert closed_by_server(sock)


def test_a_body_trickled_forever_is_closed(api_pool, redis_settings, log):
    """A slow-body client: each byte well within the deadline, the body never ends. The deadline runs from the
    end of the head, so the bytes do not push it back."""
    with running(api_pool, redis_settings, log, header_timeout_s=60, body_timeout_s=0.5) as (server, _):
        with socket.create_connection(server.server_address) as sock:
            sock.sendall(b"POST /videos HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            closed = _trickled_until_closed(sock, b"1\r\nv\r\n")
            assert closed, "a body trickled byte by byte kept its connection open"


def test_a_slow_body_complete_within_the_deadline_is_answered(api_pool, redis_settings, log):
    """A body that comes in pieces, over longer than the head deadline but within the body's, is read to its
    end and the request answered on a connection kept alive."""
    with running(api_pool, redis_settings, log, header_timeout_s=0.5, body_timeout_s=HANG_GUARD_S) as (server, _):
        with socket.create_connection(server.server_address) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
            for _ in range(10):  # a byte a tenth of a second: 1 s, twice the head deadline
                select.select([], [], [], 0.1)
                sock.sendall(b"v")
            status, headers, body = read_answer(sock)
            assert status == 200 and json.loads(body)["status"] == "ok" and headers.get("connection") != "close"
            sock.sendall(HEALTH)  # still served: the answer did not end the connection
            assert read_answer(sock)[0] == 200


def test_past_the_connection_limit_a_connection_still_receiving_its_body_is_closed(api_pool, redis_settings, log):
    """Connections that sent a head and part of a body fill the limit beside one whose request is being
    answered: the new connection (a health check) is served, the oldest of those owing a body is closed, and
    the request being answered, older still, is not cut. They counted as requests in flight, so the new
    connection was the one closed, and /health failed for as long as they stayed."""
    with running(api_pool, redis_settings, log, header_timeout_s=60, body_timeout_s=60,
                 max_connections=4) as (server, _):
        original, entered, release = server.api.popular, threading.Event(), threading.Event()

        async def held(query):
            entered.set()
            await asyncio.get_running_loop().run_in_executor(None, release.wait, HANG_GUARD_S)
            return await original(query)

        server.api.popular = held
        busy = socket.create_connection(server.server_address)
        halves = [socket.create_connection(server.server_address) for _ in range(3)]
        try:
            busy.sendall(b"GET /videos/popular HTTP/1.1\r\nHost: x\r\n\r\n")
            assert entered.wait(HANG_GUARD_S)
            for sock in halves:
                sock.sendall(HALF_BODY)
            wait_for_requests(server, 4)  # every head complete: each half body is now the server's to wait for
            with socket.create_connection(server.server_address) as probe:
                probe.sendall(HEALTH)
                status, _, body = read_answer(probe)
                assert status == 200 and json.loads(body)["status"] == "ok"
            assert closed_by_server(halves[0])
            assert still_open(halves[1]) and still_open(halves[2])
            release.set()
            assert read_answer(busy)[0] == 200
        finally:
            for sock in [busy, *halves]:
                sock.close()


def accept_queue(port: int) -> int:
    """Connections waiting in the accept queue of the IPv4 socket listening on `port` (Linux)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
            return int(fields[4].split(":")[1], 16)  # for a listening socket, rx_queue is that queue
    raise AssertionError(f"nothing listens on port {port}")


def wait_for_event(lines: queue.Queue, event: str) -> None:
    guard = time.monotonic() + HANG_GUARD_S
    while (line := lines.get(timeout=max(0.0, guard - time.monotonic()))) is not None:
        if json.loads(line).get("event") == event:
            return
    pytest.fail(f"the API exited before {event}")


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the accept queue from Linux's /proc")
def test_health_answers_with_a_descriptor_limits_worth_of_idle_connections_open(postgres, redis_server):
    """The service as it runs (its own process) under a 128-descriptor limit, with 128 connections that send
    nothing. libuv meets EMFILE by accepting and at once closing every new connection, so /health failed until
    the idle ones went away; now the oldest are shed past the connection limit, the rest closed at the header
    timeout."""
    descriptors, pool_size, port = 128, 4, free_port()
    env = {**postgres.environment(), **redis_server.environment(), "PORT": str(port), "BIND_ADDRESS": "127.0.0.1",
           "DB_POOL_SIZE": str(pool_size), "HEADER_TIMEOUT_S": "2", "PATH": os.environ["PATH"]}
    api = subprocess.Popen(["sh", "-c", f'ulimit -n {descriptors} && exec "$0" -m services.metadata_api',
                            sys.executable], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()  # its log, read all along so that it never blocks on a full pipe
    threading.Thread(target=lambda: [*map(lines.put, api.stdout), lines.put(None)], daemon=True).start()
    idle: list[socket.socket] = []
    try:
        wait_for_event(lines, "api_started")
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(descriptors)]
        guard = time.monotonic() + HANG_GUARD_S
        while accept_queue(port) and time.monotonic() < guard:  # the server has taken (or refused) every one
            select.select([], [], [], 0.05)
        status, _, body = request(port, "GET", "/health")
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert sum(map(still_open, idle)) <= connection_limit(descriptors, pool_size)
        assert all(closed_by_server(sock) for sock in idle)  # the rest, at the header timeout
    finally:
        for sock in idle:
            sock.close()
        api.terminate()
        api.wait(HANG_GUARD_S)
