"""The metadata API's core (services/metadata_api/app.py) against the real PostgreSQL and Redis: routes,
cache-aside, degraded modes. Served over HTTP: test_server.py; its OpenAPI description: test_openapi.py."""

from __future__ import annotations

import dataclasses
import json
import socket
import uuid

import pytest

from localenv.emulator import free_port
from services.common import db, videos
from services.common.cache import POPULAR_KEY, AsyncCache, Cache, video_key
from services.common.settings import RedisSettings
from tests.services.conftest import LogSink, record, settings_for, sync_api


def down_settings(redis_settings, port: int | None = None) -> RedisSettings:
    return RedisSettings(host="127.0.0.1", port=port or free_port(), password="x", ca_bundle=redis_settings.ca_bundle,
                         timeout_s=0.25)


def down_cache(redis_settings, log, port: int | None = None) -> Cache:
    return Cache(down_settings(redis_settings, port), log)


def test_cache_aside_miss_then_hit_and_views_counted(api, stored, cache):
    vid = stored[0]["id"]
    first = api.handle("GET", f"/videos/{vid}")
    assert first.status == 200 and first.headers["X-Cache"] == "MISS" and first.body["key"] == stored[0]["key"]
    assert json.loads(cache.client.get(video_key(vid)))["id"] == vid
    assert 0 < cache.client.ttl(video_key(vid)) <= 300
    second = api.handle("GET", f"/videos/{vid}")
    assert second.status == 200 and second.headers["X-Cache"] == "HIT" and second.body == first.body
    assert cache.popular(5) == [(vid, 2)]


@pytest.mark.parametrize("garbage", ["", "not json", "[1, 2]"])
def test_an_unusable_cache_entry_is_served_from_postgres_replaced_and_counted_once(api, stored, cache, garbage):
    """Nothing of ours writes such an entry; were one there, it is neither served nor an error."""
    vid = stored[0]["id"]
    cache.client.set(video_key(vid), garbage)
    response = api.handle("GET", f"/videos/{vid}")
    assert response.status == 200 and response.headers["X-Cache"] == "MISS" and response.body["id"] == vid
    assert json.loads(cache.client.get(video_key(vid))) == response.body
    assert cache.popular(5) == [(vid, 1)] and api.logger.events("cache_entry_unusable")
    assert api.handle("GET", f"/videos/{vid}").headers["X-Cache"] == "HIT" and cache.popular(5) == [(vid, 2)]


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
    pytest.param("/videos/" + "z" * 100, 400, "must be a UUID, got '" + "z" * 40 + "'... (100 characters)",
                 id="video-id-of-100"),
    ("/videos?limit=0", 400, "limit must be an integer from 1 to 100"),
    ("/videos?limit=abc", 400, "limit must be"),
    ("/videos?limit=%C2%B2", 400, "limit must be an integer from 1 to 100"),  # a superscript two: isdigit() says yes
    ("/videos?limit=%EF%BC%95", 400, "limit must be an integer from 1 to 100"),  # a fullwidth five: int() reads it
    pytest.param("/videos?limit=" + "9" * 5000, 400, "limit must be an integer from 1 to 100, got '"
                 + "9" * 40 + "'... (5,000 characters)", id="limit-of-5000-digits"),  # past int()'s 4,300 digits
    ("/videos?page=2", 400, "unknown query parameter(s) 'page'; allowed"),
    pytest.param("/videos?" + "&".join(f"p{n}=1" for n in range(7)), 400,
                 "unknown query parameter(s) 'p0', 'p1', 'p2', 'p3', 'p4' and 2 more; allowed", id="seven-unknown"),
    pytest.param("/videos?" + "&".join(f"p{n}=1" for n in range(5)), 400,
                 "unknown query parameter(s) 'p0', 'p1', 'p2', 'p3', 'p4'; allowed", id="five-unknown"),  # all named
    pytest.param("/videos?" + "&".join(f"p{n}=1" for n in range(6)), 400,
                 "unknown query parameter(s) 'p0', 'p1', 'p2', 'p3', 'p4' and 1 more; allowed", id="six-unknown"),
    ("/videos?%E2%80%AEgap=1", 400, "unknown query parameter(s) '\\u202egap'"),  # a bidi override, escaped
    ("/videos?cursor=forged", 400, "cursor is not one this API issued"),
    ("/videos?codec=H.264;drop", 400, "codec must match"),
    pytest.param("/videos?codec=%E2%80%AE" + "x" * 99, 400, "got '\\u202e" + "x" * 39 + "'... (100 characters)",
                 id="codec-of-100"),  # a bidi override, escaped; cut
    ("/videos/popular?limit=51", 400, "from 1 to 50"),
    ("/nothing", 404, "no route '/nothing'"),
    pytest.param("/" + "n" * 3000, 404, f"no route '/{'n' * 39}'... (3,001 characters)", id="route-of-3001"),
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


def test_redis_down_the_api_answers_from_postgres_and_says_so(api_pool, stored, redis_settings):
    log = LogSink()
    with sync_api(api_pool, AsyncCache(down_settings(redis_settings), log), log) as api:
        redis_down_answers_from_postgres(api, stored, log)


def redis_down_answers_from_postgres(api, stored, log) -> None:
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


def test_a_hung_redis_costs_one_short_timeout_then_nothing(api_pool, stored, redis_settings):
    """The first request meets the hung Redis, times out once (the client's 250 ms) and opens the breaker; the
    next is answered from PostgreSQL without trying Redis at all. Observed through the breaker's failures, not
    a clock (the breaker is held open for an hour, so a slow machine cannot close it between the requests)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # accepts, never answers the TLS handshake
    try:
        log = LogSink()
        cache = AsyncCache(dataclasses.replace(down_settings(redis_settings, listener.getsockname()[1]),
                                               breaker_open_s=3600), log)
        failures = []
        failed = cache.breaker.failed
        cache.breaker.failed = lambda what, exc: failures.append(exc) or failed(what, exc)
        with sync_api(api_pool, cache, log) as api:
            assert api.handle("GET", f"/videos/{stored[0]['id']}").headers["X-Cache"] == "BYPASS"
            tried = len(failures)
            assert tried >= 1 and not cache.breaker.available
            second = api.handle("GET", f"/videos/{stored[0]['id']}")
            assert second.status == 200 and second.headers["X-Cache"] == "BYPASS"
            assert len(failures) == tried  # the open breaker answered: Redis was not tried again
        [outage] = log.events("cache_unavailable")
        assert "Timeout" in outage["error"], outage
    finally:
        listener.close()


def test_postgres_down_is_a_503_with_a_clear_body_not_a_hang(postgres, redis_settings, log):
    settings = settings_for(postgres, DB_PORT=str(free_port()), DB_CONNECT_TIMEOUT="2")
    # Nothing listens on the port: every request ends at the pool's wait (0.5 s here), whatever its length.
    with sync_api(db.async_pool(settings, "tests", timeout=0.5), AsyncCache(redis_settings, log), log) as api:
        response = api.handle("GET", f"/videos/{uuid.uuid4()}")  # bounded by the pool's wait, not a hang
        assert response.status == 503 and response.headers["Retry-After"] == "5"
        assert response.body == {"error": "database unavailable",
                                 "detail": "PostgreSQL did not answer; the source of truth is unreachable, retry later"}
        assert log.events("database_unavailable")
        assert api.handle("GET", "/videos").status == 503
        assert api.handle("GET", "/health").body["database"] == "unavailable"


def test_a_deeply_nested_cursor_is_a_400_not_a_500(api, stored):
    import base64

    nested = base64.urlsafe_b64encode(b"[" * 100000 + b"]" * 100000).decode()
    assert api.handle("GET", f"/videos?cursor={nested}").status == 400
    deep_but_short = base64.urlsafe_b64encode(b"[" * 150 + b"]" * 150).decode()
    response = api.handle("GET", f"/videos?cursor={deep_but_short}")
    assert response.status == 400 and "cursor is not one this API issued" in response.body["detail"]
