"""A PostgreSQL database becomes a perf-mcp store only if it is empty or already ours."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from perf_mcp.storage import FlushBatch, StoreError, open_storage

psycopg = pytest.importorskip("psycopg")


def test_a_database_of_another_application_is_refused_and_left_alone(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    with pytest.raises(StoreError, match=r"tables of another application \(users\)"):
        open_storage(postgres_url)
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert [t for (t,) in tables] == ["users"]


def test_a_schema_of_its_own_in_a_shared_database_works(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
        conn.execute("CREATE SCHEMA perf_mcp")
    with open_storage(f"{postgres_url}&options=-csearch_path%3Dperf_mcp") as store:
        store.add_deploy_marker(1.0, "v1", None)
        assert [d.version for d in store.deploy_markers(0)] == ["v1"]


def test_a_newer_schema_is_refused_with_what_to_do(postgres_url: str) -> None:
    open_storage(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE perf_mcp_schema SET version = version + 1")
    with pytest.raises(StoreError, match=r"newer than this perf-mcp understands.*upgrade"):
        open_storage(postgres_url)


def test_two_processes_opening_a_new_database_at_once_migrate_it_once(postgres_url: str) -> None:
    import threading

    errors: list[BaseException] = []

    def opening() -> None:
        try:
            open_storage(postgres_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opening) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_a_role_that_may_only_read_opens_the_store_read_only(postgres_url: str) -> None:
    with open_storage(postgres_url) as store:
        store.add_deploy_marker(1.0, "v1", None)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS reader")
        conn.execute("CREATE ROLE reader LOGIN")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader")
    reader_url = postgres_url.replace("postgresql://perf@", "postgresql://reader@")
    with open_storage(reader_url) as store:
        assert store.read_only == "this role may not change perf-mcp's tables"
        assert [d.version for d in store.deploy_markers(0)] == ["v1"]
        with pytest.raises(StoreError, match="read-only"):
            store.write(FlushBatch(folded=[("request", "GET /x")]))


def test_postgresql_has_every_table_and_column_of_the_sqlite_schema(
    postgres_url: str, tmp_path: Path
) -> None:
    """A migration added to one engine only fails here, naming what the other lacks."""
    open_storage(tmp_path / "perf.db").close()
    conn = sqlite3.connect(tmp_path / "perf.db")
    tables = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    sqlite_columns = {
        (table, column)
        for table in tables
        if not table.startswith("sqlite_")
        for (_, column, *_) in conn.execute(f"PRAGMA table_info({table})")
    }
    conn.close()
    open_storage(postgres_url).close()
    with psycopg.connect(postgres_url) as pg:
        pg_columns = set(
            pg.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name NOT IN "
                "(SELECT relname FROM pg_class WHERE relispartition)"
            ).fetchall()
        )
    assert sqlite_columns - pg_columns == set()
    only_postgresql = {table for table, _ in pg_columns - sqlite_columns}
    assert only_postgresql == {"perf_mcp_schema", "perf_mcp_writes"}
