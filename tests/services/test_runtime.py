"""What every service's process does around its work (services/common/runtime.py): a service that fails while
running exits 4, for ECS to replace the task. The start-up exits (2 for a setting, 3 for a dependency) as real
processes: tests/services/test_pipeline.py."""

from __future__ import annotations

import signal
import threading

import pytest

from platform_spec.exit_codes import EXIT_SERVICE_FAILED
from services.common import runtime
from services.common.runtime import ServiceFailed
from tests.services.conftest import settings_for


@pytest.fixture(autouse=True)
def _handlers_restored():
    """run_service installs the service's SIGTERM and SIGINT handlers in this, the test process: put back what
    pytest had, or Ctrl-C of a run without workers only logs a finished service's `shutdown_requested`."""
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


def test_run_service_exits_4_when_the_service_fails(monkeypatch):
    class FakePool:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(runtime, "migrated_pool", lambda *a, **k: FakePool())
    monkeypatch.setattr(runtime.DatabaseSettings, "from_env", staticmethod(lambda: None))
    monkeypatch.setattr(runtime.RedisSettings, "from_env", staticmethod(lambda: None))
    monkeypatch.setattr(runtime, "Cache", lambda *a, **k: None)

    def serve(*_args):
        raise ServiceFailed("1 job loop(s) died: OSError")

    assert runtime.run_service("test", lambda: object(), serve, pool_size=lambda s: 1) == EXIT_SERVICE_FAILED


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_request_waits_for_a_pooled_connection_as_long_as_the_settings_say(postgres, log, asynchronous):
    """DB_POOL_TIMEOUT_MS reaches the worker's pool and the API's alike (3 s unless set)."""
    assert settings_for(postgres).pool_timeout_s == 3.0
    settings = settings_for(postgres, DB_POOL_TIMEOUT_MS="1234")
    made = runtime.migrated_pool(settings, "pool-timeout-test", log, threading.Event(), max_size=1,
                                 asynchronous=asynchronous)
    try:
        assert made is not None and made.timeout == 1.234
    finally:
        if made is not None and not asynchronous:
            made.close()
