"""python -m services.metadata_api — the API task's entry point. Exit codes: 0 stopped on SIGTERM;
2 configuration error; 3 the database stayed unreachable through the start-up window."""

from __future__ import annotations

import os
import sys

from services.common.cache import Cache
from services.common.db import MigrationError
from services.common.lifecycle import Shutdown
from services.common.log import JsonLogger
from services.common.runtime import EXIT_CONFIG, EXIT_UNAVAILABLE, migrated_pool
from services.common.settings import DatabaseSettings, RedisSettings, SettingsError, integer
from services.metadata_api.app import MetadataApi
from services.metadata_api.server import ApiServer, serve


def main() -> int:
    logger = JsonLogger("metadata-api")
    shutdown = Shutdown().install(logger)
    try:
        db_settings, redis_settings = DatabaseSettings.from_env(), RedisSettings.from_env()
        port = integer(os.environ, "PORT", 8080, 1, 65535)
        threads = integer(os.environ, "DB_POOL_SIZE", 16, 1, 100)
    except SettingsError as exc:
        logger.error("configuration_error", error=str(exc))
        return EXIT_CONFIG
    try:
        pool = migrated_pool(db_settings, "metadata-api", logger, shutdown.stop, max_size=threads)
    except MigrationError as exc:
        logger.error("migration_error", error=str(exc))
        return EXIT_CONFIG
    if pool is None:
        return 0 if shutdown.stop.is_set() else EXIT_UNAVAILABLE
    with pool:
        api = MetadataApi(db=pool, cache=Cache(redis_settings, logger), logger=logger)
        serve(ApiServer((os.environ.get("BIND_ADDRESS", "0.0.0.0"), port), api, logger), shutdown.stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
