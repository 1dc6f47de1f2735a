"""The metadata API against the real PostgreSQL and Redis: routes, cache-aside, degraded modes, HTTP."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid

import pytest

from localenv.emulator import free_port
from services.common import db, videos
from services.common.cache import POPULAR_KEY, Cache, video_key
from services.common.settings import RedisSettings
from services.metadata_api.app import MetadataApi
from services.metadata_api.server import ApiServer, serve_until
from tests.services.conftest import LogSink, settings_for
from tests.services.test_videos import record


@pytest.fixture
def api(pool, cache, log) -> MetadataApi:
    return MetadataApi(db=pool, cache=cache, logger=log)


@pytest.fixture
def stored(clean_db) -> list[dict]:
    with db.connect(clean_db, "tests") as conn:
        rows = [videos.upsert(conn, record(n))[0] for n in range(3)]
    return rows


def down_cache(redis_settings, log, port: int | None = None) -> Cache:
    settings = RedisSettings(host="127.0.0.1", port=port or free_port(), password="x",
                             ca_bundle=redis_settings.ca_bundle, timeout_s=0.25)
    return Cache(settings, log)


def test_cache_aside_miss_then_hit_and_views_counted(api, stored, cache):
    vid = stored[0]["id"]
    first = api.handle("GET", f"/videos/{vid}")
    assert first.status == 200 and first.headers["X-Cache"] == "MISS" and first.body["key"] == stored[0]["key"]
    assert json.loads(cache.client.get(video_key(vid)))["id"] == vid
    assert 0 < cache.client.ttl(video_key(vid)) <= 300
    second = api.handle("GET", f"/videos/{vid}")
    assert second.status == 200 and second.headers["X-Cache"] == "HIT" and second.body == first.body
    assert cache.popular(5) == [(vid, 2)]


def test_the_cache_entry_is_replaced_when_the_worker_updates_the_row(api, stored, cache, clean_db):
    vid = stored[0]["id"]
    api.handle("GET", f"/videos/{vid}")
    with db.connect(clean_db, "tests") as conn:
        updated, _ = videos.upsert(conn, {**record(0), "duration_seconds": 9.5})
    cache.put_video(updated)  # what the worker does after its upsert
    assert api.handle("GET", f"/videos/{vid}").body["duration_seconds"] == 9.5


def test_unknown_ids_never_enter_the_popularity_ranking(api, stored, cache):
    for _ in range(3):
        assert api.handle("GET", f"/videos/{uuid.uuid4()}").status == 404
    assert cache.popular(10) == []


def test_popular_ranks_by_views(api, stored):
    for row, views in zip(stored, (1, 3, 2), strict=True):
        for _ in range(views):
            api.handle("GET", f"/videos/{row['id']}")
    body = api.handle("GET", "/videos/popular?limit=2").body
    assert [(i["id"], i["views"]) for i in body["items"]] == [(stored[1]["id"], 3), (stored[2]["id"], 2)]


def test_popular_loads_rows_missing_from_the_cache_and_skips_deleted_ones(api, stored, cache, clean_db):
    cache.client.zincrby(POPULAR_KEY, 1, stored[0]["id"])
    cache.client.zincrby(POPULAR_KEY, 1, str(uuid.uuid4()))  # a ranked id whose row no longer exists
    items = api.handle("GET", "/videos/popular").body["items"]
    assert [i["id"] for i in items] == [stored[0]["id"]]


def test_listing_pages_with_a_cursor(api, stored):
    page = api.handle("GET", "/videos?limit=2")
    assert page.status == 200 and len(page.body["items"]) == 2 and page.body["next_cursor"]
    rest = api.handle("GET", f"/videos?limit=2&cursor={page.body['next_cursor']}")
    assert len(rest.body["items"]) == 1 and rest.body["next_cursor"] is None
    assert api.handle("GET", "/videos?codec=vp9").body["items"] == []


@pytest.mark.parametrize("target, status, fragment", [
    ("/videos/not-a-uuid", 400, "must be a UUID"),
    ("/videos?limit=0", 400, "limit must be an integer from 1 to 100"),
    ("/videos?limit=abc", 400, "limit must be"),
    ("/videos?page=2", 400, "unknown query parameter(s) page"),
    ("/videos?cursor=forged", 400, "cursor is not one this API issued"),
    ("/videos?codec=H.264;drop", 400, "codec must match"),
    ("/videos/popular?limit=51", 400, "from 1 to 50"),
    ("/nothing", 404, "no route /nothing"),
    ("/videos/2bdbbeee-65a5-4068-a85a-6b8d4c02db1a", 404, "no video"),  # a fixed id: xdist workers must collect alike
])
def test_bad_requests_get_clear_json_errors(api, stored, target, status, fragment):
    response = api.handle("GET", target)
    assert response.status == status and fragment in response.body["detail"]


def test_only_reads_are_allowed(api):
    response = api.handle("POST", "/videos")
    assert response.status == 405 and response.headers["Allow"] == "GET, HEAD"


def test_health_reports_each_dependency(api, stored):
    assert api.handle("GET", "/health").body == {"status": "ok", "schema_version": 1, "database": "ok",
                                                  "cache": "ok"}


def test_redis_down_the_api_answers_from_postgres_and_says_so(pool, stored, redis_settings):
    log = LogSink()
    api = MetadataApi(db=pool, cache=down_cache(redis_settings, log), logger=log)
    for _ in range(3):
        response = api.handle("GET", f"/videos/{stored[0]['id']}")
        assert response.status == 200 and response.headers["X-Cache"] == "BYPASS"
        assert response.body["id"] == stored[0]["id"]
    assert len(log.events("cache_unavailable")) == 1  # logged once per outage, not per request
    bypass = [r for r in log.events("metric") if "CacheBypass" in r]
    assert len(bypass) == 3 and bypass[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "CacheBypass", "Unit": "Count"}]
    assert api.handle("GET", "/health").body["cache"] == "unavailable"
    popular = api.handle("GET", "/videos/popular")
    assert popular.status == 503 and popular.body["error"] == "popularity ranking unavailable"


def test_a_hung_redis_costs_one_short_timeout_then_nothing(pool, stored, redis_settings):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # accepts, never answers the TLS handshake
    try:
        log = LogSink()
        api = MetadataApi(db=pool, cache=down_cache(redis_settings, log, listener.getsockname()[1]), logger=log)
        started = time.monotonic()
        assert api.handle("GET", f"/videos/{stored[0]['id']}").headers["X-Cache"] == "BYPASS"
        first = time.monotonic() - started
        started = time.monotonic()
        assert api.handle("GET", f"/videos/{stored[0]['id']}").status == 200
        assert first < 2 and time.monotonic() - started < first
    finally:
        listener.close()


def test_postgres_down_is_a_503_with_a_clear_body_not_a_hang(postgres, cache, log):
    settings = settings_for(postgres, DB_PORT=str(free_port()), DB_CONNECT_TIMEOUT="2")
    with db.pool(settings, "tests", timeout=2) as dead_pool:
        api = MetadataApi(db=dead_pool, cache=cache, logger=log)
        started = time.monotonic()
        response = api.handle("GET", f"/videos/{uuid.uuid4()}")
        assert time.monotonic() - started < 5
        assert response.status == 503 and response.headers["Retry-After"] == "5"
        assert response.body == {"error": "database unavailable",
                                 "detail": "PostgreSQL did not answer; the source of truth is unreachable, retry later"}
        assert log.events("database_unavailable")
        assert api.handle("GET", "/videos").status == 503
        assert api.handle("GET", "/health").body["database"] == "unavailable"


@pytest.fixture
def http_api(api):
    server = ApiServer(("127.0.0.1", 0), api, api.logger)
    stop = threading.Event()
    thread = threading.Thread(target=serve_until, args=(server, stop))
    thread.start()
    yield server.server_address[1]
    stop.set()
    thread.join(10)
    assert not thread.is_alive()


def request(port: int, method: str, path: str) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), body


def test_the_http_server_speaks_json_and_keeps_connections_alive(http_api, stored, api):
    status, headers, body = request(http_api, "GET", f"/videos/{stored[0]['id']}")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["id"] == stored[0]["id"] and headers["X-Cache"] == "MISS"
    status, headers, body = request(http_api, "HEAD", "/health")
    assert status == 200 and body == b""
    status, headers, body = request(http_api, "DELETE", "/videos")
    assert status == 405 and json.loads(body)["error"] == "method not allowed"
    conn = http.client.HTTPConnection("127.0.0.1", http_api, timeout=10)
    for _ in range(3):  # HTTP/1.1 keep-alive: three requests, one connection
        conn.request("GET", "/health")
        assert conn.getresponse().read()
    conn.close()
    access = [r for r in api.logger.records if r.get("event") == "request"]
    assert {"method", "path", "status", "ms"} <= set(access[0])


def test_an_unexpected_error_is_a_json_500_and_a_log_line(http_api, api, monkeypatch):
    monkeypatch.setattr(api, "list_videos", lambda query: 1 / 0)
    status, _, body = request(http_api, "GET", "/videos")
    assert status == 500 and json.loads(body) == {"error": "internal error",
                                                  "detail": "the request failed; see the service log"}
    assert api.logger.events("unhandled_error")[0]["error"].startswith("ZeroDivisionError")
