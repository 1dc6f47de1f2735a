"""Where the metadata API's CPU goes per request: py-spy's collapsed stacks (bench/api_load.py --profile) grouped
into the parts of a request, as a share of the samples and as microseconds of CPU per answered request.

    python bench/profile_summary.py PROFILE.txt [--rate 200] [--requests N] [--top 15]

A sample is one stack of a thread that was running (py-spy leaves out idle threads); the first rule that
matches any frame of the stack names its part. Code without Python frames (uvloop's sockets, TLS and
callbacks, which are Cython and C) counts as the event loop's."""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # our packages, for a script run by path

from platform_spec.exit_codes import EXIT_OK, EXIT_USAGE

# (part, fragments of a frame "function (file:line)"): the first part with a fragment in any frame wins.
PARTS = (
    ("log lines (access line, metrics: JSON + write)", ("services/common/log.py",)),
    ("PostgreSQL (psycopg, pool, thread hop)", ("psycopg", "concurrent/futures/thread.py")),
    ("JSON (cached record decode, answer encode)", ("json/",)),
    ("Redis client (redis-py or autopipeline: commands, writes, replies)", ("redis/", "autopipeline.py")),
    ("cache module (services/common/cache.py)", ("services/common/cache.py", "cache.py:")),
    ("TLS (ssl module)", ("ssl.py",)),
    ("request logic (app.py)", ("app.py",)),
    ("HTTP (uvicorn, httptools, server.py)", ("uvicorn/", "httptools", "server.py")),
)
LOOP = "event loop, sockets, TLS records (uvloop: no Python frames)"
LOOP_FRAMES = ("Runner.run (asyncio/runners.py", "BaseEventLoop.run_forever", "run (uvloop/")


def read(path: Path) -> list[tuple[list[str], int]]:
    """Collapsed stacks: one "frame;frame;... count" a line."""
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def part(frames: list[str]) -> str:
    """The part a stack belongs to, judged on its frames below the event loop's run (above it, the service's
    start-up frames, e.g. server.py's serve_until, are in every stack)."""
    for n in range(len(frames) - 1, -1, -1):
        if frames[n].startswith(LOOP_FRAMES):
            frames = frames[n + 1:]
            break
    for name, fragments in PARTS:
        if any(fragment in frame for frame in frames for fragment in fragments):
            return name
    return LOOP


def summarise(path: Path, *, rate: float, requests: int | None = None) -> list[dict]:
    """Per part: samples, share of all samples, CPU microseconds per request (when `requests` is given)."""
    counts: collections.Counter[str] = collections.Counter()
    for frames, count in read(path):
        counts[part(frames)] += count
    total = sum(counts.values()) or 1
    return [{"part": name, "samples": n, "share": round(n / total, 3),
             "us_per_request": round(n / rate / requests * 1e6, 1) if requests else None}
            for name, n in counts.most_common()]


def leaves(path: Path, top: int) -> list[tuple[str, int]]:
    """The functions most often on top of the stack (self time)."""
    counts: collections.Counter[str] = collections.Counter()
    for frames, count in read(path):
        counts[frames[-1]] += count
    return counts.most_common(top)


def render(rows: list[dict]) -> str:
    total_us = sum(r["us_per_request"] or 0 for r in rows)
    lines = [f"{'part':<58} {'share':>6} {'us/req':>7}"]
    for r in rows:
        us = "" if r["us_per_request"] is None else f"{r['us_per_request']:>7}"
        lines.append(f"{r['part']:<58} {r['share']:>6.1%} {us}")
    if total_us:
        lines.append(f"{'all':<58} {1:>6.0%} {total_us:>7.1f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--rate", type=float, default=200, help="py-spy's samples per second")
    parser.add_argument("--requests", type=int, help="requests answered while sampling (for CPU per request)")
    parser.add_argument("--top", type=int, default=15, help="functions most often on top of the stack")
    args = parser.parse_args()
    if not args.profile.is_file():
        print(f"error: {args.profile} is not a file", file=sys.stderr)
        return EXIT_USAGE
    print(render(summarise(args.profile, rate=args.rate, requests=args.requests)))
    if args.top:
        print("\nself time (top of the stack):")
        for frame, count in leaves(args.profile, args.top):
            print(f"{count:>7}  {frame}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
