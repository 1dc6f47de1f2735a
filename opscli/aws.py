"""The AWS side of opscli: one session, cached clients, retries, a read-only guard and a call log.

The guard is an allowlist: a client may send exactly the operations opscli declares (its readers', the stack
scope's and the secrets' checks), which are also exactly what `opscli iam-policy` grants. Anything else —
a write, or a read opscli has no business making such as secretsmanager:GetSecretValue — is refused before it
is sent. The one command that writes (`opscli export security-hub`) gets a session of the same kind that allows
its one write and nothing else. Clients come only from `Aws.client`; the session is private. Every 2xx answer
is checked (opscli.answers) before any reader sees it.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
import botocore.handlers
import botocore.hooks
import botocore.loaders
import botocore.session
from botocore.config import Config

from opscli.answers import check_answer, decode_iam_policies
from opscli.errors import CredentialsError, ReadOnlyViolation, UsageError
from platform_spec.contract import READ_PREFIXES
from platform_spec.stacks import ALLOWED_REGION

# What botocore's own credential providers send to obtain credentials for a profile that assumes a role (or signs
# in through IAM Identity Center): no resource is read or changed, but they are calls all the same, so the guard
# sees and logs them like any other; they are the only ones it lets through besides the declared reads.
CREDENTIAL_OPERATIONS = frozenset({"sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML",
                                   "sso:GetRoleCredentials", "sso-oidc:CreateToken"})


class _SearchPaths(list):
    """A loader's search paths, where a path already listed is not added again: boto3 appends its own data
    directory for every session it makes, and a loader shared by every session would collect one per session."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@functools.cache
def shared_loader(data_path: str | None = None) -> botocore.loaders.Loader:
    """botocore's loader of service models, one per process (and data path); the same arguments as botocore's
    `create_loader`, which a botocore session calls for its own. Every session otherwise makes its own loader and
    parses the models again (EC2's alone is megabytes of JSON), the larger part of the client side's CPU for a
    whole-stack read from a new session, paid by every in-process run (figures: bench/README.md)."""
    paths = _SearchPaths(botocore.loaders.create_loader(data_path).search_paths)  # botocore's, defaults included
    return botocore.loaders.Loader(extra_search_paths=paths, include_default_search_paths=False)


class _Builtins:
    """What a botocore session registers first, on an emitter of its own: botocore's builtin handlers, by the
    session's own method (each through the event aliases, each handler checked for **kwargs)."""

    register = botocore.session.Session.register
    _register_builtin_handlers = botocore.session.Session._register_builtin_handlers  # noqa: SLF001

    def __init__(self) -> None:
        self._events = botocore.hooks.EventAliaser(botocore.hooks.HierarchicalEmitter())
        self._register_builtin_handlers(self._events)


_builtins: tuple[tuple[Any, ...], botocore.hooks.HierarchicalEmitter] | None = None
_builtins_lock = threading.Lock()


def builtin_emitter() -> botocore.hooks.HierarchicalEmitter:
    """A copy of an emitter that holds botocore's builtin handlers and nothing else: what `Session()` registers
    before anything else (127 handlers in botocore 1.44, each checked and aliased again for every session),
    registered once per process and copied as botocore copies a session's emitter for each client. Registered
    again when the list's content has changed (moto appends its stubber to it, in place, when it is imported). A
    copy shares the original's lookup cache until its first registration, as botocore's copies do; boto3.Session
    registers its own handlers at once."""
    global _builtins
    specs = tuple(botocore.handlers.BUILTIN_HANDLERS)
    with _builtins_lock:
        if _builtins is None or _builtins[0] != specs:
            _builtins = (specs, _Builtins()._events._emitter)  # noqa: SLF001
        return copy.copy(_builtins[1])


def _botocore_session(profile: str | None = None, *, profiles: bool = True) -> botocore.session.Session:
    """A botocore session with the process's copy of the builtin handlers (builtin_emitter) and the process's
    loader of service models (shared_loader) for the data path botocore's own loader would read: the profile's
    data_path (ProfileNotFound for a profile that does not exist) or AWS_DATA_PATH; without `profiles`, AWS_DATA_PATH
    alone, and no profile is read."""
    core = botocore.session.Session(event_hooks=builtin_emitter(), include_builtin_handlers=False)
    if profile is not None:
        core.set_config_variable("profile", profile)
    data_path = core.get_config_variable("data_path") if profiles else os.environ.get("AWS_DATA_PATH") or None
    core.register_component("data_loader", shared_loader(data_path))
    return core


def new_session(**kwargs: Any) -> boto3.Session:
    """A boto3 session (the same arguments, the same errors) that shares the process's loader of service
    models: what was parsed for one session is not parsed again for the next; its builtin handlers are a copy
    of the process's (builtin_emitter). Sessions share nothing else (credentials, profile, region, handlers
    registered later and clients stay their own)."""
    return boto3.Session(botocore_session=_botocore_session(kwargs.get("profile_name")), **kwargs)


def models() -> botocore.session.Session:
    """A botocore session to look up service models without a client (Security Hub's for ASFF, the tests'
    operation models), on the process's loader (shared_loader) for AWS_DATA_PATH: what the process's clients
    parsed is not parsed again. It reads no profile: a lookup does not fail for a profile the environment names
    and the run does not use (a profile's own data_path serves its clients alone). A new session per call (about
    2 ms here); callers keep what they look up."""
    return _botocore_session(profiles=False)


def is_read(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES)


class EndpointViolation(ReadOnlyViolation):
    """A request about to leave for somewhere other than the endpoint the run was pointed at."""


@dataclass
class CallLog:
    """Every AWS operation attempted, as 'service:Operation' (thread-safe)."""

    calls: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, service: str, operation: str) -> None:
        with self._lock:
            self.calls.append(f"{service}:{operation}")

    @property
    def operations(self) -> set[str]:
        return set(self.calls)

    def clear(self) -> None:
        """Forget the calls recorded so far: a session that lives for many runs (a warm Lambda container's, the
        monitor's consumer's) starts each batch with an empty log instead of keeping every call it ever made. A
        count taken before is void; the runs count from a length taken after."""
        with self._lock:
            self.calls.clear()


@dataclass(frozen=True)
class Call:
    """One AWS call as it ended, for -v: the operation, the parameters it was asked with (ids and names: every
    operation opscli may send is a read), and what came back."""

    operation: str  # "service:Operation"
    params: Mapping[str, Any]
    outcome: str  # the HTTP status and AWS's error code, or the exception that ended it without an answer
    seconds: float

    def line(self) -> str:
        asked = " ".join(f"{key}={value if isinstance(value, str) else json.dumps(value, default=str)}"
                         for key, value in self.params.items())
        return f"{self.operation}{' ' + asked if asked else ''} -> {self.outcome} ({self.seconds:.2f}s)"


def endpoint_pin(endpoint_url: str, *, subdomains: bool = True) -> Callable[..., None]:
    """A before-send handler: with an endpoint given, nothing is sent anywhere else. A client that botocore makes
    for itself (a role profile's STS client) resolves its endpoint from the profile and AWS_ENDPOINT_URL only, not
    from the option, and would otherwise reach AWS from a run meant for an emulator. `subdomains`: a subdomain of
    the endpoint's host is the same host (S3's virtual-hosted style); a client of one service may say False."""
    pinned = urllib.parse.urlsplit(endpoint_url)

    def pin(request: Any, **_: Any) -> None:
        sent = urllib.parse.urlsplit(request.url)
        host, pinned_host = sent.hostname or "", pinned.hostname or ""
        same_host = host == pinned_host or (subdomains and host.endswith(f".{pinned_host}"))
        if (sent.scheme, sent.port) != (pinned.scheme, pinned.port) or not same_host:
            raise EndpointViolation(f"refused a request to {sent.scheme}://{sent.netloc}: this run may reach only "
                                    f"{endpoint_url} (a profile that assumes a role gets its STS endpoint from "
                                    f"AWS_ENDPOINT_URL_STS or AWS_ENDPOINT_URL, never from --endpoint-url: point "
                                    f"them at the same endpoint)")
    return pin


#: The event handlers opscli registered on a boto3 session, so that the next Aws the session is handed to takes
#: them off again; kept beside the session (weakly: a session may go) rather than as an attribute planted on it.
_SESSION_HANDLERS: weakref.WeakKeyDictionary[boto3.Session, list[tuple[str, Callable[..., Any]]]] = \
    weakref.WeakKeyDictionary()


class Aws:
    """Clients for one region/profile/endpoint from one guarded session: only the declared operations can be sent.

    `allowed`: the reads a client may send (default: every operation opscli declares). `writes`: the writes it
    may send besides; empty for every command but `opscli export security-hub`, which passes its one write and
    no read. Every client also lets through the credential calls of a role profile (CREDENTIAL_OPERATIONS)."""

    def __init__(self, *, region: str = ALLOWED_REGION, profile: str | None = None, endpoint_url: str | None = None,
                 retry_mode: str = "standard", max_attempts: int = 5, session: boto3.Session | None = None,
                 allowed: frozenset[str] | None = None, writes: frozenset[str] = frozenset()) -> None:
        try:
            self._session = session or new_session(profile_name=profile, region_name=region)
        except botocore.exceptions.ProfileNotFound as exc:
            raise UsageError(str(exc)) from None
        if allowed is None:
            from opscli.operations import (
                declared_operations,  # the readers' tables stand on this module
            )

            allowed = frozenset(declared_operations())
        self.allowed = allowed
        self.writes = frozenset(writes)
        self.region = region
        self.endpoint_url = endpoint_url
        self.known_account: str | None = None  # set once sts:GetCallerIdentity has answered (core.account_id)
        self.known_caller: str | None = None  # its Arn: who ran the checks, named in the report
        self.log = CallLog()
        self.watch: Callable[[Call], None] | None = None  # told of each call as it ends (-v prints them)
        # max_attempts counts every attempt, the first included (botocore's own "max_attempts" key counts retries
        # only: it asked once more than this said).
        self._config = Config(region_name=region, retries={"mode": retry_mode, "total_max_attempts": max_attempts},
                              connect_timeout=5, read_timeout=20, user_agent_extra="opscli")
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._own_session()

    def _own_session(self) -> None:
        """The guard, the answer check and the endpoint pin on the session, not on each client: every client the
        session makes from now on copies them, including the ones botocore's credential providers make for
        themselves (a role profile's STS client), which never pass through `client`. A session handed from one
        Aws to the next serves the newest: the previous one's handlers leave the session (its clients, made
        already, keep their own copies), so no client carries two guards. A subdomain of the endpoint's host
        counts as that host only for a session that may call S3 (its virtual-hosted addressing)."""
        events = self._session.events
        for name, handler in _SESSION_HANDLERS.get(self._session, ()):
            events.unregister(name, handler)
        events.unregister("after-call.iam", botocore.handlers.json_decode_policies)  # decode_iam_policies instead
        handlers: list[tuple[str, Callable[..., Any]]] = [
            ("before-parameter-build.*.*", self._asked), ("before-call.*.*", self._guard),
            ("after-call.*.*", self._answered), ("after-call-error.*.*", self._failed),
            ("after-call.*.*", check_answer), ("after-call.iam", decode_iam_policies)]
        if self.endpoint_url is not None:
            s3 = any(operation.startswith("s3:") for operation in self.allowed | self.writes)
            handlers.append(("before-send.*.*", endpoint_pin(self.endpoint_url, subdomains=s3)))
        for name, handler in handlers:
            events.register(name, handler)
        _SESSION_HANDLERS[self._session] = handlers
        if self.endpoint_url is not None:
            self._no_credentials_from_the_network()

    def _no_credentials_from_the_network(self) -> None:
        """With an endpoint given, credentials come from the environment or the profile, never from the instance
        metadata service or a container's credentials endpoint: botocore fetches those with an HTTP client of its
        own that no event of the session sees, so the endpoint pin could not stop them (a run meant for an
        emulator would ask 169.254.169.254, or whatever AWS_CONTAINER_CREDENTIALS_FULL_URI names)."""
        # boto3 offers its botocore session only as _session
        resolver = self._session._session.get_component("credential_provider")  # noqa: SLF001
        for name in ("iam-role", "container-role"):
            resolver.remove(name)  # a no-op where it is not there

    def check_credentials(self) -> None:
        try:
            credentials = self._session.get_credentials()
        except botocore.exceptions.CredentialRetrievalError as exc:
            raise CredentialsError(f"AWS credentials could not be obtained: {exc}") from None
        if credentials is None:
            raise CredentialsError.none_found()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(service, endpoint_url=self.endpoint_url,
                                                              config=self._config)
            return self._clients[service]

    def close(self) -> None:
        """Close the connections every client made so far keeps (a command's run is over). A caller that runs
        commands in process (the tests, a long-running consumer) otherwise holds each run's connections open until
        its clients are garbage collected. The clients stay usable: a later call opens a connection again."""
        with self._lock:
            clients = list(self._clients.values())
        for client in clients:
            client.close()

    def _asked(self, params: Any, model: Any, context: Any, **_: Any) -> None:
        if self.watch is not None and isinstance(context, dict):
            context["opscli_call"] = (f"{model.service_model.service_name}:{model.name}", dict(params or {}),
                                      time.perf_counter())

    def _tell(self, context: Any, outcome: str) -> None:
        asked = context.get("opscli_call") if isinstance(context, dict) else None
        if self.watch is not None and asked is not None:
            operation, params, started = asked
            self.watch(Call(operation, params, outcome, time.perf_counter() - started))

    def _answered(self, http_response: Any, parsed: Any, context: Any, **_: Any) -> None:
        error = parsed.get("Error") if isinstance(parsed, dict) else None
        code = error.get("Code") if isinstance(error, dict) else None
        self._tell(context, f"{getattr(http_response, 'status_code', '?')}{f' {code}' if code else ''}")

    def _failed(self, exception: BaseException, context: Any, **_: Any) -> None:
        said = str(exception).splitlines()
        self._tell(context, f"no answer: {type(exception).__name__}{': ' + said[0] if said else ''}")

    def _guard(self, model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        self.log.record(service, model.name)
        operation = f"{service}:{model.name}"
        if operation in CREDENTIAL_OPERATIONS or operation in self.writes:
            return
        if operation not in self.allowed or not is_read(model.name):
            if self.writes:
                what = f"this command sends only {', '.join(sorted(self.allowed | self.writes))}"
            else:
                what = "opscli only reads" if not is_read(model.name) else "not an operation opscli declares"
            raise ReadOnlyViolation(f"refused {operation}: {what}")

