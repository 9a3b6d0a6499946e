"""The engines the storage contract runs on: a SQLite file, and a database on a PostgreSQL
server the tests start (skipped with the reason where PostgreSQL is not installed; under CI,
where .ci/run installs it, a failure instead)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.postgres_server import Server, find_binaries, running_server

_databases = itertools.count()


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_binaries() -> Path:
    """The directory of PostgreSQL's initdb and pg_ctl (and psycopg importable)."""
    binaries = find_binaries()
    if binaries is None:
        _missing("PostgreSQL's initdb and pg_ctl are not installed (apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing("psycopg is not installed (pip install -e '.[test]')")
    assert binaries is not None
    return binaries


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
