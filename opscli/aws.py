"""The AWS side of opscli: one session, cached clients, retries, a read-only guard and a call log."""

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
                 retry_mode: str = "standard", max_attempts: int = 5, session: boto3.Session | None = None) -> None:
        try:
            self.session = session or boto3.Session(profile_name=profile, region_name=region)
        except botocore.exceptions.ProfileNotFound as exc:
            raise UsageError(str(exc)) from None
        self.region = region
        self.endpoint_url = endpoint_url
        self.log = CallLog()
        self._config = Config(region_name=region, retries={"mode": retry_mode, "max_attempts": max_attempts},
                              connect_timeout=5, read_timeout=20, user_agent_extra="opscli")
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def check_credentials(self) -> None:
        if self.session.get_credentials() is None:
            raise CredentialsError("no AWS credentials found: set AWS_PROFILE, --profile or AWS_ACCESS_KEY_ID")

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                client = self.session.client(service, endpoint_url=self.endpoint_url, config=self._config)
                client.meta.events.register("before-call.*.*", self._guard)
                self._clients[service] = client
            return self._clients[service]

    def _guard(self, model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        self.log.record(service, model.name)
        if not is_read(model.name):
            raise ReadOnlyViolation(f"refused {service}:{model.name}: opscli only reads")
