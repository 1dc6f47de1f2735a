"""Fixtures for the workloads: real PostgreSQL and Redis on 127.0.0.1 with TLS (certificates made for the
session), started once per session and emptied per test; a log sink that keeps the JSON lines; the metadata API in
process and served over HTTP, over three stored videos (its tests: test_app.py, test_server.py, test_openapi.py)."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
import json
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from localenv.dataservers import PostgresServer, RedisServer, missing_servers
from localenv.sample_video import make_video
from localenv.tls import TlsFiles, make_tls_files
from services.common import db, videos
from services.common.cache import AsyncCache, Cache
from services.common.log import JsonLogger
from services.common.settings import DatabaseSettings, RedisSettings
from services.metadata_api.app import MetadataApi
from services.metadata_api.server import ApiServer, serve_until

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


class Kept:
    """One connection of the session, made again when it was lost, for what every test repeats before it starts
    (each new connection is a TLS handshake, here and in the server, and a PostgreSQL process)."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self.connect, self.connection = connect, None

    def run(self, work: Callable[[Any], Any]) -> Any:
        """`work(connection)`; once more on a new connection if the kept one was lost (a server that dropped it),
        never after any other failure (a statement that timed out, a migration that does not match)."""
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = self.connect()
            try:
                return work(self.connection)
            except (psycopg.OperationalError, redis.exceptions.ConnectionError) as exc:
                lost = isinstance(exc, redis.exceptions.ConnectionError) or self.connection.closed or \
                    self.connection.broken
                self.close()
                if not lost or attempt == 2:
                    raise
        return None

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.close()
            self.connection = None


@pytest.fixture(scope="session")
def _database_admin(postgres) -> Iterator[Kept]:
    kept = Kept(lambda: db.connect(settings_for(postgres), "tests"))
    yield kept
    kept.close()


def _migrated_and_emptied(conn: psycopg.Connection) -> None:
    db.migrate(conn)  # autocommit from here on: the TRUNCATE's lock is not held past it
    conn.execute("TRUNCATE videos")


@pytest.fixture
def clean_db(db_settings, _database_admin) -> DatabaseSettings:
    """The migrated schema with no rows."""
    _database_admin.run(_migrated_and_emptied)
    return db_settings


@pytest.fixture
def redis_settings(redis_server) -> RedisSettings:
    return RedisSettings.from_env(redis_server.environment())


@pytest.fixture
def log() -> LogSink:
    return LogSink()


@pytest.fixture(scope="session")
def _redis_admin(redis_server) -> Iterator[Kept]:
    """A client of its own with a generous timeout: the cache's own client has the service's 250 ms, which a TLS
    handshake on a loaded machine can exceed (a set-up error, not the test's)."""
    settings = RedisSettings.from_env(redis_server.environment())

    def connect() -> redis.Redis:
        pool = Cache(settings, LogSink()).client.connection_pool  # the cache's connection, with longer timeouts
        kwargs = {**pool.connection_kwargs, "socket_timeout": 30, "socket_connect_timeout": 30}
        return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))
    kept = Kept(connect)
    yield kept
    kept.close()


@pytest.fixture
def cache(redis_settings, log, _redis_admin) -> Cache:
    """The service's cache, on a Redis emptied for this test."""
    cache = Cache(redis_settings, log)
    _redis_admin.run(lambda client: client.flushall())
    return cache


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


# --- the metadata API -------------------------------------------------------------------------------------------------

def record(n: int, *, codec: str = "h264", version: str = "v1") -> dict:
    return {"bucket": "ingest", "object_key": f"uploads/video-{n:03d}.mp4", "version_id": version,
            "size_bytes": 1000 + n, "etag": f"etag{n}", "container": "mov,mp4,m4a,3gp,3g2,mj2",
            "duration_seconds": 2.0, "bit_rate": 100_000, "width": 320, "height": 240, "frame_rate": 25.0,
            "video_codec": codec, "audio_codec": "aac", "uploaded_at": "2026-11-27T00:00:00Z",
            "streams": [{"index": 0, "type": "video", "codec": codec}]}


class SyncApi:
    """A MetadataApi driven from a test: its coroutines run on an event loop of its own (a thread), the one
    its Redis connection and database pool are bound to; started as the server starts it."""

    def __init__(self, core: MetadataApi) -> None:
        self.core = core
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.run(core.start())

    def run(self, coroutine, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def handle(self, method: str, target: str):
        return self.run(self.core.handle(method, target))

    def __getattr__(self, name: str):
        return getattr(self.core, name)

    def close(self) -> None:
        self.run(self.core.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@contextlib.contextmanager
def sync_api(pool, cache: AsyncCache, log) -> Iterator[SyncApi]:
    api = SyncApi(MetadataApi(db=pool, cache=cache, logger=log))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def api(api_pool, cache, redis_settings, log) -> Iterator[SyncApi]:
    """The API over the same Redis as `cache` (emptied for this test), which the tests read and seed."""
    with sync_api(api_pool, AsyncCache(redis_settings, log), log) as api:
        yield api


@pytest.fixture
def stored(clean_db) -> list[dict]:
    with db.connect(clean_db, "tests") as conn:
        rows = [videos.upsert(conn, record(n))[0] for n in range(3)]
    return rows


@contextlib.contextmanager
def running(pool, redis_settings, log, cache: AsyncCache | None = None,
            **options) -> Iterator[tuple[ApiServer, threading.Event]]:
    """The API served by uvicorn on a free port, in a thread (`options` for ApiServer: timeouts, connection
    limit); stopped (and checked stopped) afterwards."""
    core = MetadataApi(db=pool, cache=cache or AsyncCache(redis_settings, log), logger=log)
    server = ApiServer(("127.0.0.1", 0), core, log, **options)
    stop = threading.Event()
    thread = threading.Thread(target=serve_until, args=(server, stop))
    thread.start()
    try:
        yield server, stop
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive()


@pytest.fixture
def served(api_pool, cache, redis_settings, log) -> Iterator[ApiServer]:
    with running(api_pool, redis_settings, log) as (server, _):
        yield server


@pytest.fixture
def http_api(served) -> int:
    return served.server_address[1]


def received_until(sock: socket.socket, marker: bytes, data: bytes = b"") -> bytes:
    """`data` and what `sock` sends next, until `marker` is among it; the peer closing first fails the test."""
    while marker not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before {marker!r}: {data!r}"
        data += chunk
    return data


def request(port: int, method: str, path: str) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, response.headers, body  # case-insensitive, as HTTP header names are
