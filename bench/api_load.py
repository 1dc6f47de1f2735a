"""Benchmark: GET /videos/{id} on the metadata API (a real process) against real PostgreSQL and Redis with
TLS on 127.0.0.1 — requests per second, p50 and p99 latency, with a cold cache (every request a miss:
PostgreSQL, then the entry is written), a warm cache (every request a hit) and Redis down (every request
from PostgreSQL, the cache bypassed).

    source scripts/env.sh && python bench/api_load.py [--rows 3000] [--concurrency 8] [--seconds 10]

The load generator is Python (threads, one keep-alive connection each) on the same 2-core machine as the
server, PostgreSQL and Redis, so the figures are a floor for the service, not a ceiling."""

from __future__ import annotations

import argparse
import http.client
import json
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localenv.dataservers import PostgresServer, RedisServer  # noqa: E402
from localenv.emulator import free_port  # noqa: E402
from localenv.pipeline import ServiceProcess  # noqa: E402
from localenv.tls import make_tls_files  # noqa: E402
from services.common import db, videos  # noqa: E402
from services.common.settings import DatabaseSettings  # noqa: E402


def seed(settings: DatabaseSettings, rows: int) -> list[str]:
    with db.connect(settings, "bench") as conn:
        db.migrate(conn)
        ids = []
        for n in range(rows):
            row, _ = videos.upsert(conn, {
                "bucket": "ingest", "object_key": f"uploads/bench-{n:06d}.mp4", "version_id": "v1",
                "size_bytes": 5_000_000 + n, "etag": f"e{n}", "container": "mov,mp4,m4a,3gp,3g2,mj2",
                "duration_seconds": 60.0, "bit_rate": 2_000_000, "width": 1920, "height": 1080,
                "frame_rate": 29.97, "video_codec": "h264", "audio_codec": "aac", "uploaded_at": None,
                "streams": [{"index": 0, "type": "video", "codec": "h264", "width": 1920, "height": 1080},
                            {"index": 1, "type": "audio", "codec": "aac", "sample_rate": 48000, "channels": 2}]})
            ids.append(row["id"])
        conn.commit()
    return ids


def load(port: int, paths: list[str], concurrency: int, seconds: float, *, once: bool) -> dict:
    """Issue GETs from `concurrency` threads; with `once`, each path exactly once (cold), else at random."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    caches: dict[str, int] = {}
    lock = threading.Lock()
    queue = list(paths)
    deadline = time.perf_counter() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine, local_status, local_cache = [], {}, {}
        while time.perf_counter() < deadline:
            if once:
                with lock:
                    if not queue:
                        break
                    path = queue.pop()
            else:
                path = random.choice(paths)
            started = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            local_status[str(response.status)] = local_status.get(str(response.status), 0) + 1
            cache = response.getheader("X-Cache") or "-"
            local_cache[cache] = local_cache.get(cache, 0) + 1
        conn.close()
        with lock:
            latencies.extend(mine)
            for k, v in local_status.items():
                statuses[k] = statuses.get(k, 0) + v
            for k, v in local_cache.items():
                caches[k] = caches.get(k, 0) + v

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return {"requests": len(latencies), "seconds": round(elapsed, 2), "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(q[49] * 1000, 2), "p99_ms": round(q[98] * 1000, 2), "status": statuses,
            "x_cache": caches}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="streamtech-bench-") as tmp:
        tls = make_tls_files(Path(tmp) / "tls")
        pg = PostgresServer(tls, password=secrets.token_urlsafe(16), database="videometadata").start()
        redis = RedisServer(Path(tmp) / "redis", tls, password=secrets.token_urlsafe(16)).start()
        api = None
        try:
            settings = DatabaseSettings.from_env(pg.environment())
            ids = seed(settings, args.rows)
            port = free_port()
            env = {**pg.environment(), **redis.environment(), "PORT": str(port), "BIND_ADDRESS": "127.0.0.1",
                   "PATH": "/usr/bin:/bin"}
            api = ServiceProcess("services.metadata_api", env)
            api.wait_for(lambda r: r.get("event") == "api_started", 60)
            paths = [f"/videos/{i}" for i in ids]
            results = {}
            # cold: every id once, from an empty cache (each request misses, reads PostgreSQL, fills Redis)
            results["cold"] = load(port, paths, args.concurrency, 120, once=True)
            # warm: the same ids at random, all in the cache now
            results["warm"] = load(port, paths, args.concurrency, args.seconds, once=False)
            redis.kill()
            load(port, paths[:50], 2, 5, once=True)  # let the breaker open (one timeout)
            results["redis_down"] = load(port, paths, args.concurrency, args.seconds, once=False)
        finally:
            if api:
                api.stop()
            redis.stop()
            pg.remove()
    print(f"GET /videos/{{id}}: {args.rows} rows, {args.concurrency} keep-alive clients, Python load generator "
          f"on the same 2 cores")
    print(f"{'cache':<11} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  X-Cache")
    for name, r in results.items():
        print(f"{name:<11} {r['requests']:>9} {r['rps']:>8} {r['p50_ms']:>8} {r['p99_ms']:>8}  {r['x_cache']}")
    print(json.dumps({"benchmark": "api_load", "rows": args.rows, "concurrency": args.concurrency, **results}))
    bad = {k: r["status"] for k, r in results.items() if set(r["status"]) != {"200"}}
    if bad:
        print(f"error: non-200 answers: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
