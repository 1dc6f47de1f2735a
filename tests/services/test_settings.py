"""The services' settings from the environment ECS gives them (services/common/settings.py): a missing or weak value
(no TLS, no AUTH, a port that is no port) is refused with its name, and the credentials never show."""

from __future__ import annotations

import pytest

from services.common.cache import AsyncCache, Cache
from services.common.settings import DatabaseSettings, RedisSettings, SettingsError


@pytest.mark.parametrize("change, message", [
    ({"DB_SSLMODE": "require"}, "DB_SSLMODE must be verify-full .*, got 'require'$"),
    ({"DB_SSLMODE": "\u202e" + "x" * 99}, r"got '\\u202ex{39}'\.\.\. \(100 characters\)$"),
    ({"DB_HOST": ""}, "DB_HOST is not set"),
    ({"DB_PORT": "eighty"}, "DB_PORT must be an integer"),
    ({"DB_PORT": "\uff15\uff14\uff13\uff12"}, "DB_PORT must be an integer in ASCII digits"),  # int() reads it
    ({"DB_PORT": "5_432"}, "DB_PORT must be an integer in ASCII digits"),
    ({"DB_PORT": "70000"}, "DB_PORT must be between 1 and 65535"),
    ({"DB_POOL_TIMEOUT_MS": "50"}, "DB_POOL_TIMEOUT_MS must be between 100 and 60000"),
    ({"DB_POOL_TIMEOUT_MS": "x" * 5000}, r"^DB_POOL_TIMEOUT_MS must be an integer in ASCII digits, got 'x{40}'\.\.\. "
                                         r"\(5,000 characters\)$"),  # a long value is cut, not echoed whole
    ({"DB_CA_BUNDLE": "/nonexistent/ca.pem"},
     "^DB_CA_BUNDLE '/nonexistent/ca.pem' is not a file: the RDS CA bundle must ship"),
])
def test_database_settings_refuse_missing_or_weak_values(postgres, change, message):
    with pytest.raises(SettingsError, match=message):
        DatabaseSettings.from_env({**postgres.environment(), **change})


@pytest.mark.parametrize("change, message", [
    ({"REDIS_TLS": "false"}, "REDIS_TLS must be true"),
    ({"REDIS_AUTH_TOKEN": ""}, "REDIS_AUTH_TOKEN is not set"),
    ({"REDIS_CA_BUNDLE": "/nonexistent"}, "REDIS_CA_BUNDLE '/nonexistent' is not a file"),
    ({"CACHE_TTL_SECONDS": "0"}, "CACHE_TTL_SECONDS must be between"),
    ({"CACHE_BREAKER_SECONDS": "0"}, "CACHE_BREAKER_SECONDS must be between 1 and 300"),
])
def test_redis_settings_refuse_missing_or_weak_values(redis_server, change, message):
    with pytest.raises(SettingsError, match=message):
        RedisSettings.from_env({**redis_server.environment(), **change})


def test_settings_never_show_credentials(db_settings, redis_settings):
    assert db_settings.password not in repr(db_settings)
    assert redis_settings.password not in repr(redis_settings)


def test_both_caches_stay_off_redis_for_the_configured_retry_after_a_failure(redis_server, log):
    """CACHE_BREAKER_SECONDS: how long the breaker stays open after a failure (5 s unless set)."""
    assert RedisSettings.from_env(redis_server.environment()).breaker_open_s == 5
    settings = RedisSettings.from_env({**redis_server.environment(), "CACHE_BREAKER_SECONDS": "7"})
    assert Cache(settings, log).breaker.open_for_s == AsyncCache(settings, log).breaker.open_for_s == 7
