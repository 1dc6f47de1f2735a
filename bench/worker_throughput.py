"""Benchmark: worker throughput in videos per minute on this machine — the whole job per video (S3 download
over TLS to the scratch directory, PyAV probe with a decode check, PostgreSQL upsert, Redis refresh, SQS
delete) for worker processes x job loops per process (WORKER_CONCURRENCY; the task definition sets 2), on the
local pipeline (TLS moto server with the synthesized stack, PostgreSQL and Redis with TLS on 127.0.0.1). The
queue is filled first, then the workers start: the clock runs from "every worker is polling" to the last stored
video, so uploads do not limit the figure.

    source scripts/env.sh && python bench/worker_throughput.py [--videos 60] [--seconds 10] [--configs 1x1 1x2 2x1]

Needs cdk.out/TapStack<suffix>.template.json (scripts/main.sh or scripts/pipeline.sh synthesize it)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # our packages, for a script run by path

from cdk_app.config import AppConfig
from localenv.pipeline import local_platform
from localenv.sample_video import make_video
from platform_spec.exit_codes import EXIT_OK, EXIT_USAGE

ROOT = Path(__file__).resolve().parents[1]


def run(platform, video: Path, count: int, workers: int, concurrency: int, round_: int) -> dict:
    for n in range(count):
        platform.upload(video, f"bench/{workers}x{concurrency}-{round_}-{n:04d}{video.suffix}")
    processes = [platform.start_worker(WORKER_CONCURRENCY=str(concurrency)) for _ in range(workers)]
    for p in processes:
        p.wait_for(lambda r: r.get("event") == "worker_started", 60)
    started = time.perf_counter()
    deadline = time.monotonic() + 600
    while sum(len(p.events("job_stored")) for p in processes) < count:
        if time.monotonic() > deadline:
            raise TimeoutError("the workers did not finish within 10 minutes")
        if any(p.events("job_rejected") or p.events("job_failed") for p in processes):
            raise RuntimeError("a job failed or was rejected: the figure would not be a throughput")
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    per_job = [r["seconds"] for p in processes for r in p.events("job_stored")]
    for p in processes:
        p.stop()
    return {"workers": workers, "concurrency": concurrency, "videos": count, "seconds": round(elapsed, 2),
            "videos_per_minute": round(count / elapsed * 60, 1),
            "job_p50_s": round(statistics.median(per_job), 3), "job_max_s": round(max(per_job), 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=10, help="length of each generated video")
    parser.add_argument("--configs", nargs="+", default=["1x1", "1x2", "2x1"],
                        help="PROCESSESxJOB_LOOPS, e.g. 1x2: one worker process running two jobs at once")
    parser.add_argument("--suffix", default="dev")
    args = parser.parse_args()
    config = AppConfig.for_suffix(args.suffix)
    template_path = ROOT / "cdk.out" / f"{config.stack_name}.template.json"
    if not template_path.exists():
        print(f"error: {template_path} missing: run scripts/pipeline.sh (or cdk synth) first", file=sys.stderr)
        return EXIT_USAGE
    with local_platform(json.loads(template_path.read_text()), config) as platform:
        video = make_video(platform.workdir / "bench.mp4", seconds=args.seconds, width=1280, height=720, fps=30)
        size = video.stat().st_size
        configs = [tuple(int(n) for n in c.split("x")) for c in args.configs]
        results = [run(platform, video, args.videos, w, c, i) for i, (w, c) in enumerate(configs)]
    print(f"worker throughput: {args.videos} videos of {args.seconds:g} s, 1280x720 H.264 + AAC, {size} bytes each")
    print(f"{'processes x loops':>17} {'videos/min':>11} {'wall s':>8} {'job p50 s':>10} {'job max s':>10}")
    for r in results:
        print(f"{str(r['workers']) + ' x ' + str(r['concurrency']):>17} {r['videos_per_minute']:>11} "
              f"{r['seconds']:>8} {r['job_p50_s']:>10} {r['job_max_s']:>10}")
    print(json.dumps({"benchmark": "worker_throughput", "video_bytes": size, "results": results}))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
