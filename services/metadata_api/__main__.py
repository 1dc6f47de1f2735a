"""python -m services.metadata_api — the API task's entry point. Exit codes: 0 stopped on SIGTERM;
2 configuration error; 3 the database stayed unreachable through the start-up window; 4 the API could not
serve (e.g. its port is taken)."""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from platform_spec import contract
from services.common.cache import AsyncCache, Cache
from services.common.log import JsonLogger
from services.common.runtime import ServiceFailed, run_service
from services.common.settings import integer
from services.metadata_api.app import MetadataApi
from services.metadata_api.server import BODY_TIMEOUT_S, HEADER_TIMEOUT_S, KEEP_ALIVE_S, ApiServer, serve_until


@dataclass(frozen=True)
class ApiSettings:
    port: int
    bind_address: str
    pool_size: int
    header_timeout_s: int  # a connection that has not sent a whole request head by then is closed
    body_timeout_s: int    # a request whose body has not come whole by then (from its head) is a 408, then closed
    keep_alive_s: int      # an idle kept-alive connection is closed after this

    @classmethod
    def from_env(cls) -> ApiSettings:
        return cls(port=integer(os.environ, contract.PORT, 8080, 1, 65535),
                   bind_address=os.environ.get("BIND_ADDRESS", "0.0.0.0"),
                   pool_size=integer(os.environ, "DB_POOL_SIZE", 16, 1, 100),
                   header_timeout_s=integer(os.environ, "HEADER_TIMEOUT_S", HEADER_TIMEOUT_S, 1, 300),
                   body_timeout_s=integer(os.environ, "BODY_TIMEOUT_S", BODY_TIMEOUT_S, 1, 300),
                   keep_alive_s=integer(os.environ, "KEEP_ALIVE_S", KEEP_ALIVE_S, 1, 3600))


def serve(settings: ApiSettings, pool: AsyncConnectionPool, cache: Cache, logger: JsonLogger,
          stop: threading.Event) -> None:
    api = MetadataApi(db=pool, cache=AsyncCache(cache.settings, logger), logger=logger)
    try:
        server = ApiServer((settings.bind_address, settings.port), api, logger,
                           header_timeout_s=settings.header_timeout_s, body_timeout_s=settings.body_timeout_s,
                           keep_alive_s=settings.keep_alive_s)
    except OSError as exc:
        raise ServiceFailed(f"cannot listen on {settings.bind_address}:{settings.port}: {exc.strerror or exc}") \
            from None
    serve_until(server, stop)


if __name__ == "__main__":
    sys.exit(run_service("metadata-api", ApiSettings.from_env, serve, pool_size=lambda s: s.pool_size,
                         asynchronous_pool=True))
