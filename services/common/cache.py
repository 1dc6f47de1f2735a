"""The Redis cache (ElastiCache in the cloud): TLS + AUTH, short timeouts and a circuit breaker, so that a
cache outage costs one timeout, then nothing, while PostgreSQL answers.

Keys: `video:<id>` holds a record's JSON (TTL), `videos:popular` is a sorted set of access counts."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from services.common.autopipeline import AutoPipeline
from services.common.log import JsonLogger
from services.common.settings import RedisSettings

POPULAR_KEY = "videos:popular"


def video_key(vid: str) -> str:
    return f"video:{vid}"


def _entry(record: dict[str, Any]) -> str:
    """A record as its cache entry (compact JSON); the worker's write-through and the API's fill agree, and
    the API answers a hit with the entry as it is."""
    return json.dumps(record, separators=(",", ":"))


def entry_of(record: dict[str, Any]) -> bytes:
    """The cache entry of a record, as bytes (what the API stores and answers)."""
    return _entry(record).encode()


class CacheUnavailable(RuntimeError):
    """Redis could not be used (down, timing out, refusing AUTH); the caller goes to PostgreSQL."""


GET_AND_COUNT = ("local v = redis.call('GET', KEYS[1]) "
                 "if v then redis.call('ZINCRBY', KEYS[2], 1, ARGV[1]) end "
                 "return v")
GET_AND_COUNT_SHA = hashlib.sha1(GET_AND_COUNT.encode()).hexdigest()  # EVALSHA's name for it
FAILURES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.AuthenticationError,
            redis.exceptions.ResponseError, OSError)


def client_options(settings: RedisSettings) -> dict[str, Any]:
    """TLS + AUTH, short timeouts, no client-side retries: one short timeout, then the breaker opens and
    PostgreSQL answers. The blocking client's (`Cache`); `AsyncCache` uses the same host, password, CA bundle
    and timeout."""
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

    def __init__(self, settings: RedisSettings, logger: JsonLogger, *, client: redis.Redis | None = None) -> None:
        self.settings, self.logger = settings, logger
        self.client = client or redis.Redis(**client_options(settings))
        self.breaker = Breaker(logger, settings.breaker_open_s)
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
    """The same operations for the API's event loop, auto-pipelined (services/common/autopipeline.py): the
    commands of every request that reaches Redis in one turn of the loop share one write and one read, and a
    request waiting on Redis holds no thread, no lock and no pooled connection. Same keys, script, timeouts
    and breaker as `Cache`. A hit is the cached entry's JSON as stored (bytes), answered without decoding."""

    def __init__(self, settings: RedisSettings, logger: JsonLogger) -> None:
        self.settings, self.logger = settings, logger
        self.redis = AutoPipeline(settings)
        self.breaker = Breaker(logger, settings.breaker_open_s)

    async def warm(self) -> None:
        """Connect now (the API's start), not under the first burst of requests, and load the script. Redis
        being down here is not an error: the breaker handles it when requests come."""
        try:
            await self.redis.execute("SCRIPT", "LOAD", GET_AND_COUNT)
        except FAILURES as exc:
            self.logger.warning("cache_not_warmed", error=f"{type(exc).__name__}: {exc}")

    async def _call(self, what: str, *command: Any) -> Any:
        self.breaker.check()
        try:
            return await self.redis.execute(*command)
        except FAILURES as exc:
            raise self.breaker.failed(what, exc) from exc

    async def _all(self, what: str, waiters: list[asyncio.Future]) -> list[Any]:
        """The replies of commands queued together; the first failure once all are answered (none is left
        with an exception nobody read)."""
        replies, failure = [], None
        for waiter in waiters:
            try:
                replies.append(await waiter)
            except FAILURES as exc:
                failure = failure or exc
        if failure is not None:
            raise self.breaker.failed(what, failure) from failure
        return replies

    async def ping(self) -> bool:
        return await self._call("ping", "PING") == b"PONG"

    async def get_and_count(self, vid: str) -> bytes | None:
        """The cached entry (its JSON, as stored), and one view counted when it exists: one script run."""
        self.breaker.check()
        key = video_key(vid)
        try:
            try:
                return await self.redis.execute("EVALSHA", GET_AND_COUNT_SHA, 2, key, POPULAR_KEY, vid)
            except redis.exceptions.NoScriptError:  # Redis restarted or its scripts were flushed: EVAL loads it
                return await self.redis.execute("EVAL", GET_AND_COUNT, 2, key, POPULAR_KEY, vid)
        except FAILURES as exc:
            raise self.breaker.failed("get_and_count", exc) from exc

    async def put_and_count(self, vid: str, entry: bytes) -> None:
        """Fill the entry (`entry`: the record's JSON, `_entry`) with its TTL and count one view."""
        self.breaker.check()
        await self._all("put_and_count", [
            self.redis.execute("SET", video_key(vid), entry, "EX", self.settings.ttl_s),
            self.redis.execute("ZINCRBY", POPULAR_KEY, 1, vid)])

    async def put(self, vid: str, entry: bytes) -> None:
        """Fill the entry without counting a view (the view was counted when the unusable entry was read)."""
        await self._call("set", "SET", video_key(vid), entry, "EX", self.settings.ttl_s)

    async def get_videos(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        raws = await self._call("mget", "MGET", *[video_key(i) for i in ids])
        return {i: json.loads(r) for i, r in zip(ids, raws, strict=True) if r}

    async def popular(self, limit: int) -> list[tuple[str, int]]:
        flat = await self._call("zrevrange", "ZREVRANGE", POPULAR_KEY, 0, limit - 1, "WITHSCORES")
        return [(flat[n].decode(), int(float(flat[n + 1]))) for n in range(0, len(flat), 2)]

    async def close(self) -> None:
        self.redis.close()
