"""PostgreSQL access: TLS-verified connections and the versioned schema.

Migrations are the files `migrations/NNNN_name.sql`, applied in order, each once, in its own transaction,
recorded in `schema_migrations` with a checksum. Several tasks starting together serialise on a
transaction-level advisory lock, so exactly one applies a migration and the others see it applied. An applied
migration whose file changed afterwards stops the service (a schema must not silently diverge)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool

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


def pool(settings: DatabaseSettings, application: str, *, min_size: int = 1, max_size: int = 8,
         timeout: float = 3.0) -> ConnectionPool:
    """A pool that opens lazily (a task starts even while the database is down) and checks connections."""
    return ConnectionPool(kwargs=settings.conninfo(application), min_size=min_size, max_size=max_size,
                          timeout=timeout, open=False, check=ConnectionPool.check_connection,
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
