"""The AWS side of opscli: one session, cached clients, retries, a read-only guard and a call log.

The guard is an allowlist: a client may send exactly the operations opscli declares (its readers', the stack
scope's and the secrets' checks), which are also exactly what `opscli iam-policy` grants. Anything else —
a write, or a read opscli has no business making such as secretsmanager:GetSecretValue — is refused before it
is sent. Clients come only from `Aws.client`; the session is private.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from opscli.errors import CredentialsError, ReadOnlyViolation, UsageError

READ_PREFIXES = ("Describe", "Get", "List", "Head", "BatchGet", "Lookup", "Search")
ALLOWED_REGION = "ap-northeast-1"


def is_read(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES)


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


class Aws:
    """Clients for one region/profile/endpoint, each guarded so that only read operations can be sent."""

    def __init__(self, *, region: str = ALLOWED_REGION, profile: str | None = None, endpoint_url: str | None = None,
                 retry_mode: str = "standard", max_attempts: int = 5, session: boto3.Session | None = None,
                 allowed: frozenset[str] | None = None) -> None:
        try:
            self._session = session or boto3.Session(profile_name=profile, region_name=region)
        except botocore.exceptions.ProfileNotFound as exc:
            raise UsageError(str(exc)) from None
        if allowed is None:
            from opscli.core import declared_operations  # the core's tables import this module: not at the top

            allowed = frozenset(declared_operations())
        self.allowed = allowed
        self.region = region
        self.endpoint_url = endpoint_url
        self.log = CallLog()
        self._config = Config(region_name=region, retries={"mode": retry_mode, "max_attempts": max_attempts},
                              connect_timeout=5, read_timeout=20, user_agent_extra="opscli")
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def check_credentials(self) -> None:
        if self._session.get_credentials() is None:
            raise CredentialsError("no AWS credentials found: set AWS_PROFILE, --profile or AWS_ACCESS_KEY_ID")

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                client = self._session.client(service, endpoint_url=self.endpoint_url, config=self._config)
                client.meta.events.register("before-call.*.*", self._guard)
                self._clients[service] = client
            return self._clients[service]

    def _guard(self, model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        self.log.record(service, model.name)
        operation = f"{service}:{model.name}"
        if operation not in self.allowed or not is_read(model.name):
            what = "opscli only reads" if not is_read(model.name) else "not an operation opscli declares"
            raise ReadOnlyViolation(f"refused {operation}: {what}")
