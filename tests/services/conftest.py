"""Fixtures for the workloads: real PostgreSQL and Redis on 127.0.0.1 with TLS (certificates made for the
session), started once per session and emptied per test; a log sink that keeps the JSON lines."""

from __future__ import annotations

import io
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from localenv.dataservers import PostgresServer, RedisServer, missing_servers
from localenv.sample_video import make_video
from localenv.tls import TlsFiles, make_tls_files
from services.common import db
from services.common.cache import Cache
from services.common.log import JsonLogger
from services.common.settings import DatabaseSettings, RedisSettings

DATABASE = "videometadata"


class LogSink(JsonLogger):
    """A JsonLogger whose lines are kept for assertions."""

    def __init__(self, service: str = "test") -> None:
        self.buffer = io.StringIO()
        super().__init__(service, stream=self.buffer)

    @property
    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.buffer.getvalue().splitlines()]

    def events(self, name: str) -> list[dict]:
        return [r for r in self.records if r.get("event") == name]


@pytest.fixture(scope="session")
def data_servers() -> None:
    """PostgreSQL and Redis can run here. Without them (a machine without apt-get) these tests skip with the
    reason; in CI (CI=true) a missing server is a failure, never a skip."""
    missing = missing_servers()
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI needs {' and '.join(missing)}: scripts/system-deps.sh installs them", pytrace=False)
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (scripts/system-deps.sh says how)")


@pytest.fixture(scope="session")
def tls(tmp_path_factory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def postgres(data_servers, tls) -> Iterator[PostgresServer]:
    server = PostgresServer(tls, password=secrets.token_urlsafe(18), database=DATABASE)
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def redis_server(data_servers, tls, tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), tls, password=secrets.token_urlsafe(18)).start()
    yield server
    server.stop()


def settings_for(server: PostgresServer, **overrides) -> DatabaseSettings:
    return DatabaseSettings.from_env({**server.environment(), **overrides})


@pytest.fixture
def db_settings(postgres) -> DatabaseSettings:
    return settings_for(postgres)


@pytest.fixture
def clean_db(db_settings) -> DatabaseSettings:
    """The migrated schema with no rows."""
    with db.connect(db_settings, "tests") as conn:
        db.migrate(conn)
        conn.execute("TRUNCATE videos")
    return db_settings


@pytest.fixture
def redis_settings(redis_server) -> RedisSettings:
    return RedisSettings.from_env(redis_server.environment())


@pytest.fixture
def log() -> LogSink:
    return LogSink()


@pytest.fixture
def cache(redis_settings, log) -> Cache:
    cache = Cache(redis_settings, log)
    _flush(cache)
    return cache


def _flush(cache: Cache) -> None:
    """Empty Redis before a test through a client of its own with a generous timeout: the cache's own client has
    the service's 250 ms, which a TLS handshake on a loaded machine can exceed (a set-up error, not the test's)."""
    import redis

    kwargs = {**cache.client.connection_pool.connection_kwargs, "socket_timeout": 30, "socket_connect_timeout": 30}
    client = redis.Redis(connection_pool=redis.ConnectionPool(
        connection_class=cache.client.connection_pool.connection_class, **kwargs))
    try:
        client.flushall()
    finally:
        client.close()


@pytest.fixture
def pool(clean_db):
    with db.pool(clean_db, "tests", max_size=4, timeout=2) as p:
        p.wait(5)
        yield p


@pytest.fixture
def api_pool(clean_db):
    """The API's pool (async, unopened): MetadataApi.start opens it on the API's loop, close closes it."""
    return db.async_pool(clean_db, "tests", max_size=4, timeout=5)


@pytest.fixture(scope="session")
def sample_video(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("videos") / "sample.mp4", seconds=2)


def count_rows(settings: DatabaseSettings) -> int:
    with psycopg.connect(**settings.conninfo("tests")) as conn:
        return conn.execute("SELECT count(*) FROM videos").fetchone()[0]
