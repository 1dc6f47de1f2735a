"""PostgreSQL access: TLS-verified connections and the versioned schema.

Migrations are the files `migrations/NNNN_name.sql`, applied in order, each once, in its own transaction,
recorded in `schema_migrations` with a checksum. Several tasks starting together serialise on a
transaction-level advisory lock, so exactly one applies a migration and the others see it applied. An applied
migration whose file changed afterwards stops the service (a schema must not silently diverge)."""

from __future__ import annotations

import hashlib
import re
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from services.common.settings import DatabaseSettings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# pg_advisory_xact_lock key: the first 8 bytes of sha256("streamtech-schema-migrations") as a signed int.
MIGRATION_LOCK = int.from_bytes(hashlib.sha256(b"streamtech-schema-migrations").digest()[:8], "big", signed=True)


class MigrationError(RuntimeError):
    """The schema's history does not match the migration files."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_snake.sql")
        migrations.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration versions must be 1..n without gaps, found {versions}")
    return migrations


def connect(settings: DatabaseSettings, application: str) -> psycopg.Connection:
    return psycopg.connect(**settings.conninfo(application))


def pool(settings: DatabaseSettings, application: str, *, timeout: float, min_size: int = 1,
         max_size: int = 8) -> ConnectionPool:
    """A pool that opens lazily (a task starts even while the database is down) and checks connections."""
    return ConnectionPool(kwargs=settings.conninfo(application), min_size=min_size, max_size=max_size,
                          timeout=timeout, open=False, check=ConnectionPool.check_connection,
                          reconnect_timeout=30, name=application)


IDLE_CHECK_S = 1.0  # an async pool's connection idle this long is checked before it is handed out


class CheckAfterIdle:
    """An async pool's `check` and `reset`: a connection handed out after IDLE_CHECK_S or more in the pool
    (or never used yet) is checked with a round trip, and replaced if broken, as `pool` checks every one; a
    connection in steady use is not, since the check would double its round trips. One broken since its last
    use (the database restarted within that second) fails its query, and is replaced when it comes back."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self.returned: weakref.WeakKeyDictionary[psycopg.AsyncConnection, float] = weakref.WeakKeyDictionary()

    async def reset(self, conn: psycopg.AsyncConnection) -> None:
        self.returned[conn] = time.monotonic()

    async def check(self, conn: psycopg.AsyncConnection) -> None:
        since = self.returned.get(conn)
        if since is None or time.monotonic() - since >= self.idle_s:
            await AsyncConnectionPool.check_connection(conn)


def async_pool(settings: DatabaseSettings, application: str, *, timeout: float, min_size: int = 1,
               max_size: int = 8, idle_check_s: float = IDLE_CHECK_S) -> AsyncConnectionPool:
    """The API's pool, for its event loop (a query waits on the loop, never in a thread). Unopened: open it on
    the loop that uses it (`await pool.open()`), lazily as `pool` (a task starts even while the database is
    down). Autocommit: the API only reads, one statement at a time, so a read is one round trip (no BEGIN
    and COMMIT around it). `idle_check_s`: see CheckAfterIdle."""
    idle = CheckAfterIdle(idle_check_s)
    return AsyncConnectionPool(kwargs={**settings.conninfo(application), "autocommit": True}, min_size=min_size,
                               max_size=max_size, timeout=timeout, open=False, check=idle.check, reset=idle.reset,
                               reconnect_timeout=30, name=application)


def migrate(conn: psycopg.Connection, migrations: list[Migration] | None = None) -> list[int]:
    """Apply the pending migrations; return the versions this call applied (usually none)."""
    migrations = load_migrations() if migrations is None else migrations
    applied_now = []
    conn.autocommit = True
    with conn.transaction():  # under the lock too: concurrent CREATE TABLE IF NOT EXISTS can collide
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                     "name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
    for migration in migrations:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            row = conn.execute("SELECT checksum FROM schema_migrations WHERE version = %s",
                               (migration.version,)).fetchone()
            if row is not None:
                if row[0] != migration.checksum:
                    raise MigrationError(f"migration {migration.version:04d}_{migration.name} changed after it "
                                         f"was applied (checksum {row[0][:12]} in the database)")
                continue
            conn.execute(migration.sql)
            conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                         (migration.version, migration.name, migration.checksum))
            applied_now.append(migration.version)
    return applied_now
