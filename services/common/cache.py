"""The Redis cache (ElastiCache in the cloud): TLS + AUTH, short timeouts and a circuit breaker, so that a
cache outage costs one timeout, then nothing, while PostgreSQL answers.

Keys: `video:<id>` holds a record's JSON (TTL), `videos:popular` is a sorted set of access counts."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from services.common.log import JsonLogger
from services.common.settings import RedisSettings

POPULAR_KEY = "videos:popular"


def video_key(vid: str) -> str:
    return f"video:{vid}"


def _entry(record: dict[str, Any]) -> str:
    """A record as its cache entry (compact JSON); the worker's write-through and the API's fill agree."""
    return json.dumps(record, separators=(",", ":"))


class CacheUnavailable(RuntimeError):
    """Redis could not be used (down, timing out, refusing AUTH); the caller goes to PostgreSQL."""


GET_AND_COUNT = ("local v = redis.call('GET', KEYS[1]) "
                 "if v then redis.call('ZINCRBY', KEYS[2], 1, ARGV[1]) end "
                 "return v")
FAILURES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.AuthenticationError,
            redis.exceptions.ResponseError, OSError)


def client_options(settings: RedisSettings) -> dict[str, Any]:
    """TLS + AUTH, short timeouts, no client-side retries: one short timeout, then the breaker opens and
    PostgreSQL answers. The same for the sync and the asyncio client."""
    return {"host": settings.host, "port": settings.port, "password": settings.password, "ssl": True,
            "ssl_cert_reqs": "required", "ssl_ca_certs": settings.ca_bundle, "ssl_check_hostname": True,
            "socket_timeout": settings.timeout_s, "socket_connect_timeout": settings.timeout_s,
            "retry": Retry(NoBackoff(), 0), "health_check_interval": 30, "decode_responses": True}


class Breaker:
    """After a failure, the cache is not tried for `open_for_s`; the first failure of an outage is logged."""

    def __init__(self, logger: JsonLogger, open_for_s: float) -> None:
        self.logger, self.open_for_s = logger, open_for_s
        self._open_until = 0.0
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._open_until

    def check(self) -> None:
        if not self.available:
            raise CacheUnavailable("circuit open after a recent failure")

    def failed(self, what: str, exc: BaseException) -> CacheUnavailable:
        with self._lock:
            first = self.available
            self._open_until = time.monotonic() + self.open_for_s
        if first:
            self.logger.warning("cache_unavailable", operation=what, error=f"{type(exc).__name__}: {exc}",
                                retry_in_s=self.open_for_s)
        return CacheUnavailable(f"{what}: {type(exc).__name__}: {exc}")


class Cache:
    """The blocking client (the worker's write-through; tests)."""

    def __init__(self, settings: RedisSettings, logger: JsonLogger, *, open_for_s: float = 5.0,
                 client: redis.Redis | None = None) -> None:
        self.settings, self.logger = settings, logger
        self.client = client or redis.Redis(**client_options(settings))
        self.breaker = Breaker(logger, open_for_s)
        self._get_and_count = self.client.register_script(GET_AND_COUNT)

    @property
    def available(self) -> bool:
        return self.breaker.available

    def _call(self, what: str, fn, *args: Any) -> Any:
        self.breaker.check()
        try:
            return fn(*args)
        except FAILURES as exc:
            raise self.breaker.failed(what, exc) from exc

    def ping(self) -> bool:
        return bool(self._call("ping", self.client.ping))

    def get_and_count(self, vid: str) -> dict[str, Any] | None:
        """The entry, and one view counted when it exists: one round trip (a script), and an id that does not
        exist never enters the popularity set."""
        raw = self._call("get_and_count", self._get_and_count, [video_key(vid), POPULAR_KEY], [vid])
        return json.loads(raw) if raw else None

    def put_and_count(self, record: dict[str, Any]) -> None:
        """Fill the entry (TTL) and count one view: one round trip (a pipeline)."""
        def both() -> None:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(video_key(record["id"]), _entry(record), self.settings.ttl_s)
            pipe.zincrby(POPULAR_KEY, 1, record["id"])
            pipe.execute()
        self._call("put_and_count", both)

    def get_videos(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        raws = self._call("mget", self.client.mget, [video_key(i) for i in ids])
        return {i: json.loads(r) for i, r in zip(ids, raws, strict=True) if r}

    def put_video(self, record: dict[str, Any]) -> None:
        self._call("set", self.client.set, video_key(record["id"]), _entry(record), self.settings.ttl_s)

    def popular(self, limit: int) -> list[tuple[str, int]]:
        return [(vid, int(score)) for vid, score in
                self._call("zrevrange", self.client.zrevrange, POPULAR_KEY, 0, limit - 1, True)]


class AsyncCache:
    """The same operations on redis' asyncio client, for the API's event loop: a request waiting on Redis
    holds no thread and no lock. Same keys, script, timeouts and breaker behaviour as `Cache`."""

    def __init__(self, settings: RedisSettings, logger: JsonLogger, *, open_for_s: float = 5.0,
                 connections: int = 8) -> None:
        self.settings, self.logger, self.connections = settings, logger, connections
        options = client_options(settings)
        del options["ssl"]  # a pool's TLS is its connection class
        # A fixed set of connections, opened at start (warm()): under load, opening one TLS connection per
        # concurrent request timed out (250 ms) while the loop was busy, and the breaker then sent every
        # request to PostgreSQL. A command waits for a free connection at most the cache timeout.
        self.pool = aioredis.BlockingConnectionPool(
            connection_class=aioredis.SSLConnection, max_connections=connections, timeout=settings.timeout_s,
            **options)
        self.client = aioredis.Redis(connection_pool=self.pool)
        self.breaker = Breaker(logger, open_for_s)
        self._get_and_count = self.client.register_script(GET_AND_COUNT)

    async def warm(self) -> None:
        """Open the connections now (the API's start), not under the first burst of requests. Redis being
        down here is not an error: the breaker handles it when requests come."""
        try:
            held = await asyncio.gather(*(self.pool.get_connection() for _ in range(self.connections)))
        except FAILURES as exc:
            self.logger.warning("cache_not_warmed", error=f"{type(exc).__name__}: {exc}")
            return
        for connection in held:
            await self.pool.release(connection)

    async def _call(self, what: str, fn, *args: Any) -> Any:
        self.breaker.check()
        try:
            return await fn(*args)
        except FAILURES as exc:
            raise self.breaker.failed(what, exc) from exc

    async def ping(self) -> bool:
        return bool(await self._call("ping", self.client.ping))

    async def get_and_count(self, vid: str) -> dict[str, Any] | None:
        raw = await self._call("get_and_count", self._get_and_count, [video_key(vid), POPULAR_KEY], [vid])
        return json.loads(raw) if raw else None

    async def put_and_count(self, record: dict[str, Any]) -> None:
        async def both() -> None:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(video_key(record["id"]), _entry(record), self.settings.ttl_s)
            pipe.zincrby(POPULAR_KEY, 1, record["id"])
            await pipe.execute()
        await self._call("put_and_count", both)

    async def get_videos(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        raws = await self._call("mget", self.client.mget, [video_key(i) for i in ids])
        return {i: json.loads(r) for i, r in zip(ids, raws, strict=True) if r}

    async def popular(self, limit: int) -> list[tuple[str, int]]:
        return [(vid, int(score)) for vid, score in
                await self._call("zrevrange", self.client.zrevrange, POPULAR_KEY, 0, limit - 1, True)]

    async def close(self) -> None:
        await self.client.aclose()
