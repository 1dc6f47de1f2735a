"""What both services do at start: settings from the environment, AWS clients, the database pool with the
schema migrated (retried while the database is not reachable yet), the cache — and their exit codes."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
import psycopg
from botocore.config import Config
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from services.common import db
from services.common.cache import Cache
from services.common.lifecycle import Shutdown
from services.common.log import JsonLogger
from services.common.settings import DatabaseSettings, RedisSettings, SettingsError, integer

S = TypeVar("S")

EXIT_CONFIG = 2       # a setting is missing or not allowed: fix the task definition
EXIT_UNAVAILABLE = 3  # a dependency stayed unreachable through the start-up window
EXIT_FAILED = 4       # the service failed while running (e.g. a job loop died): ECS replaces the task


class ServiceFailed(RuntimeError):
    """Raised by a service's `serve` when it cannot go on: logged, and the process exits EXIT_FAILED."""


def aws_client(service: str) -> object:
    """A client for the task's region; AWS_ENDPOINT_URL and AWS_CA_BUNDLE are honoured (local emulator)."""
    return boto3.client(service, region_name=os.environ.get("AWS_REGION", "ap-northeast-1"),
                        config=Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5,
                                      read_timeout=30))


def migrated_pool(settings: DatabaseSettings, application: str, logger: JsonLogger, stop: threading.Event,
                  *, max_size: int, asynchronous: bool = False) -> ConnectionPool | AsyncConnectionPool | None:
    """Migrate (once across tasks) and open the pool; None when `stop` came or the start-up window closed.
    `asynchronous`: an async pool instead, left for the service to open on its event loop."""
    window = integer(os.environ, "STARTUP_TIMEOUT_SECONDS", 120, 1, 3600)
    deadline, delay = time.monotonic() + window, 0.5
    migrations = db.load_migrations()
    while not stop.is_set():
        try:
            with db.connect(settings, f"{application}-migrate") as conn:
                applied = db.migrate(conn, migrations)
            logger.info("schema_ready", applied=applied, latest=migrations[-1].version)
            break
        except psycopg.OperationalError as exc:
            if time.monotonic() + delay > deadline:
                logger.error("database_unreachable", error=str(exc).strip(), waited_s=window)
                return None
            logger.warning("database_not_ready", error=str(exc).strip(), retry_in_s=delay)
            stop.wait(delay)
            delay = min(delay * 2, 10)
    else:
        return None
    if asynchronous:
        return db.async_pool(settings, application, max_size=max_size)
    pool = db.pool(settings, application, max_size=max_size)
    pool.open(wait=False)
    return pool


def run_service(service: str, read_settings: Callable[[], S],
                serve: Callable[[S, Any, Cache, JsonLogger, threading.Event], None],
                *, pool_size: Callable[[S], int], asynchronous_pool: bool = False) -> int:
    """Start `service` (settings, schema, pool, cache), `serve` until SIGTERM; return the exit code:
    0 stopped, EXIT_CONFIG a setting or the schema history is wrong, EXIT_UNAVAILABLE no database,
    EXIT_FAILED the service could not go on (ServiceFailed). `asynchronous_pool`: `serve` gets an unopened
    psycopg AsyncConnectionPool, which it opens and closes on its event loop; otherwise an open blocking
    pool, closed here after `serve`."""
    logger = JsonLogger(service)
    shutdown = Shutdown().install(logger)
    try:
        db_settings, redis_settings = DatabaseSettings.from_env(), RedisSettings.from_env()
        settings = read_settings()
    except SettingsError as exc:
        logger.error("configuration_error", error=str(exc))
        return EXIT_CONFIG
    try:
        pool = migrated_pool(db_settings, service, logger, shutdown.stop, max_size=pool_size(settings),
                             asynchronous=asynchronous_pool)
    except db.MigrationError as exc:
        logger.error("migration_error", error=str(exc))
        return EXIT_CONFIG
    if pool is None:
        return 0 if shutdown.stop.is_set() else EXIT_UNAVAILABLE
    with contextlib.nullcontext() if asynchronous_pool else pool:
        try:
            serve(settings, pool, Cache(redis_settings, logger), logger, shutdown.stop)
        except ServiceFailed as exc:
            logger.error("service_failed", error=str(exc))
            return EXIT_FAILED
    return 0
