"""The services' container health checks, as ECS runs them in the task (`python3 -m services.<service>.healthcheck`,
cdk_app/constructs): the worker's reads its heartbeat file (services/video_worker/healthcheck.py), the API's asks its
/health (services/metadata_api/healthcheck.py). Exit 0 is healthy; anything else, 1 (Docker's "unhealthy")."""

from __future__ import annotations

import contextlib
import http.server
import runpy
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from localenv.emulator import free_port
from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_OK


def exit_code(module: str) -> int:
    with pytest.raises(SystemExit) as ended:
        runpy.run_module(module, run_name="__main__")
    return ended.value.code


# --- the worker: its heartbeat ----------------------------------------------------------------------------------------

NOW = 1_800_000_000.0  # the clock the check reads, held still: its verdict is the heartbeat's age, never the load's


@pytest.mark.parametrize("heartbeat, code", [
    (lambda: str(NOW - 5), EXIT_OK),
    (lambda: str(NOW - 59.9), EXIT_OK),
    (lambda: str(NOW - 61), EXIT_FINDINGS),  # the loop stopped beating a minute ago
    (lambda: "not a time", EXIT_FINDINGS),
    (None, EXIT_FINDINGS),  # never written: the worker never started its loop
], ids=["fresh", "just-fresh", "stale", "garbled", "missing"])
def test_the_worker_is_healthy_while_its_heartbeat_is_fresh(heartbeat, code, tmp_path, monkeypatch):
    path = tmp_path / "heartbeat"
    if heartbeat is not None:
        path.write_text(heartbeat())
    monkeypatch.setenv("HEARTBEAT_FILE", str(path))
    monkeypatch.setattr(time, "time", lambda: NOW)
    assert exit_code("services.video_worker.healthcheck") == code


# --- the API: its /health ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def answering(status: int) -> Iterator[int]:
    """An HTTP server on 127.0.0.1 whose every GET is answered with `status`, for the block; its port."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})  # a quick shutdown
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.parametrize("status, code", [(200, EXIT_OK), (503, EXIT_FINDINGS)])
def test_the_api_is_healthy_when_its_health_answers_200(status, code, monkeypatch):
    with answering(status) as port:
        monkeypatch.setattr(sys, "argv", ["healthcheck", str(port)])
        assert exit_code("services.metadata_api.healthcheck") == code


def test_an_api_that_does_not_answer_is_unhealthy(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["healthcheck", str(free_port())])
    assert exit_code("services.metadata_api.healthcheck") == EXIT_FINDINGS
