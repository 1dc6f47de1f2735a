"""Coverage's tracer off inside a few third-party hot paths that never call our code (botocore's, moto's, jsii's).

On Python 3.11, coverage measures through a trace function, and while one is set every line of every module runs
on the interpreter's slow tracing path, whether or not the file is measured: a whole-stack read costs about twice
the CPU under coverage. Most of that read is botocore building, signing, sending and parsing requests (and, for
in-process moto, moto serializing its answers), and every new client (its class, endpoint and a copy of the
session's event handlers: every in-process CLI run makes its own). None of those functions calls back into our
packages, so pausing the tracer inside them records exactly the same lines and arcs of our code, for about a
fifth less CPU per read.

Only coverage's own tracer is paused (a debugger's is left alone), only in the thread that calls, and only for
the duration of the call: the frames run untraced start and end inside it, so the tracer's frame stack stays
balanced. tests/unit/test_library_tracing.py proves it: with a recording tracer in place of coverage's, a
whole-stack read and an in-process moto deployment run none of our code inside a paused function, and a paused call
gives the tracer back as it was."""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

PAUSED: list[tuple[Any, str]] = []  # (owner, attribute) of every function wrapped, for the test


def _is_coverage_tracer(tracer: Any) -> bool:
    return tracer is not None and type(tracer).__module__.split(".")[0] == "coverage"


def untraced(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` run with coverage's tracer paused in this thread (as is when another tracer, or none, is set)."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        tracer = sys.gettrace()
        if not _is_coverage_tracer(tracer):
            return function(*args, **kwargs)
        sys.settrace(None)
        try:
            return function(*args, **kwargs)
        finally:
            sys.settrace(tracer)

    run.__wrapped_untraced__ = True  # type: ignore[attr-defined]
    return run


def _is_coverage_installer(installer: Any) -> bool:
    """threading.settrace's function is coverage's (it puts coverage's tracer in each new thread)."""
    owner = getattr(installer, "__self__", installer)
    return installer is not None and type(owner).__module__.split(".")[0] == "coverage"


def untraced_with_its_threads(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` run with coverage's tracer paused in this thread and kept out of the threads started meanwhile
    (a whole-stack read's pool), as is when coverage is not measuring. Only for work that repeats, on the same
    state, what a traced run of the same code did before it (the lines it runs are measured already): the tests'
    check that a deployment was restored reads what the session's baseline read. Tests run one at a time in a
    test process, so no other test starts a thread in the meantime."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        tracer, installer = sys.gettrace(), threading.gettrace()
        if not _is_coverage_tracer(tracer) or not _is_coverage_installer(installer):
            return function(*args, **kwargs)
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
        try:
            return function(*args, **kwargs)
        finally:
            threading.settrace(installer)
            sys.settrace(tracer)

    return run


def _pause(owner: Any, attribute: str) -> None:
    function = getattr(owner, attribute)
    if getattr(function, "__wrapped_untraced__", False):
        return
    setattr(owner, attribute, untraced(function))
    PAUSED.append((owner, attribute))


def _pause_plain_json_encoding() -> None:
    """json.dumps with an indent (every report opscli writes) encodes in pure Python, on the slow tracing path
    (~40% of rendering a report as JSON or SARIF). Paused only for the plain encoder: a `cls` or `default` of ours
    is code of ours, and runs traced as before. (The plain encoder calls nothing of ours: str, int and float
    subclasses such as our str enums are written by the C helpers and int.__repr__ / float.__repr__.)"""
    import json.encoder

    owner = json.encoder.JSONEncoder
    encode = owner.encode
    if getattr(encode, "__wrapped_untraced__", False):
        return
    paused = untraced(encode)

    @functools.wraps(encode)
    def run(self: Any, o: Any) -> str:
        if type(self) is owner and "default" not in vars(self):
            return paused(self, o)
        return encode(self, o)

    run.__wrapped_untraced__ = True  # type: ignore[attr-defined]
    owner.encode = run  # type: ignore[method-assign]
    PAUSED.append((owner, "encode"))


def pause_in_library_hot_paths() -> None:
    """Wrap the library functions below (idempotent). Each is pure third-party code: it emits no botocore event
    whose handlers could be ours (opscli registers on before-call and after-call, which run outside them),
    moto's serializer reads moto's own models only, and jsii's send returns a callback rather than making it."""
    import botocore.client
    import botocore.endpoint
    import botocore.httpsession
    import botocore.parsers
    import botocore.session
    import moto.core.serialize
    from jsii._kernel.providers import process as jsii_process

    _pause(botocore.client.BaseClient, "_convert_to_request_dict")  # validate and serialize the parameters
    # The endpoint's URL from its ruleset (it emits before-endpoint-resolution, for botocore's own handlers only)
    _pause(botocore.client.BaseClient, "_resolve_endpoint_ruleset")
    _pause(botocore.client, "resolve_checksum_context")  # which checksum the request carries
    _pause(botocore.endpoint.Endpoint, "_update_retries_context")  # the attempt's invocation id and count
    _pause(botocore.endpoint.Endpoint, "_needs_retry")  # needs-retry: botocore's retry handler decides
    _pause(botocore.endpoint.Endpoint, "create_request")  # build and sign the HTTP request
    _pause(botocore.httpsession.URLLib3Session, "send")  # the HTTP exchange (urllib3, http.client)
    _pause(botocore.endpoint, "convert_to_response_dict")  # read the body and headers
    _pause(botocore.parsers.ResponseParser, "parse")  # XML / JSON to the answer dict
    _pause(moto.core.serialize.ResponseSerializer, "serialize")  # in-process moto: the answer to XML / JSON
    _pause(botocore.session.Session, "create_client")  # a client: its model, class, endpoint and event handlers
    # A session: its builtin event handlers and its components, each registered to be made when first asked for
    # (the loader of service models, ours in the tests, among them: made outside this call).
    _pause(botocore.session.Session, "__init__")
    _pause_plain_json_encoding()  # json.dumps of plain data (the JSON and SARIF reports)
    # One round trip to jsii's Node process: the request to JSON, the pipe, the answer back to Python values. A
    # callback into Python (an Aspect's visit, our cdk-nag pack's rule) comes back as the answer and runs after it.
    _pause(jsii_process._NodeProcess, "send")


def trace_library_hot_paths_again() -> None:
    """Undo `pause_in_library_hot_paths` (the functions as they were)."""
    while PAUSED:
        owner, attribute = PAUSED.pop()
        setattr(owner, attribute, getattr(owner, attribute).__wrapped__)
