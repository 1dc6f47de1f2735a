"""The local AWS stand-in: a moto server on 127.0.0.1 (a free port), configured for this stack, over plain
HTTP or, given TLS files, over HTTPS only (the local pipeline's data plane).

moto gap closed here: moto evaluates S3 bucket policies without their conditions, so the TLS-only bucket
policy (Deny when `aws:SecureTransport` is false) would deny every object request. The emulator records each
request's scheme and evaluates `Bool` conditions on `aws:SecureTransport` from it, like S3: object requests
over HTTPS pass, over plain HTTP they are denied. Other conditions keep moto's own handling."""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.config import default_user_config
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.s3.models import FakeBucket
from werkzeug.serving import make_server

from localenv.tls import TlsFiles

# Made-up credentials for the local emulator (botocore needs some; moto accepts any).
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local-emulator", "AWS_SECRET_ACCESS_KEY": "local-emulator",
                     "AWS_DEFAULT_REGION": "ap-northeast-1"}

# moto gap: ECS services never start tasks; report the stack's minimum (2) as running so the emulated
# environment looks like a healthy deployment. Set before any service is created.
EMULATED_RUNNING_TASKS = "2"

_request = threading.local()  # the scheme of the request this server thread is handling


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _condition_verdict(conditions: dict[str, Any] | None, context: dict[str, str]) -> bool | None:
    """True when every condition is decidable here and holds, False when a decidable one fails, None when
    some condition is not ours to decide (left to moto, unchanged)."""
    if not conditions:
        return True
    verdict: bool | None = True
    for operator, pairs in conditions.items():
        for key, expected in pairs.items():
            if operator != "Bool" or key not in context:
                verdict = None
                continue
            allowed = [str(v).lower() for v in (expected if isinstance(expected, list) else [expected])]
            if context[key] not in allowed:
                return False
    return verdict


def bucket_permission(bucket: FakeBucket, action: str, resource: str) -> PermissionResult:
    """The bucket policy's verdict for one object request, with `aws:SecureTransport` evaluated."""
    if bucket.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(bucket.policy)
    statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
    # In-process moto (mock_aws) has no server request: botocore spoke HTTPS to the AWS endpoint.
    context = {"aws:SecureTransport": "true" if getattr(_request, "secure", True) else "false"}
    kept = []
    for statement in statements:
        verdict = _condition_verdict(statement.get("Condition"), context)
        if verdict is False:
            continue  # its condition does not hold for this request: the statement does not apply
        kept.append({k: v for k, v in statement.items() if k != "Condition"} if verdict else statement)
    return IAMPolicy(json.dumps({**policy, "Statement": kept})).is_action_permitted(action, resource)


def configure_moto() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines in the operator's output
    os.environ["MOTO_ECS_SERVICE_RUNNING"] = EMULATED_RUNNING_TASKS
    # No Docker here: Lambda functions are created, never run (secret rotation is recorded, not executed).
    default_user_config["lambda"]["use_docker"] = False
    FakeBucket.get_permission = bucket_permission  # type: ignore[method-assign]


class _SchemeRecorder:
    """WSGI middleware: remembers whether the request came over TLS, for `bucket_permission`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        _request.secure = environ.get("wsgi.url_scheme") == "https"
        return self.app(environ, start_response)


class _Server(ThreadedMotoServer):
    """moto's threaded server with the scheme recorder and, optionally, TLS."""

    def __init__(self, port: int, ssl_context: ssl.SSLContext | None) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self._ssl_context = ssl_context

    def _server_entry(self) -> None:
        app = _SchemeRecorder(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler,
                                   ssl_context=self._ssl_context)
        self._server_ready_event.set()
        self._server.serve_forever()


@contextmanager
def moto_server(port: int | None = None, *, tls: TlsFiles | None = None) -> Iterator[str]:
    """A moto server on 127.0.0.1 for the duration of the block (HTTPS only when `tls` is given); yields its
    endpoint URL. Clients of an HTTPS endpoint trust `tls.ca` (AWS_CA_BUNDLE for boto3)."""
    configure_moto()
    port = port or free_port()
    server_context = client_context = None
    if tls is not None:
        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_context.minimum_version = ssl.TLSVersion.TLSv1_2
        server_context.load_cert_chain(tls.cert, tls.key)
        client_context = ssl.create_default_context(cafile=str(tls.ca))
    server = _Server(port, server_context)
    server.start()
    endpoint = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    # moto keeps its state per process: start every emulator empty, whatever ran before in this process.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10,
                           context=client_context).close()
    try:
        yield endpoint
    finally:
        server.stop()
