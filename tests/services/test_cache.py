"""The API's Redis cache (services/common/cache.py's AsyncCache, on the auto-pipelined client) against the real Redis:
a view counted exactly once by its script, whatever happens to the script, and an outage that is one outage. The
cache as the API uses it (cache-aside, BYPASS, the popularity ranking): test_app.py; as the worker uses it:
test_worker.py."""

from __future__ import annotations

import asyncio
import json

from services.common.cache import AsyncCache, CacheUnavailable, _entry, video_key
from tests.services.test_app import down_settings


def test_concurrent_requests_count_every_view_exactly_once(redis_settings, cache, log):
    ids = [f"00000000-0000-0000-0000-{n:012d}" for n in range(10)]
    for vid in ids[:5]:  # half of them cached: only those may be counted
        cache.client.set(video_key(vid), _entry({"id": vid}))

    async def main():
        api_cache = AsyncCache(redis_settings, log)
        await api_cache.warm()
        answers = await asyncio.gather(*(api_cache.get_and_count(ids[n % 10]) for n in range(500)))
        await api_cache.close()
        return answers

    answers = asyncio.run(main())
    assert [json.loads(a)["id"] if a else None for a in answers] == [
        ids[n % 10] if n % 10 < 5 else None for n in range(500)]
    assert sorted(cache.popular(20)) == sorted((vid, 50) for vid in ids[:5])


def test_a_flushed_script_is_loaded_again_and_the_view_counted_once(redis_settings, cache, log):
    vid = "00000000-0000-0000-0000-000000000001"
    cache.client.set(video_key(vid), _entry({"id": vid}))

    async def main():
        api_cache = AsyncCache(redis_settings, log)
        await api_cache.warm()
        cache.client.script_flush()
        entry = await api_cache.get_and_count(vid)
        await api_cache.close()
        return entry

    assert json.loads(asyncio.run(main()))["id"] == vid
    assert cache.popular(5) == [(vid, 1)] and not log.events("cache_unavailable")


def test_one_failed_connection_is_one_outage_logged_and_each_request_told(redis_settings, log):
    """Redis unreachable: every request of the turn gets CacheUnavailable (its BYPASS), the breaker logs the
    outage once, and the requests after it do not try Redis."""
    async def main():
        api_cache = AsyncCache(down_settings(redis_settings), log)
        first = await asyncio.gather(*(api_cache.get_and_count(f"id{n}") for n in range(20)),
                                     return_exceptions=True)
        tried = []
        api_cache.redis.execute = lambda *command: tried.append(command)
        later = await asyncio.gather(api_cache.get_and_count("x"), return_exceptions=True)
        await api_cache.close()
        return first, later, tried

    first, later, tried = asyncio.run(main())
    assert all(isinstance(r, CacheUnavailable) for r in first + later) and not tried
    assert len(log.events("cache_unavailable")) == 1
