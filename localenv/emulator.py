"""The local AWS stand-in: a moto server on 127.0.0.1 (a free port), configured for this stack."""

from __future__ import annotations

import logging
import os
import socket
import urllib.request
from contextlib import contextmanager
from collections.abc import Iterator

from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

# moto gap: ECS services never start tasks; report the stack's minimum (2) as running so the emulated
# environment looks like a healthy deployment. Set before any service is created.
EMULATED_RUNNING_TASKS = "2"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def configure_moto() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines in the operator's output
    os.environ["MOTO_ECS_SERVICE_RUNNING"] = EMULATED_RUNNING_TASKS
    # No Docker here: Lambda functions are created, never run (secret rotation is recorded, not executed).
    default_user_config["lambda"]["use_docker"] = False


@contextmanager
def moto_server(port: int | None = None) -> Iterator[str]:
    """A moto server on 127.0.0.1 for the duration of the block; yields its endpoint URL."""
    configure_moto()
    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its state per process: start every emulator empty, whatever ran before in this process.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
    try:
        yield endpoint
    finally:
        server.stop()
