"""The metadata API served over HTTP (services/metadata_api/server.py) against the real PostgreSQL and Redis: JSON
answers and errors, keep-alive, request bodies, shutdown, the access log. Its deadlines and connection limit:
test_api_connections.py."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading

import pytest

from services.common.cache import video_key
from services.metadata_api.server import AccessLog, ApiServer
from tests.polling import poll
from tests.services.conftest import received_until, request, running


def test_the_http_server_speaks_json_and_keeps_connections_alive(http_api, stored, log, cache):
    """A hit is answered with the cache entry as stored, the same bytes as the miss that stored it."""
    status, headers, body = request(http_api, "GET", f"/videos/{stored[0]['id']}")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["id"] == stored[0]["id"] and headers["X-Cache"] == "MISS"
    status, hit_headers, hit = request(http_api, "GET", f"/videos/{stored[0]['id']}")
    assert hit_headers["X-Cache"] == "HIT" and hit == body == cache.client.get(video_key(stored[0]["id"])).encode()
    status, headers, body = request(http_api, "HEAD", "/health")
    assert status == 200 and body == b""
    status, headers, body = request(http_api, "DELETE", "/videos")
    assert status == 405 and json.loads(body)["error"] == "method not allowed"
    conn = http.client.HTTPConnection("127.0.0.1", http_api, timeout=10)
    for _ in range(3):  # HTTP/1.1 keep-alive: three requests, one connection
        conn.request("GET", "/health")
        assert conn.getresponse().read()
    conn.close()
    access = [r for r in log.records if r.get("event") == "request"]
    assert {"method", "path", "status", "ms"} <= set(access[0])


def test_an_unexpected_error_is_a_json_500_and_a_log_line(http_api, served, log, monkeypatch):
    monkeypatch.setattr(served.api, "list_videos", lambda query: 1 / 0)
    status, _, body = request(http_api, "GET", "/videos")
    assert status == 500 and json.loads(body) == {"error": "internal error",
                                                  "detail": "the request failed; see the service log"}
    assert log.events("unhandled_error")[0]["error"].startswith("ZeroDivisionError")


def raw(port: int, data: bytes, *, timeout: float = 5) -> bytes:
    """Send bytes as they are; everything the server answers until it closes (or the timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


def responses(data: bytes) -> list[tuple[int, dict, bytes]]:
    """Split a byte stream of HTTP/1.1 responses (Content-Length framed)."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers.get("content-length", 0))
        out.append((int(lines[0].split()[1]), headers, rest[:length]))
        data = rest[length:]
    return out


@pytest.mark.parametrize("data, status, error", [
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri too long"),
    (b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"b" * 20000 + b"\r\n\r\n", 431,
     "request header fields too large"),
    (b"BREW /pot HTCPCP/1.0\r\n\r\n", 400, "bad request"),
    (b"GET /health HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400, "bad request"),
    (b"POST /videos HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413, "payload too large"),
], ids=["target-of-5000", "header-of-20000", "unknown-method", "two-lengths", "body-too-large"])
def test_protocol_errors_are_json_too(http_api, data, status, error):
    """Issue 12: 414, 431 and 501 came back as HTML, while the README promises JSON errors."""
    [(code, headers, body)] = responses(raw(http_api, data))
    assert code == status and headers["content-type"] == "application/json"
    assert json.loads(body)["error"] == error and headers.get("connection") == "close"


def _chunked(size: int, piece: int = 65536) -> bytes:
    body = bytearray()
    for start in range(0, size, piece):
        chunk = b"v" * min(piece, size - start)
        body += b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    return bytes(body) + b"0\r\n\r\n"


@pytest.mark.parametrize("head, body", [
    (b"POST /videos HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", _chunked(6_500_000)),
    (b"POST /videos HTTP/1.1\r\nHost: x\r\nContent-Length: 6500000\r\n\r\n", b"v" * 6_500_000),
], ids=["chunked", "content-length"])
def test_an_oversized_body_gets_a_json_413_not_a_reset(http_api, head, body):
    """A 6.5 MB body, chunked or not: it is read to its end and discarded, then answered with a JSON 413 (closing
    with the client's bytes unread made the kernel reset the connection before the client read the answer)."""
    [(code, headers, answer)] = responses(raw(http_api, head + body))
    assert code == 413 and headers["content-type"] == "application/json" and headers["connection"] == "close"
    assert json.loads(answer) == {"error": "payload too large",
                                  "detail": "this API takes no request body (at most 65536 bytes)"}


def test_expect_100_continue_is_answered_before_the_body_comes(http_api):
    """A client that waits for 100 Continue before sending its body gets it, then its answer."""
    with socket.create_connection(("127.0.0.1", http_api), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        interim = received_until(sock, b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(b"hello")
        answer = received_until(sock, b'"status"')
    assert answer.startswith(b"HTTP/1.1 200 OK")


def test_a_small_chunked_body_is_read_and_the_request_answered(http_api):
    data = (b"GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(10) +
            b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert [code for code, _, _ in responses(raw(http_api, data))] == [200, 200]  # the connection kept alive


def test_a_request_body_is_never_read_as_a_second_request(http_api, stored):
    """Issue 12: http.server did not drain a body, so a POST's body was parsed as the next request on the
    connection (a request-smuggling opening). Here the body holds a complete GET; only two answers come."""
    smuggled = f"GET /videos/{stored[0]['id']} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    data = (b"POST /videos HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(smuggled) + smuggled +
            b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answers = responses(raw(http_api, data))
    assert [code for code, _, _ in answers] == [405, 200]
    assert json.loads(answers[1][2])["status"] == "ok"


def test_sigterm_with_an_idle_keep_alive_client_stops_at_once(api_pool, redis_settings, log):
    """Issue 12: with one idle keep-alive client, http.server never finished on SIGTERM (no socket timeout,
    threads joined on close). Now idle connections are closed at shutdown and in-flight requests finish."""
    with running(api_pool, redis_settings, log) as (server, stop):
        idle = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        idle.request("GET", "/health")
        assert idle.getresponse().read()  # now idle, the connection kept open
        stop.set()
        # The bug was never stopping at all: the bound turns that into a failure; it does not measure the stop.
        poll(lambda: any(r["event"] == "api_stopped" for r in log.records), "SIGTERM stopping the API", 60,
             every=0.02)
        idle.close()
    assert [r["event"] for r in log.records if r["event"].startswith("api_")] == ["api_started", "api_stopped"]


def test_an_in_flight_request_finishes_during_shutdown(api_pool, redis_settings, log, stored):
    with running(api_pool, redis_settings, log) as (server, stop):
        original, entered = server.api.health, threading.Event()

        async def slow():
            entered.set()
            # In flight until the shutdown has begun (the server no longer accepts), however busy the machine;
            # then past uvicorn's 0.1 s pause before it waits for what is in flight (timers of one loop fire in
            # order), so the answer comes while the shutdown waits for it.
            assert server.servers, "uvicorn keeps no listening servers here: the wait below would prove nothing"
            while any(listening.is_serving() for listening in server.servers):
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            return await original()

        server.api.health = slow
        result = {}
        client = threading.Thread(target=lambda: result.update(
            answer=request(server.server_address[1], "GET", "/health")))
        client.start()
        assert entered.wait(20)  # the request is in flight (a fixed sleep lost the race on a loaded machine)
        stop.set()
        client.join(10)
    assert result["answer"][0] == 200 and json.loads(result["answer"][2])["status"] == "ok"
    assert [r["path"] for r in log.events("request")] == ["/health"]  # its access line written before the stop


def test_the_access_lines_of_one_loop_turn_are_one_write(log):
    writes = []
    stream_write = log.buffer.write
    log.buffer.write = lambda text: writes.append(text) or stream_write(text)

    async def turn():
        access = AccessLog(log)
        for n in range(5):
            access.request(method="GET", path=f"/videos/{n}", status=200, ms=0.1, cache="HIT")
        assert not writes  # nothing yet: the turn is not over
        await asyncio.sleep(0)
        return access

    access = asyncio.run(turn())
    assert len(writes) == 1 and [r["path"] for r in log.events("request")] == [f"/videos/{n}" for n in range(5)]
    access.flush()  # nothing left: no empty write
    assert len(writes) == 1


def test_a_taken_port_is_a_clear_error_not_a_traceback(api):
    holder = socket.create_server(("127.0.0.1", 0))
    try:
        with pytest.raises(OSError, match="in use"):
            ApiServer(("127.0.0.1", holder.getsockname()[1]), api.core, api.logger)
    finally:
        holder.close()


def test_an_unexpected_error_with_a_huge_text_is_logged_cut(http_api, served, log, monkeypatch):
    """An exception's text can hold what the request carried: a line longer than the log's limit holds its first
    FIELD_LIMIT characters and says how many more were cut."""
    from services.common.log import FIELD_LIMIT

    def fail(query):
        raise RuntimeError("z" * 1_000_000)

    monkeypatch.setattr(served.api, "list_videos", fail)
    status, _, _ = request(http_api, "GET", "/videos")
    [event] = log.events("unhandled_error")
    assert status == 500 and event["error"] == "RuntimeError: " + "z" * (FIELD_LIMIT - 14) + \
        f"…[{1_000_014 - FIELD_LIMIT} more characters cut]"
