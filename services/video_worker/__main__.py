"""python -m services.video_worker — the Fargate worker's entry point. Exit codes: 0 stopped on SIGTERM;
2 configuration error; 3 the database stayed unreachable through the start-up window; 4 a job loop died
(the task must be replaced)."""

from __future__ import annotations

import sys
import threading

from psycopg_pool import ConnectionPool

from services.common.cache import Cache
from services.common.log import JsonLogger
from services.common.runtime import aws_client, run_service
from services.video_worker.worker import Worker, WorkerSettings


def serve(settings: WorkerSettings, pool: ConnectionPool, cache: Cache, logger: JsonLogger,
          stop: threading.Event) -> None:
    Worker(settings, sqs=aws_client("sqs"), s3=aws_client("s3"), db=pool, cache=cache, logger=logger).run(stop)


if __name__ == "__main__":
    # One database connection per concurrent job, and a spare.
    sys.exit(run_service("video-worker", WorkerSettings.from_env, serve, pool_size=lambda s: s.concurrency + 1))
