"""localenv's emulator answers each connection in a thread it keeps (localenv.emulator.PooledWSGIServer): threads
are reused, a connection never waits for another, and the threads stop with the server. Every assertion observes
the server's state or a rendezvous of requests, never a clock: a busy machine changes how long, not what."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from localenv.emulator import PooledWSGIServer

GATHERED = 12
_together = threading.Barrier(GATHERED)


def _app(environ, start_response):
    if environ["PATH_INFO"] == "/together":
        # Answers only once GATHERED requests are inside the application at the same time: served one after
        # another, the barrier breaks (its timeout is a bound against a hang, not a measure of speed).
        _together.wait(timeout=60)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _until(condition, what: str, bound: float = 60.0) -> None:
    """Wait for `condition()` to hold (a state of the server, observed); the bound only turns a hang into a
    failure and says nothing about speed."""
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.01)


@pytest.fixture
def server() -> Iterator[PooledWSGIServer]:
    server = PooledWSGIServer("127.0.0.1", 0, _app)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    yield server
    server.shutdown()
    serving.join(5)


def _get(server: PooledWSGIServer, path: str = "/", timeout: float = 30) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}{path}", timeout=timeout) as answer:
        return answer.read()


def test_one_request_after_another_reuses_the_same_thread(server):
    """Each request is sent once the thread that answered the one before is idle again (observed, not waited
    for by a clock): then every request finds it, and werkzeug's own threaded server would have started thirty."""
    for _ in range(30):
        assert _get(server) == b"ok"
        _until(lambda: server.idle_threads == len(server.threads), "the answering thread is idle again")
    assert len(server.threads) == 1, server.threads


def test_concurrent_requests_each_get_a_thread_and_none_waits_for_another(server):
    _together.reset()
    with ThreadPoolExecutor(max_workers=GATHERED) as pool:
        answers = list(pool.map(lambda _: _get(server, "/together", timeout=90), range(GATHERED)))
    assert answers == [b"ok"] * GATHERED  # all GATHERED were inside the application at once
    assert len(server.threads) >= GATHERED


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
        list(pool.map(lambda _: _get(server), range(3)))
    server.shutdown()
    serving.join(5)
    for thread in server.threads:
        thread.join(5)
    assert server.threads and not any(thread.is_alive() for thread in server.threads)


def test_a_response_never_writes_its_member_choices_into_state_shared_between_requests(monkeypatch):
    """moto wrote ECS's include=TAGS choice into a dict its response class shares with every thread, which another
    thread's answer was iterating ("dictionary changed size during iteration", once in ten runs under load). With
    the emulator's configuration the class's dict is never written, whatever a request includes."""
    import boto3
    from moto import mock_aws
    from moto.ecs.responses import EC2ContainerServiceResponse

    from localenv.emulator import configure_moto

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    configure_moto()
    before = dict(EC2ContainerServiceResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER)
    with mock_aws():
        ecs = boto3.client("ecs", region_name="ap-northeast-1")
        ecs.create_cluster(clusterName="c", tags=[{"key": "Project", "value": "p"}])
        tagged = ecs.describe_clusters(clusters=["c"], include=["TAGS"])["clusters"][0]
        untagged = ecs.describe_clusters(clusters=["c"])["clusters"][0]
    assert tagged["tags"] == [{"key": "Project", "value": "p"}]
    assert not untagged.get("tags")  # the choice of one request does not leak into the next
    assert before == EC2ContainerServiceResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER
