"""The services' PostgreSQL (services/common/db.py), against the real PostgreSQL.

The versioned schema: each migration once, in order, safe when several tasks start together.

The API's async database pool: reads in autocommit (one round trip, no transaction left open), and a connection
checked before it is handed out only after it sat idle, so that a connection the database dropped meanwhile is
replaced instead of failing a request.

The connection's TLS and credentials: tests/services/test_data_stores.py."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool

from services.common import db
from tests.services.conftest import settings_for

# --- the versioned schema ---------------------------------------------------------------------------------------------

@pytest.fixture
def fresh_database(postgres):
    """An empty database of its own (migrations are tested from nothing)."""
    name = "migrations_test"
    with psycopg.connect(**settings_for(postgres, DB_NAME="postgres").conninfo("tests"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return settings_for(postgres, DB_NAME=name)


def applied_versions(settings) -> list[tuple[int, str]]:
    with db.connect(settings, "tests") as conn:
        return conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()


def test_migrations_apply_once_and_record_themselves(fresh_database):
    with db.connect(fresh_database, "tests") as conn:
        assert db.migrate(conn) == [1]
        assert db.migrate(conn) == []
        assert conn.execute("SELECT count(*) FROM videos").fetchone() == (0,)
    assert applied_versions(fresh_database) == [(1, "videos")]


def test_eight_tasks_starting_together_apply_each_migration_exactly_once(fresh_database):
    barrier, results, errors = threading.Barrier(8), [], []

    def start_task() -> None:
        try:
            with db.connect(fresh_database, "tests") as conn:
                barrier.wait()
                results.append(db.migrate(conn))
        except Exception as exc:  # noqa: BLE001 - collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=start_task) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(results) == [[]] * 7 + [[1]]
    assert applied_versions(fresh_database) == [(1, "videos")]


def test_a_changed_applied_migration_stops_the_service(fresh_database, tmp_path):
    with db.connect(fresh_database, "tests") as conn:
        db.migrate(conn)
        changed = [db.Migration(1, "videos", db.load_migrations()[0].sql + "\n-- edited after release\n")]
        with pytest.raises(db.MigrationError, match="changed after it was applied"):
            db.migrate(conn, changed)


def test_a_new_migration_is_applied_on_top(fresh_database):
    with db.connect(fresh_database, "tests") as conn:
        db.migrate(conn)
        extra = [*db.load_migrations(), db.Migration(2, "add_title", "ALTER TABLE videos ADD COLUMN title text")]
        assert db.migrate(conn, extra) == [2]
    assert [v for v, _ in applied_versions(fresh_database)] == [1, 2]


@pytest.mark.parametrize("files, message", [
    ({"0001_a.sql": "SELECT 1", "0003_c.sql": "SELECT 1"}, "without gaps"),
    ({"1_bad.sql": "SELECT 1"}, "NNNN_lower_snake.sql"),
])
def test_migration_files_must_be_numbered_without_gaps(tmp_path, files, message):
    for name, sql in files.items():
        (tmp_path / name).write_text(sql)
    with pytest.raises(db.MigrationError, match=message):
        db.load_migrations(tmp_path)


# --- the API's async pool ---------------------------------------------------------------------------------------------

def counting_checks(monkeypatch) -> list[int]:
    checks: list[int] = []
    real = AsyncConnectionPool.check_connection

    async def check(conn):
        checks.append(1)
        await real(conn)

    monkeypatch.setattr(AsyncConnectionPool, "check_connection", staticmethod(check))
    return checks


def pool_with(settings, idle_s: float) -> AsyncConnectionPool:
    return db.async_pool(settings, "tests", max_size=1, timeout=5, idle_check_s=idle_s)


async def read(pool: AsyncConnectionPool) -> tuple[int, TransactionStatus]:
    async with pool.connection() as conn:
        value = (await (await conn.execute("SELECT 1")).fetchone())[0]
        return value, conn.pgconn.transaction_status


def test_a_connection_in_steady_use_is_checked_once_and_reads_leave_no_transaction(clean_db, monkeypatch):
    checks = counting_checks(monkeypatch)

    async def main():
        async with pool_with(clean_db, idle_s=3600) as pool:
            return [await read(pool) for _ in range(5)]

    assert asyncio.run(main()) == [(1, TransactionStatus.IDLE)] * 5  # autocommit: no BEGIN, nothing left open
    assert len(checks) == 1  # its first hand-out: never used, so checked


def test_a_connection_that_sat_idle_is_checked_every_time(clean_db, monkeypatch):
    checks = counting_checks(monkeypatch)

    async def main():
        async with pool_with(clean_db, idle_s=0) as pool:
            return [await read(pool) for _ in range(3)]

    assert asyncio.run(main()) == [(1, TransactionStatus.IDLE)] * 3 and len(checks) == 3


@pytest.mark.parametrize("idle_s, first_read", [(0, "answered"), (3600, "failed")])
def test_a_connection_the_database_dropped_while_idle(clean_db, idle_s, first_read):
    """Checked after idling: replaced, and the read is answered. In steady use (not checked): that one read
    fails, as any query on a connection the database drops, and the connection is replaced for the next."""
    async def main():
        async with pool_with(clean_db, idle_s=idle_s) as pool:
            async with pool.connection() as conn:
                pid = conn.info.backend_pid
            with psycopg.connect(**clean_db.conninfo("tests"), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            try:
                await read(pool)
                outcome = "answered"
            except psycopg.OperationalError:
                outcome = "failed"
            return outcome, await read(pool)

    assert asyncio.run(main()) == (first_read, (1, TransactionStatus.IDLE))
