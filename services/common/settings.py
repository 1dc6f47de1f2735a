"""Settings from the environment that ECS gives a task: plain variables from the task definition, credentials
from the existing Secrets Manager secrets (ECS `secrets`). Read once at start; a missing or weak setting
stops the service with a clear message (exit code 2), never a traceback."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from platform_spec import contract
from platform_utils.numbers import quoted, whole

# The RDS CA bundle shipped in the images (services/*/Dockerfile fetches Amazon's global bundle).
DEFAULT_DB_CA_BUNDLE = "/app/certs/rds-global-bundle.pem"


class SettingsError(ValueError):
    """A required setting is missing or not allowed."""


def require(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = env.get(name, default)
    if value is None or value == "":
        raise SettingsError(f"{name} is not set (ECS sets it from the task definition or its secrets)")
    return value


def integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, str(default))
    value = whole(raw)
    if value is None:
        raise SettingsError(f"{name} must be an integer in ASCII digits, got {quoted(raw)}")
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True)
class DatabaseSettings:
    host: str
    port: int
    name: str
    user: str
    password: str = field(repr=False)
    ca_bundle: str
    connect_timeout: int = 3
    statement_timeout_ms: int = 5000
    pool_timeout_s: float = 3.0  # a request waits this long for a pooled connection, then fails (the API: a 503)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> DatabaseSettings:
        sslmode = env.get(contract.DB_SSLMODE, contract.DB_SSLMODE_REQUIRED)
        if sslmode != contract.DB_SSLMODE_REQUIRED:
            raise SettingsError("DB_SSLMODE must be verify-full (TLS with the server's name checked), "
                                f"got {quoted(sslmode)}")
        ca = env.get(contract.DB_CA_BUNDLE, DEFAULT_DB_CA_BUNDLE)
        if not os.path.isfile(ca):
            raise SettingsError(f"DB_CA_BUNDLE {quoted(ca)} is not a file: the RDS CA bundle must ship in the image")
        return cls(host=require(env, contract.DB_HOST), port=integer(env, contract.DB_PORT, 5432, 1, 65535),
                   name=require(env, contract.DB_NAME),
                   user=require(env, contract.DB_USERNAME), password=require(env, contract.DB_PASSWORD), ca_bundle=ca,
                   connect_timeout=integer(env, "DB_CONNECT_TIMEOUT", 3, 1, 60),
                   statement_timeout_ms=integer(env, "DB_STATEMENT_TIMEOUT_MS", 5000, 100, 600000),
                   pool_timeout_s=integer(env, "DB_POOL_TIMEOUT_MS", 3000, 100, 60000) / 1000)

    def conninfo(self, application: str) -> dict[str, Any]:
        """Keyword arguments for psycopg (typed as psycopg_pool types them): TLS with certificate and host-name
        verification, bounded waits."""
        return {"host": self.host, "port": self.port, "dbname": self.name, "user": self.user,
                "password": self.password, "sslmode": "verify-full", "sslrootcert": self.ca_bundle,
                "connect_timeout": self.connect_timeout, "application_name": application,
                "options": f"-c statement_timeout={self.statement_timeout_ms}"}


@dataclass(frozen=True)
class RedisSettings:
    host: str
    port: int
    password: str = field(repr=False)
    ca_bundle: str | None  # None: the system trust store (ElastiCache's certificates are publicly trusted)
    timeout_s: float = 0.25
    ttl_s: int = 300
    breaker_open_s: int = 5  # after a failure, Redis is not tried again for this long (the breaker stays open)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> RedisSettings:
        if env.get(contract.REDIS_TLS, "true").lower() != "true":
            raise SettingsError("REDIS_TLS must be true: the cache is reached over TLS only")
        ca = env.get(contract.REDIS_CA_BUNDLE) or None
        if ca is not None and not os.path.isfile(ca):
            raise SettingsError(f"REDIS_CA_BUNDLE {quoted(ca)} is not a file")
        return cls(host=require(env, contract.REDIS_HOST), port=integer(env, contract.REDIS_PORT, 6379, 1, 65535),
                   password=require(env, contract.REDIS_AUTH_TOKEN), ca_bundle=ca,
                   timeout_s=integer(env, "REDIS_TIMEOUT_MS", 250, 10, 10000) / 1000,
                   ttl_s=integer(env, "CACHE_TTL_SECONDS", 300, 1, 86400),
                   breaker_open_s=integer(env, "CACHE_BREAKER_SECONDS", 5, 1, 300))
