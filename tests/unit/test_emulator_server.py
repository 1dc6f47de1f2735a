"""localenv's emulator answers each connection in a thread it keeps (localenv.emulator.PooledWSGIServer): threads
are reused, a connection never waits for another, and the threads stop with the server."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from localenv.emulator import PooledWSGIServer


def _app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(0.5)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.fixture
def server() -> Iterator[PooledWSGIServer]:
    server = PooledWSGIServer("127.0.0.1", 0, _app)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    yield server
    server.shutdown()
    serving.join(5)


def _get(server: PooledWSGIServer, path: str = "/") -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}{path}", timeout=5) as answer:
        return answer.read()


def test_one_request_after_another_reuses_the_same_thread(server):
    for _ in range(30):
        assert _get(server) == b"ok"
    # The answer reaches the client a moment before its thread is free again, so a second thread may start;
    # werkzeug's own threaded server would have started thirty.
    assert len(server.threads) <= 3, server.threads


def test_concurrent_requests_each_get_a_thread_and_none_waits_for_another(server):
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda _: _get(server, "/slow"), range(12)))
    assert answers == [b"ok"] * 12
    assert time.monotonic() - start < 3  # twelve 0.5 s answers one after another would take 6 s
    assert len(server.threads) >= 12


def test_a_client_that_never_sends_holds_only_its_own_thread(server):
    silent = socket.create_connection(("127.0.0.1", server.server_port))
    try:
        assert _get(server) == b"ok"
    finally:
        silent.close()


def test_the_threads_stop_with_the_server():
    server = PooledWSGIServer("127.0.0.1", 0, _app)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: _get(server, "/slow"), range(3)))
    server.shutdown()
    serving.join(5)
    for thread in server.threads:
        thread.join(5)
    assert server.threads and not any(thread.is_alive() for thread in server.threads)
