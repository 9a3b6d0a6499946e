"""The engines the storage contract runs on: a SQLite file, and a database on a PostgreSQL
server the tests start (skipped with the reason where PostgreSQL is not installed; under CI,
where .ci/run installs it, a failure instead)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg_server import Server, require_postgres, running_server

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres_binaries() -> Path:
    """The directory of PostgreSQL's initdb and pg_ctl (and psycopg importable)."""
    return require_postgres()


@pytest.fixture(scope="session")
def postgres_server(postgres_binaries: Path) -> Iterator[Server]:
    """A PostgreSQL server started for this test session."""
    with running_server(postgres_binaries) as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: Server) -> Iterator[str]:
    """A URL of a fresh, empty database, dropped after the test."""
    import psycopg

    name = f"perf_test_{next(_databases)}"
    admin = postgres_server.database("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield postgres_server.database(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, db_path: Path) -> str:
    """Where a fresh store lives, on each engine: a file path, or a postgresql:// URL."""
    if request.param == "sqlite":
        return str(db_path)
    return str(request.getfixturevalue("postgres_url"))
