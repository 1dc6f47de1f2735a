"""The Redis cache (ElastiCache in the cloud): TLS + AUTH, short timeouts and a circuit breaker, so that a
cache outage costs one timeout, then nothing, while PostgreSQL answers.

Keys: `video:<id>` holds a record's JSON (TTL), `videos:popular` is a sorted set of access counts."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import redis
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


class Cache:
    def __init__(self, settings: RedisSettings, logger: JsonLogger, *, open_for_s: float = 5.0,
                 client: redis.Redis | None = None) -> None:
        self.settings, self.logger, self.open_for_s = settings, logger, open_for_s
        self.client = client or redis.Redis(
            host=settings.host, port=settings.port, password=settings.password, ssl=True,
            ssl_cert_reqs="required", ssl_ca_certs=settings.ca_bundle, ssl_check_hostname=True,
            socket_timeout=settings.timeout_s, socket_connect_timeout=settings.timeout_s,
            # No client-side retries: one short timeout, then the breaker opens and PostgreSQL answers.
            retry=Retry(NoBackoff(), 0), health_check_interval=30, decode_responses=True)
        self._open_until = 0.0
        self._lock = threading.Lock()
        self._get_and_count = self.client.register_script(
            "local v = redis.call('GET', KEYS[1]) "
            "if v then redis.call('ZINCRBY', KEYS[2], 1, ARGV[1]) end "
            "return v")

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._open_until

    def _call(self, what: str, fn, *args: Any) -> Any:
        if not self.available:
            raise CacheUnavailable("circuit open after a recent failure")
        try:
            return fn(*args)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                redis.exceptions.AuthenticationError, redis.exceptions.ResponseError, OSError) as exc:
            with self._lock:
                first = self.available
                self._open_until = time.monotonic() + self.open_for_s
            if first:
                self.logger.warning("cache_unavailable", operation=what, error=f"{type(exc).__name__}: {exc}",
                                    retry_in_s=self.open_for_s)
            raise CacheUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc

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
