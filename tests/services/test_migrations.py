"""The versioned schema: each migration once, in order, safe when several tasks start together."""

from __future__ import annotations

import threading

import psycopg
import pytest

from services.common import db
from tests.services.conftest import settings_for


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
