"""The metadata API's HTTP server (behind the NLB and API Gateway): a threading HTTP/1.1 server on port
8080, JSON access lines, graceful stop on SIGTERM (in-flight requests finish, then the pool closes)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from services.common.log import JsonLogger
from services.metadata_api.app import MetadataApi, Response, error_response


class ApiServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() waits for in-flight requests
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: MetadataApi, logger: JsonLogger) -> None:
        self.api, self.logger = api, logger
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle on, keep-alive clients waited for the delayed ACK
    # (~40 ms per request: bench/api_load.py measured 180 req/s and p50 44 ms before this line).
    disable_nagle_algorithm = True
    server_version = "streamtech-metadata-api"
    sys_version = ""

    def _serve(self) -> None:
        started = time.perf_counter()
        try:
            response = self.server.api.handle(self.command, self.path)
        except Exception as exc:  # the last line of defence: a JSON 500, logged, never a traceback to clients
            self.server.logger.error("unhandled_error", path=self.path, error=f"{type(exc).__name__}: {exc}")
            response = error_response(500, "internal error", "the request failed; see the service log")
        self._send(response)
        self.server.logger.info("request", method=self.command, path=self.path, status=response.status,
                                ms=round((time.perf_counter() - started) * 1000, 2),
                                cache=response.headers.get("X-Cache"))

    def _send(self, response: Response) -> None:
        body = response.encode()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _serve

    def _not_allowed(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        pass  # access lines are written as JSON by _serve


def serve_until(server: ApiServer, stop: threading.Event) -> None:
    """Serve until `stop` is set, then stop accepting, finish in-flight requests and return."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    server.logger.info("api_started", port=server.server_address[1])
    stop.wait()
    server.shutdown()
    server.server_close()
    thread.join()
    server.logger.info("api_stopped")
