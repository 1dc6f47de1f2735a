"""Benchmark: GET /videos/{id} on the metadata API (a real process: uvicorn) against real PostgreSQL and
Redis with TLS on 127.0.0.1 — requests per second, p50 and p99 latency, with a cold cache (every request a
miss: PostgreSQL, then the entry is written), a warm cache (every request a hit) and Redis down (every request
from PostgreSQL, the cache bypassed).

    source scripts/env.sh && python bench/api_load.py [--rows 20000] [--connections 16] [--seconds 10]

The load generator is wrk (Debian's package; a C event loop with a Lua script that picks the ids and counts
the X-Cache answers), so it is not the bottleneck the earlier Python threads were. It still shares the 2 cores
with the API, PostgreSQL and Redis: the figures are a floor for the service, not a ceiling. The cold run walks
each id once (every connection its own slice) and must see only MISS answers: a HIT means the run outlasted
the rows (raise --rows).

    source scripts/env.sh && python bench/api_load.py --idle 1000 [--nofile 1024] [--header-timeout 10]

measures connections that send nothing instead: the API started under a descriptor limit (--nofile), --idle
connections opened at once; whether GET /health answers while they are open, and when the server closes each
one (shed at once past its connection limit, or at the header timeout)."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import secrets
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # our packages, for a script run by path

from bench.profile_summary import render, summarise
from localenv.dataservers import PostgresServer, RedisServer
from localenv.emulator import free_port
from localenv.pipeline import ServiceProcess
from localenv.tls import make_tls_files
from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from services.common import db, videos
from services.common.cache import POPULAR_KEY, Cache
from services.common.log import JsonLogger
from services.common.settings import DatabaseSettings, RedisSettings

ROOT = Path(__file__).resolve().parents[1]


PROFILE_RATE = 200  # py-spy's samples per second (--profile)


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


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used so far (user and system, all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(port: int, ids_file: Path, script: Path, *, mode: str, connections: int, threads: int,
         seconds: float, server_pid: int | None = None, profile: Path | None = None) -> dict:
    """One wrk run; its figures (requests, req/s, p50/p99 in ms), the X-Cache answers it counted and the
    server's CPU time per request (`server_pid`: less noisy than req/s on a busy machine). `profile`: py-spy
    samples the server meanwhile, its stacks written to this file (collapsed)."""
    spy = None
    if profile is not None:
        # --gil: the thread holding the GIL only (the database threads waiting on their queue would count as
        # busy otherwise); --nonblocking: the process is not paused for each sample.
        spy = subprocess.Popen(["py-spy", "record", "--pid", str(server_pid), "--duration",
                                str(max(1, round(seconds))), "--rate", str(PROFILE_RATE), "--nonblocking", "--gil",
                                "--format", "raw", "--output", str(profile)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    # cold: every request of a thread (whichever of its connections sends it) takes the thread's next id, and
    # each thread walks its own slice, so no id is asked twice until all were
    conns = connections
    env = {"BENCH_IDS": str(ids_file), "BENCH_MODE": mode, "BENCH_THREADS": str(threads), "PATH": "/usr/bin:/bin"}
    cpu_before = cpu_seconds(server_pid) if server_pid else None
    proc = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--latency",
                           "-s", str(script), f"http://127.0.0.1:{port}"],
                          capture_output=True, text=True, env=env, timeout=seconds + 60)
    cpu = cpu_seconds(server_pid) - cpu_before if server_pid else None
    if spy is not None:
        _, spy_err = spy.communicate(timeout=60)
        if spy.returncode != 0:
            raise RuntimeError(f"py-spy failed (exit {spy.returncode}): {spy_err.strip()[-500:]}")
    found = re.search(r"^BENCH (\{.*\})$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout[-500:]}")
    r = json.loads(found.group(1))
    return {"requests": r["requests"], "rps": round(r["requests"] / r["seconds"], 1), "connections": conns,
            "cpu_us_per_request": round(cpu / r["requests"] * 1e6, 1) if cpu and r["requests"] else None,
            "p50_ms": round(r["p50_us"] / 1000, 2), "p99_ms": round(r["p99_us"] / 1000, 2),
            "max_ms": round(r["max_us"] / 1000, 2), "socket_errors": r["errors"], "non_200": r["non200"],
            "x_cache": {k: r[k] for k in ("HIT", "MISS", "BYPASS", "other") if r[k]}}


class ViewCounts:
    """The views the API has counted (the sum of the popularity ranking's scores, read from Redis) against
    the answers that count one: 200s with X-Cache HIT or MISS, as the API's access lines and wrk saw them."""

    def __init__(self, settings: RedisSettings) -> None:
        self.client = Cache(settings, JsonLogger("bench", stream=open(os.devnull, "w"))).client  # noqa: SIM115

    def total(self) -> int:
        return int(sum(score for _, score in self.client.zrange(POPULAR_KEY, 0, -1, withscores=True)))

    def check(self, api: ServiceProcess, *, answered: int, in_flight: int) -> dict:
        """Once the last answers are logged (settled: two equal readings 0.5 s apart, at most 30 s): the views
        counted, the counting answers logged, and those wrk read. wrk stops reading when its time is up, so a
        request then in flight (at most one per connection and run: `in_flight`) is answered unseen by it."""
        def logged() -> int:
            return sum(1 for r in list(api.records) if r.get("event") == "request" and r.get("status") == 200
                       and r.get("cache") in ("HIT", "MISS"))
        deadline, last = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            now = (self.total(), logged())
            if now == last:
                break
            last = now
            time.sleep(0.5)
        counted, logged_now = last
        return {"counted": counted, "logged": logged_now, "answered_wrk": answered,
                "exact": counted == logged_now and answered <= logged_now <= answered + in_flight}


def combined(runs: list[dict]) -> dict:
    """Runs of the same kind as one: requests and req/s added up over the time, the worst percentiles."""
    requests, seconds = sum(r["requests"] for r in runs), sum(r["requests"] / r["rps"] for r in runs)
    merged = {"requests": requests, "rps": round(requests / seconds, 1), "connections": runs[0]["connections"],
              "cpu_us_per_request": round(sum(r["cpu_us_per_request"] * r["requests"] for r in runs) / requests, 1)}
    for key in ("p50_ms", "p99_ms", "max_ms"):
        merged[key] = max(r[key] for r in runs)
    for key in ("socket_errors", "non_200"):
        merged[key] = sum(r[key] for r in runs)
    merged["x_cache"] = {}
    for r in runs:
        for k, v in r["x_cache"].items():
            merged["x_cache"][k] = merged["x_cache"].get(k, 0) + v
    return merged


def start_api(env: dict[str, str], nofile: int | None = None) -> ServiceProcess:
    """The API as a process, under a descriptor limit of `nofile` if given (the soft limit, which a child
    inherits: lowered here around the start only)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if nofile is not None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
    try:
        api = ServiceProcess("services.metadata_api", env)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    api.wait_for(lambda r: r.get("event") == "api_started", 60)
    return api


def health(port: int) -> tuple[str, float]:
    """GET /health on a new connection: the status (or the error) and the milliseconds it took."""
    started = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/health")
        answer = conn.getresponse()
        answer.read()
        conn.close()
        outcome = str(answer.status)
    except OSError as exc:
        outcome = type(exc).__name__
    return outcome, round((time.perf_counter() - started) * 1000, 1)


def idle_connections(api: ServiceProcess, port: int, count: int, header_timeout: float) -> dict:
    """`count` connections that send nothing: /health every 0.1 s while they are open (until 80% of the header
    timeout), the server's descriptors, and when the server closed each connection after it was opened."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64), hard))  # this side holds them all
    fd_dir = Path(f"/proc/{api.process.pid}/fd")
    # Settled first: the database pool opens its connections in the background after start (TLS and SCRAM,
    # holding the GIL), which delays the loop by ~200 ms once.
    health(port)
    time.sleep(3)
    connected: dict[socket.socket, float] = {}
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        connected[sock] = time.monotonic()
    first = min(connected.values())
    probes, fds = [], []
    while time.monotonic() - first < header_timeout * 0.8:
        probes.append(health(port))
        fds.append(len(os.listdir(fd_dir)))
        time.sleep(0.1)
    closed_after: dict[socket.socket, float] = {}
    with selectors.DefaultSelector() as selector:
        for sock in connected:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        deadline = first + header_timeout + 30
        while len(closed_after) < count and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=1):
                try:
                    data = key.fileobj.recv(1)
                except ConnectionResetError:
                    data = b""
                if data == b"":
                    closed_after[key.fileobj] = time.monotonic() - connected[key.fileobj]
                    selector.unregister(key.fileobj)
    after = health(port)
    for sock in connected:
        sock.close()
    shed = sorted(t for t in closed_after.values() if t < header_timeout)
    timed_out = sorted(t - header_timeout for t in closed_after.values() if t >= header_timeout)

    def pct(values: list[float], q: float) -> float | None:
        return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1) if values else None

    answers = [status for status, _ in probes]
    return {"idle": count, "health_probes": len(probes), "health_200": answers.count("200"),
            "health_failures": sorted({a for a in answers if a != "200"}),
            "health_p50_ms": pct(sorted(ms / 1000 for _, ms in probes), 0.5),
            "health_max_ms": pct(sorted(ms / 1000 for _, ms in probes), 1.0),
            "server_fds_max": max(fds), "shed_at_once": len(shed), "closed_at_header_timeout": len(timed_out),
            "late_p50_ms": pct(timed_out, 0.5), "late_p99_ms": pct(timed_out, 0.99),
            "late_max_ms": pct(timed_out, 1.0), "never_closed": count - len(closed_after),
            "health_after": after[0], "shed_lines": len(api.events("connections_shed"))}


def idle_main(args: argparse.Namespace, env: dict[str, str], port: int) -> int:
    api = start_api({**env, "HEADER_TIMEOUT_S": str(args.header_timeout)}, args.nofile)
    try:
        r = idle_connections(api, port, args.idle, args.header_timeout)
    finally:
        api.stop()
    print(f"{args.idle} connections that send nothing, API under a {args.nofile}-descriptor limit, header timeout "
          f"{args.header_timeout} s")
    failures = f"; failures: {', '.join(r['health_failures'])}" if r["health_failures"] else ""
    print(f"/health while open: {r['health_200']}/{r['health_probes']} answered 200 (p50 {r['health_p50_ms']} ms, "
          f"max {r['health_max_ms']} ms){failures}")
    print(f"server descriptors at most {r['server_fds_max']}; shed at once {r['shed_at_once']}; closed at the header "
          f"timeout {r['closed_at_header_timeout']}, late by p50 {r['late_p50_ms']} ms, p99 {r['late_p99_ms']} ms, "
          f"max {r['late_max_ms']} ms; never closed {r['never_closed']}; /health after: {r['health_after']}")
    print(json.dumps({"benchmark": "api_load.idle", "nofile": args.nofile, "header_timeout_s": args.header_timeout,
                      **r}))
    failed = r["health_200"] < r["health_probes"] or r["never_closed"] or r["health_after"] != "200"
    return EXIT_FINDINGS if failed else EXIT_OK


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20000, help="videos seeded (the cold run walks them once)")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections (warm, Redis down)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--seconds", type=float, default=10, help="length of the warm and Redis-down runs")
    parser.add_argument("--cold-seconds", type=float, default=3, help="length of the cold run")
    parser.add_argument("--hot", type=int, default=1000, help="ids in the warm run's working set")
    parser.add_argument("--profile", type=Path, help="a directory: py-spy samples the API during each measured "
                        "run (cold.txt, warm.txt, redis_down.txt: collapsed stacks; bench/profile_summary.py reads "
                        "them)")
    parser.add_argument("--idle", type=int, help="measure this many connections that send nothing instead")
    parser.add_argument("--nofile", type=int, default=1024, help="the API's descriptor limit (with --idle)")
    parser.add_argument("--header-timeout", type=int, default=10, help="the API's HEADER_TIMEOUT_S (with --idle)")
    args = parser.parse_args()
    if args.idle is None and not shutil.which("wrk"):
        print("error: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return EXIT_USAGE
    if args.profile is not None:
        if not shutil.which("py-spy"):
            print("error: --profile needs py-spy on PATH (pip install py-spy)", file=sys.stderr)
            return EXIT_USAGE
        try:
            args.profile.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"error: --profile {args.profile}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    with tempfile.TemporaryDirectory(prefix="streamtech-bench-") as tmp:
        tls = make_tls_files(Path(tmp) / "tls")
        pg = PostgresServer(tls, password=secrets.token_urlsafe(16), database="videometadata").start()
        redis = RedisServer(Path(tmp) / "redis", tls, password=secrets.token_urlsafe(16)).start()
        api = None
        try:
            if args.idle is not None:
                port = free_port()
                return idle_main(args, {**pg.environment(), **redis.environment(), "PORT": str(port),
                                        "BIND_ADDRESS": "127.0.0.1", "PATH": "/usr/bin:/bin"}, port)
            settings = DatabaseSettings.from_env(pg.environment())
            ids = seed(settings, args.rows)
            ids_file, script = Path(tmp) / "ids.txt", Path(tmp) / "bench.lua"
            ids_file.write_text("\n".join(ids) + "\n")
            script.write_text(WRK_SCRIPT)
            port = free_port()
            env = {**pg.environment(), **redis.environment(), "PORT": str(port), "BIND_ADDRESS": "127.0.0.1",
                   "PATH": "/usr/bin:/bin"}
            api = start_api(env)
            common = {"threads": args.threads, "connections": args.connections}

            def profiled(mode: str) -> dict:
                return {"server_pid": api.process.pid,
                        **({"profile": args.profile / f"{mode}.txt"} if args.profile else {})}

            views = ViewCounts(RedisSettings.from_env(redis.environment()))
            results = {
                # cold: each id at most once, from an empty cache (a miss reads PostgreSQL and fills Redis)
                "cold": load(port, ids_file, script, mode="cold", seconds=args.cold_seconds, **common,
                             **profiled("cold"))}
            # warm: a working set that is all cached (walked in turn first: a miss fills each entry)
            hot = Path(tmp) / "hot.txt"
            hot.write_text("\n".join(ids[-args.hot:]) + "\n")
            fill = load(port, hot, script, mode="cold", seconds=max(3.0, args.hot / 300), **common)
            # The yardstick, in the same conditions: half of its run just before the warm run, half just after.
            bare_port = free_port()
            bare = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_asgi.py"), str(bare_port)],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            try:
                if bare.stdout.readline().strip() != "ready":
                    raise RuntimeError(f"the bare ASGI app did not start: {bare.stdout.read()[-500:]}")
                halves = [load(bare_port, hot, script, mode="warm", seconds=args.seconds / 2, **common,
                               server_pid=bare.pid)]
                results["warm"] = load(port, hot, script, mode="warm", seconds=args.seconds, **common,
                                       **profiled("warm"))
                halves.append(load(bare_port, hot, script, mode="warm", seconds=args.seconds / 2, **common,
                                   server_pid=bare.pid))
            finally:
                bare.terminate()
                bare.wait(30)
            results["bare_asgi"] = combined(halves)
            results["warm"]["vs_bare_asgi"] = round(results["warm"]["rps"] / results["bare_asgi"]["rps"], 3)
            views_check = views.check(api, answered=sum(r["x_cache"].get(k, 0) for r in (results["cold"], fill,
                                                                                           results["warm"])
                                                        for k in ("HIT", "MISS")),
                                      in_flight=3 * args.connections)
            redis.kill()
            load(port, ids_file, script, mode="warm", seconds=2, **common)  # the breaker opens (one timeout)
            results["redis_down"] = load(port, ids_file, script, mode="warm", seconds=args.seconds, **common,
                                         **profiled("redis_down"))
        finally:
            if api:
                api.stop()
            redis.stop()
            pg.remove()
    print(f"GET /videos/{{id}}: {args.rows} rows ({args.hot} in the warm working set), wrk {args.threads} thread(s), "
          f"{args.connections} keep-alive connections; API, PostgreSQL, Redis and wrk on the same 2 cores")
    print(f"{'cache':<11} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'CPU us/req':>10}  "
          f"X-Cache")
    for name, r in results.items():
        print(f"{name:<11} {r['requests']:>9} {r['rps']:>8} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['max_ms']:>8} "
              f"{r['cpu_us_per_request']:>10}  {r['x_cache']}")
    if args.profile:
        for name in ("cold", "warm", "redis_down"):
            print(f"\nprofile, {name} ({args.profile / (name + '.txt')}): CPU of the API per request by part")
            print(render(summarise(args.profile / f"{name}.txt", rate=PROFILE_RATE,
                                   requests=results[name]["requests"])))
    print(f"warm / bare ASGI: {results['warm']['vs_bare_asgi']}; views counted {views_check['counted']}, answers "
          f"logged {views_check['logged']}, answers read by wrk {views_check['answered_wrk']} (cold, fill, warm)")
    print(json.dumps({"benchmark": "api_load", "rows": args.rows, **common, **results, "views": views_check,
                      "loadavg": os.getloadavg()}))
    problems = []
    if not views_check["exact"]:
        problems.append(f"views: {views_check['counted']} counted for {views_check['logged']} answers logged and "
                        f"{views_check['answered_wrk']} read")
    for name, r in results.items():
        if r["non_200"] or r["socket_errors"]:
            problems.append(f"{name}: {r['non_200']} non-200 answers, {r['socket_errors']} socket errors")
    expected = {"cold": "MISS", "warm": "HIT", "redis_down": "BYPASS", "bare_asgi": "HIT"}
    for name, want in expected.items():
        if set(results[name]["x_cache"]) != {want}:
            problems.append(f"{name}: expected only X-Cache {want}, got {results[name]['x_cache']}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return EXIT_FINDINGS if problems else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
