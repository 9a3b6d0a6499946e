"""Shared fixtures: a fresh store per test, anyio on asyncio; the engines a store runs on: a
SQLite file, and a database on a PostgreSQL server the tests start (skipped with the reason
where PostgreSQL is not installed; under CI, where .ci/run installs it, a failure instead)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.pg_server import Server, require_postgres, running_server

if TYPE_CHECKING:
    from perf_mcp import Monitor


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A path for a fresh SQLite store file."""
    return tmp_path / "perf.db"


@pytest.fixture
def monitor(db_path: Path) -> Iterator[Monitor]:
    """A Monitor over a fresh file store, closed after the test."""
    from perf_mcp import Monitor  # imported here so tests/core runs without the full package

    with Monitor(db_path=db_path, flush_interval_s=3600) as m:
        yield m


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
