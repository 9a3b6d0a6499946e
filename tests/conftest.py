"""Shared fixtures: a fresh store per test, anyio on asyncio."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

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
