"""python -m services.video_worker — the Fargate worker's entry point. Exit codes: 0 stopped on SIGTERM;
2 configuration error; 3 the database stayed unreachable through the start-up window."""

from __future__ import annotations

import sys

from services.common.cache import Cache
from services.common.db import MigrationError
from services.common.lifecycle import Shutdown
from services.common.log import JsonLogger
from services.common.runtime import EXIT_CONFIG, EXIT_UNAVAILABLE, aws_client, migrated_pool
from services.common.settings import DatabaseSettings, RedisSettings, SettingsError
from services.video_worker.worker import Worker, WorkerSettings


def main() -> int:
    logger = JsonLogger("video-worker")
    shutdown = Shutdown().install(logger)
    try:
        db_settings, redis_settings = DatabaseSettings.from_env(), RedisSettings.from_env()
        settings = WorkerSettings.from_env()
    except SettingsError as exc:
        logger.error("configuration_error", error=str(exc))
        return EXIT_CONFIG
    try:
        pool = migrated_pool(db_settings, "video-worker", logger, shutdown.stop, max_size=2)
    except MigrationError as exc:
        logger.error("migration_error", error=str(exc))
        return EXIT_CONFIG
    if pool is None:
        return 0 if shutdown.stop.is_set() else EXIT_UNAVAILABLE
    with pool:
        worker = Worker(settings, sqs=aws_client("sqs"), s3=aws_client("s3"), db=pool,
                        cache=Cache(redis_settings, logger), logger=logger)
        worker.run(shutdown.stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
