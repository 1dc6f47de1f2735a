"""The metadata API's logic, independent of the HTTP server: routes, validation, cache-aside reads. Async,
all on the event loop: the cache auto-pipelined (services/common/autopipeline.py), PostgreSQL through
psycopg's async pool (no thread per query). A hit is answered with the cached entry's bytes as stored (the
JSON the miss that stored it answered).

    GET /health                      liveness + the state of the database and the cache (always 200)
    GET /videos/{id}                 one video (cache-aside through Redis, counted for /videos/popular)
    GET /videos?limit=&cursor=&codec=   newest first, keyset-paged (next_cursor)
    GET /videos/popular?limit=       the most viewed videos (Redis sorted set of views)
    GET /openapi.json                this API's OpenAPI 3.1 description

Errors are JSON `{"error": ..., "detail": ...}`: 400 bad input, 404 unknown, 405 not GET, 503 when the
database (or, for /videos/popular, the cache) is unavailable, with Retry-After."""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from platform_utils.numbers import quoted, whole
from services.common import videos
from services.common.cache import AsyncCache, CacheUnavailable, entry_of
from services.common.log import JsonLogger
from services.metadata_api import openapi

CODEC = re.compile(r"^[a-z0-9_]{1,32}$")
RETRY_AFTER_S = 5
#: The most unknown query parameters a 400 names (quoted); the rest are counted.
UNKNOWN_NAMED = 5


class Response:
    """An answer: its status, its JSON body, its headers. The body is given as an object, or as its JSON
    already encoded (`payload`: a cached entry, answered as it is stored, never decoded and encoded again)."""

    __slots__ = ("_body", "_payload", "headers", "status")

    def __init__(self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                 *, payload: bytes | None = None) -> None:
        if (body is None) == (payload is None):
            raise TypeError("a Response has a body or a payload, one of the two")
        self.status, self._body, self._payload = status, body, payload
        self.headers = {} if headers is None else headers

    @property
    def body(self) -> dict[str, Any]:
        if self._body is None:
            if self._payload is None:  # never: __init__ takes one of the two, and encode() keeps both
                raise TypeError("a Response has a body or a payload, one of the two")
            self._body = json.loads(self._payload)
        return self._body

    def encode(self) -> bytes:
        if self._payload is None:
            self._payload = json.dumps(self._body, separators=(",", ":")).encode()
        return self._payload


class DatabaseUnavailable(RuntimeError):
    pass


def error_response(status: int, error: str, detail: str, **headers: str) -> Response:
    return Response(status, {"error": error, "detail": detail}, dict(headers))


def _unavailable(what: str, detail: str) -> Response:
    return error_response(503, f"{what} unavailable", detail, **{"Retry-After": str(RETRY_AFTER_S)})


def _limit(query: dict[str, list[str]], default: int, high: int) -> int:
    raw = query.get("limit", [str(default)])[-1]
    limit = whole(raw, 1, high)
    if limit is None:
        raise ValueError(f"limit must be an integer from 1 to {high}, got {quoted(raw)}")
    return limit


async def _schema_version(conn: psycopg.AsyncConnection) -> int:
    cur = await conn.execute("SELECT max(version) FROM schema_migrations")
    row = await cur.fetchone()
    if row is None:  # an aggregate answers one row, even over no rows
        raise psycopg.DataError("SELECT max(version) returned no row")
    return row[0]


class MetadataApi:
    def __init__(self, *, db: AsyncConnectionPool, cache: AsyncCache, logger: JsonLogger) -> None:
        self.db, self.cache, self.logger = db, cache, logger

    async def start(self) -> None:
        """On the serving loop, before the first request: the database pool opens (its connections in the
        background: a database still down is the requests' 503, not a failed start) and the cache connects."""
        await self.db.open(wait=False)
        await self.cache.warm()

    async def close(self) -> None:
        await self.cache.close()
        await self.db.close()

    async def handle(self, method: str, target: str) -> Response:
        url = urlsplit(target)
        path = url.path.rstrip("/") or "/"
        query = parse_qs(url.query, keep_blank_values=True)
        if method not in ("GET", "HEAD"):
            return error_response(405, "method not allowed", f"{method} is not supported; this API is read-only",
                                  Allow="GET, HEAD")
        try:
            if path == "/health":
                return await self.health()
            if path == "/openapi.json":
                return Response(200, openapi.DOCUMENT)
            if path == "/videos":
                return await self.list_videos(query)
            if path == "/videos/popular":
                return await self.popular(query)
            if path.startswith("/videos/") and path.count("/") == 2:
                return await self.get_video(path.rsplit("/", 1)[1])
        except ValueError as exc:
            return error_response(400, "bad request", str(exc))
        except DatabaseUnavailable as exc:
            return _unavailable("database", str(exc))
        return error_response(404, "not found", f"no route {quoted(path)}")

    # -- the database, with a clear failure ------------------------------------------------------------------
    async def _db(self, fn, *args: Any, **kwargs: Any) -> Any:
        """`fn(connection, ...)` with a pooled connection, on the loop."""
        try:
            conn = await self.db.getconn()
            try:
                return await fn(conn, *args, **kwargs)
            finally:
                await self.db.putconn(conn)  # a broken connection is replaced, not handed out again
        except (psycopg.OperationalError, PoolTimeout) as exc:
            self.logger.error("database_unavailable", error=f"{type(exc).__name__}: {str(exc).strip()[:300]}")
            raise DatabaseUnavailable(
                "PostgreSQL did not answer; the source of truth is unreachable, retry later") from exc

    def _bypass(self, route: str) -> None:
        self.logger.metric("CacheBypass", 1, route=route)

    # -- routes -----------------------------------------------------------------------------------------------
    async def health(self) -> Response:
        state: dict[str, Any] = {"status": "ok"}
        try:
            state["schema_version"] = await self._db(_schema_version)
            state["database"] = "ok"
        except DatabaseUnavailable:
            state["database"] = "unavailable"
        try:
            await self.cache.ping()
            state["cache"] = "ok"
        except CacheUnavailable:
            state["cache"] = "unavailable"
        return Response(200, state)

    async def get_video(self, raw_id: str) -> Response:
        try:
            vid = str(uuid.UUID(raw_id))
        except ValueError:
            raise ValueError(f"video id must be a UUID, got {quoted(raw_id)}") from None
        started = time.perf_counter()
        cache_state = "MISS"
        entry = None
        try:
            entry = await self.cache.get_and_count(vid)  # a hit is counted in the same round trip
        except CacheUnavailable:
            cache_state = "BYPASS"
            self._bypass("/videos/{id}")
        counted = entry is not None
        if entry is not None and not (entry[:1] == b"{" and entry[-1:] == b"}"):
            # Not a record's JSON (nothing of ours writes that): served from PostgreSQL and replaced; the view
            # was counted by the read.
            self.logger.warning("cache_entry_unusable", id=vid, length=len(entry))
            entry = None
        if entry is not None:
            cache_state = "HIT"
        else:
            record = await self._db(videos.get, vid)
            if record is None:
                return error_response(404, "not found", f"no video {vid}")
            entry = entry_of(record)
            if cache_state == "MISS":
                with contextlib.suppress(CacheUnavailable):  # logged once by the breaker; PostgreSQL is the truth
                    if counted:
                        await self.cache.put(vid, entry)
                    else:
                        await self.cache.put_and_count(vid, entry)
        return Response(200, payload=entry, headers={
            "X-Cache": cache_state, "Server-Timing": f"app;dur={(time.perf_counter() - started) * 1000:.1f}"})

    async def list_videos(self, query: dict[str, list[str]]) -> Response:
        unknown = sorted(set(query) - {"limit", "cursor", "codec"})
        if unknown:
            named = ", ".join(quoted(name) for name in unknown[:UNKNOWN_NAMED])
            more = f" and {len(unknown) - UNKNOWN_NAMED:,} more" if len(unknown) > UNKNOWN_NAMED else ""
            raise ValueError(f"unknown query parameter(s) {named}{more}; allowed: limit, cursor, codec")
        limit = _limit(query, 20, 100)
        cursor = query.get("cursor", [None])[-1] or None
        codec = query.get("codec", [None])[-1] or None
        if codec is not None and not CODEC.match(codec):
            raise ValueError(f"codec must match {CODEC.pattern}, got {quoted(codec)}")
        if cursor:
            videos.decode_cursor(cursor)  # a bad cursor is the caller's error (400), checked before the database
        items, next_cursor = await self._db(videos.page, limit=limit, cursor=cursor, codec=codec)
        return Response(200, {"items": items, "next_cursor": next_cursor, "limit": limit})

    async def popular(self, query: dict[str, list[str]]) -> Response:
        limit = _limit(query, 10, 50)
        try:
            ranking = await self.cache.popular(limit)
            cached = await self.cache.get_videos([vid for vid, _ in ranking])
        except CacheUnavailable:
            self._bypass("/videos/popular")
            return _unavailable("popularity ranking", "the view counts live in the cache, which is unreachable")
        missing = [vid for vid, _ in ranking if vid not in cached]
        loaded = await self._db(videos.get_many, missing) if missing else {}
        items = []
        for vid, views in ranking:
            record = cached.get(vid) or loaded.get(vid)
            if record is not None:  # a ranked id whose row is gone (deleted) is not listed
                items.append({"views": views, **record})
        return Response(200, {"items": items, "limit": limit})
