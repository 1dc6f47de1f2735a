"""What both services do at start: settings from the environment, AWS clients, the database pool with the
schema migrated (retried while the database is not reachable yet), the cache — and their exit codes."""

from __future__ import annotations

import contextlib
import faulthandler
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
import psycopg
from botocore.config import Config
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from platform_spec.exit_codes import EXIT_INCOMPLETE, EXIT_OK, EXIT_SERVICE_FAILED, EXIT_USAGE
from platform_spec.stacks import ALLOWED_REGION
from services.common import db
from services.common.cache import Cache
from services.common.lifecycle import Shutdown
from services.common.log import JsonLogger
from services.common.settings import DatabaseSettings, RedisSettings, SettingsError, integer

S = TypeVar("S")


class ServiceFailed(RuntimeError):
    """Raised by a service's `serve` when it cannot go on: logged, and the process exits EXIT_SERVICE_FAILED (ECS
    replaces the task)."""


def aws_client(service: str) -> object:
    """A client for the task's region; AWS_ENDPOINT_URL and AWS_CA_BUNDLE are honoured (local emulator)."""
    return boto3.client(service, region_name=os.environ.get("AWS_REGION", ALLOWED_REGION),
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
        return db.async_pool(settings, application, max_size=max_size, timeout=settings.pool_timeout_s)
    pool = db.pool(settings, application, max_size=max_size, timeout=settings.pool_timeout_s)
    pool.open(wait=False)
    return pool


def run_service(service: str, read_settings: Callable[[], S],
                serve: Callable[[S, Any, Cache, JsonLogger, threading.Event], None],
                *, pool_size: Callable[[S], int], asynchronous_pool: bool = False) -> int:
    """Start `service` (settings, schema, pool, cache), `serve` until SIGTERM; return the exit code:
    EXIT_OK stopped, EXIT_USAGE a setting or the schema history is wrong (fix the task definition),
    EXIT_INCOMPLETE the database stayed unreachable through the start-up window, EXIT_SERVICE_FAILED the service
    could not go on (ServiceFailed). `asynchronous_pool`: `serve` gets an unopened
    psycopg AsyncConnectionPool, which it opens and closes on its event loop; otherwise an open blocking
    pool, closed here after `serve`."""
    # A crash in native code (FFmpeg's decoders, libpq, OpenSSL) prints every thread's Python stack on stderr, the
    # task's log, instead of an exit by signal that says nothing of where.
    faulthandler.enable()
    logger = JsonLogger(service)
    shutdown = Shutdown().install(logger)
    try:
        db_settings, redis_settings = DatabaseSettings.from_env(), RedisSettings.from_env()
        settings = read_settings()
    except SettingsError as exc:
        logger.error("configuration_error", error=str(exc))
        return EXIT_USAGE
    try:
        pool = migrated_pool(db_settings, service, logger, shutdown.stop, max_size=pool_size(settings),
                             asynchronous=asynchronous_pool)
    except db.MigrationError as exc:
        logger.error("migration_error", error=str(exc))
        return EXIT_USAGE
    if pool is None:
        return EXIT_OK if shutdown.stop.is_set() else EXIT_INCOMPLETE
    # A pool of threads' connections closes here; an async one (asynchronous_pool) on its service's event loop.
    with pool if isinstance(pool, ConnectionPool) else contextlib.nullcontext():
        try:
            serve(settings, pool, Cache(redis_settings, logger), logger, shutdown.stop)
        except ServiceFailed as exc:
            logger.error("service_failed", error=str(exc))
            return EXIT_SERVICE_FAILED
    return EXIT_OK
