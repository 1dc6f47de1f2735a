"""The API's async database pool: reads in autocommit (one round trip, no transaction left open), and a
connection checked before it is handed out only after it sat idle, so that a connection the database dropped
meanwhile is replaced instead of failing a request."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool

from services.common import db


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
