"""The data stores' posture as the services see it: TLS with verification and credentials, or nothing."""

from __future__ import annotations

import secrets

import psycopg
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from services.common import db
from services.common.settings import DatabaseSettings


def test_the_database_connection_is_tls_with_the_server_name_verified(db_settings):
    with db.connect(db_settings, "tests") as conn:
        ssl, version = conn.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert ssl is True and version in ("TLSv1.2", "TLSv1.3")
        assert conn.info.pgconn.ssl_in_use


def test_the_database_refuses_connections_without_tls(postgres):
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(host="127.0.0.1", port=postgres.port, dbname=postgres.database, user=postgres.user,
                        password=postgres.password, sslmode="disable", connect_timeout=3)


def test_a_server_certificate_from_another_ca_is_refused(postgres, tmp_path):
    from localenv.tls import make_tls_files

    other = make_tls_files(tmp_path / "other")
    settings = DatabaseSettings.from_env({**postgres.environment(), "DB_CA_BUNDLE": str(other.ca)})
    # Same CA name, other key: an impostor CA is refused on the signature.
    with pytest.raises(psycopg.OperationalError, match="SSL error"):
        db.connect(settings, "tests")


def test_a_host_name_the_certificate_does_not_name_is_refused(postgres):
    # 127.0.0.2 reaches the same loopback server, but the certificate names only 127.0.0.1 and localhost.
    settings = DatabaseSettings.from_env({**postgres.environment(), "DB_HOST": "127.0.0.2"})
    with pytest.raises(psycopg.OperationalError):
        db.connect(settings, "tests")


def test_a_wrong_database_password_is_refused(postgres):
    settings = DatabaseSettings.from_env({**postgres.environment(), "DB_PASSWORD": "wrong"})
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        db.connect(settings, "tests")


def test_redis_answers_over_tls_with_auth_only(redis_server, cache):
    assert cache.ping() is True
    env = redis_server.environment()
    # One try each: redis-py retries a ConnectionError (AuthenticationError is one) with a backoff, seconds for
    # the same answer.
    no_auth = redis.Redis(host="127.0.0.1", port=redis_server.port, ssl=True, ssl_ca_certs=env["REDIS_CA_BUNDLE"],
                          socket_timeout=2, retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.exceptions.AuthenticationError):
        no_auth.get("x")
    # The TLS port never answers plaintext: a short timeout, not redis-py's retries (8 s).
    plain = redis.Redis(host="127.0.0.1", port=redis_server.port, password=redis_server.password,
                        socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.exceptions.ConnectionError):
        plain.ping()


def test_a_committed_transaction_survives_the_stand_ins_crash(postgres, db_settings):
    """`kill` is PostgreSQL's immediate shutdown, a crash: what was committed before it is there after the
    restart, as on RDS. The stand-in once answered commits before writing their WAL (synchronous_commit off), and
    a schema migrated just before the crash was gone after it."""
    marker = secrets.token_hex(8)
    with db.connect(db_settings, "tests") as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "on"
        conn.execute("CREATE TABLE IF NOT EXISTS crash_probe (marker text PRIMARY KEY)")
        conn.execute("INSERT INTO crash_probe VALUES (%s)", (marker,))
        conn.commit()
    postgres.kill()  # at once after the commit, before any background writer of PostgreSQL's could act
    postgres.start()
    with db.connect(db_settings, "tests") as conn:
        assert conn.execute("SELECT count(*) FROM crash_probe WHERE marker = %s", (marker,)).fetchone()[0] == 1
