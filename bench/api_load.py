"""Benchmark: GET /videos/{id} on the metadata API (a real process: uvicorn) against real PostgreSQL and
Redis with TLS on 127.0.0.1 — requests per second, p50 and p99 latency, with a cold cache (every request a
miss: PostgreSQL, then the entry is written), a warm cache (every request a hit) and Redis down (every request
from PostgreSQL, the cache bypassed).

    source scripts/env.sh && python bench/api_load.py [--rows 20000] [--connections 16] [--seconds 10]

The load generator is wrk (Debian's package; a C event loop with a Lua script that picks the ids and counts
the X-Cache answers), so it is not the bottleneck the earlier Python threads were. It still shares the 2 cores
with the API, PostgreSQL and Redis: the figures are a floor for the service, not a ceiling. The cold run walks
each id once (every connection its own slice) and must see only MISS answers: a HIT means the run outlasted
the rows (raise --rows)."""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
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


WRK_SCRIPT = """
local ids, mode = {}, os.getenv("BENCH_MODE")
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
local threads, counter = {}, 0
function setup(thread)
  counter = counter + 1
  thread:set("slot", counter)
  table.insert(threads, thread)
end
function init(args)
  slot = tonumber(wrk.thread:get("slot")) - 1
  nthreads = tonumber(os.getenv("BENCH_THREADS"))
  next_index, hits, misses, bypass, other, non200 = slot, 0, 0, 0, 0, 0
end
function request()
  local id
  if mode == "cold" then
    id = ids[(next_index % #ids) + 1]
    next_index = next_index + nthreads
  else
    id = ids[math.random(#ids)]
  end
  return wrk.format("GET", "/videos/" .. id)
end
function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
  local cache = headers["x-cache"]
  if cache == "HIT" then hits = hits + 1 elseif cache == "MISS" then misses = misses + 1
  elseif cache == "BYPASS" then bypass = bypass + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local t = {HIT = 0, MISS = 0, BYPASS = 0, other = 0, non200 = 0}
  for _, thread in ipairs(threads) do
    t.HIT = t.HIT + thread:get("hits"); t.MISS = t.MISS + thread:get("misses")
    t.BYPASS = t.BYPASS + thread:get("bypass"); t.other = t.other + thread:get("other")
    t.non200 = t.non200 + thread:get("non200")
  end
  io.write(string.format("BENCH {\\"requests\\": %d, \\"seconds\\": %.3f, \\"errors\\": %d, "
    .. "\\"p50_us\\": %d, \\"p99_us\\": %d, \\"max_us\\": %d, \\"HIT\\": %d, \\"MISS\\": %d, "
    .. "\\"BYPASS\\": %d, \\"other\\": %d, \\"non200\\": %d}\\n",
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, t.HIT, t.MISS, t.BYPASS, t.other, t.non200))
end
"""


def load(port: int, ids_file: Path, script: Path, *, mode: str, connections: int, threads: int,
         seconds: float) -> dict:
    """One wrk run; its figures (requests, req/s, p50/p99 in ms) and the X-Cache answers it counted."""
    # cold: every request of a thread (whichever of its connections sends it) takes the thread's next id, and
    # each thread walks its own slice, so no id is asked twice until all were
    conns = connections
    env = {"BENCH_IDS": str(ids_file), "BENCH_MODE": mode, "BENCH_THREADS": str(threads), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script),
                           f"http://127.0.0.1:{port}"], capture_output=True, text=True, env=env, timeout=seconds + 60)
    found = re.search(r"^BENCH (\{.*\})$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout[-500:]}")
    r = json.loads(found.group(1))
    return {"requests": r["requests"], "rps": round(r["requests"] / r["seconds"], 1), "connections": conns,
            "p50_ms": round(r["p50_us"] / 1000, 2), "p99_ms": round(r["p99_us"] / 1000, 2),
            "max_ms": round(r["max_us"] / 1000, 2), "socket_errors": r["errors"], "non_200": r["non200"],
            "x_cache": {k: r[k] for k in ("HIT", "MISS", "BYPASS", "other") if r[k]}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20000, help="videos seeded (the cold run walks them once)")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections (warm, Redis down)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--seconds", type=float, default=10, help="length of the warm and Redis-down runs")
    parser.add_argument("--cold-seconds", type=float, default=3, help="length of the cold run")
    parser.add_argument("--hot", type=int, default=1000, help="ids in the warm run's working set")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("error: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="streamtech-bench-") as tmp:
        tls = make_tls_files(Path(tmp) / "tls")
        pg = PostgresServer(tls, password=secrets.token_urlsafe(16), database="videometadata").start()
        redis = RedisServer(Path(tmp) / "redis", tls, password=secrets.token_urlsafe(16)).start()
        api = None
        try:
            settings = DatabaseSettings.from_env(pg.environment())
            ids = seed(settings, args.rows)
            ids_file, script = Path(tmp) / "ids.txt", Path(tmp) / "bench.lua"
            ids_file.write_text("\n".join(ids) + "\n")
            script.write_text(WRK_SCRIPT)
            port = free_port()
            env = {**pg.environment(), **redis.environment(), "PORT": str(port), "BIND_ADDRESS": "127.0.0.1",
                   "PATH": "/usr/bin:/bin"}
            api = ServiceProcess("services.metadata_api", env)
            api.wait_for(lambda r: r.get("event") == "api_started", 60)
            common = {"threads": args.threads, "connections": args.connections}
            results = {
                # cold: each id at most once, from an empty cache (a miss reads PostgreSQL and fills Redis)
                "cold": load(port, ids_file, script, mode="cold", seconds=args.cold_seconds, **common)}
            # warm: a working set that is all cached (walked in turn first: a miss fills each entry)
            hot = Path(tmp) / "hot.txt"
            hot.write_text("\n".join(ids[-args.hot:]) + "\n")
            load(port, hot, script, mode="cold", seconds=max(3.0, args.hot / 300), **common)
            results["warm"] = load(port, hot, script, mode="warm", seconds=args.seconds, **common)
            redis.kill()
            load(port, ids_file, script, mode="warm", seconds=2, **common)  # the breaker opens (one timeout)
            results["redis_down"] = load(port, ids_file, script, mode="warm", seconds=args.seconds, **common)
        finally:
            if api:
                api.stop()
            redis.stop()
            pg.remove()
    print(f"GET /videos/{{id}}: {args.rows} rows ({args.hot} in the warm working set), wrk {args.threads} thread(s), "
          f"{args.connections} keep-alive connections; API, PostgreSQL, Redis and wrk on the same 2 cores")
    print(f"{'cache':<11} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  X-Cache")
    for name, r in results.items():
        print(f"{name:<11} {r['requests']:>9} {r['rps']:>8} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['max_ms']:>8}  "
              f"{r['x_cache']}")
    print(json.dumps({"benchmark": "api_load", "rows": args.rows, **common, **results}))
    problems = []
    for name, r in results.items():
        if r["non_200"] or r["socket_errors"]:
            problems.append(f"{name}: {r['non_200']} non-200 answers, {r['socket_errors']} socket errors")
    expected = {"cold": "MISS", "warm": "HIT", "redis_down": "BYPASS"}
    for name, want in expected.items():
        if set(results[name]["x_cache"]) != {want}:
            problems.append(f"{name}: expected only X-Cache {want}, got {results[name]['x_cache']}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
