"""Fixtures of the alerting tests: a fake clock and world, a memory store, a manager over them,
and a Monitor on a fresh file store that keeps the same clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from logfire.testing import CaptureLogfire

from perf_mcp import Monitor
from perf_mcp.alerting import AlertManager, MemoryAlertStore
from tests.alerting.fakes import Clock, World
from tests.logfire_capture import capture_logfire


@pytest.fixture
def capfire() -> CaptureLogfire:
    return capture_logfire()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def store() -> MemoryAlertStore:
    return MemoryAlertStore()


@pytest.fixture
def manager(
    world: World, store: MemoryAlertStore, clock: Clock, capfire: CaptureLogfire
) -> AlertManager:
    return AlertManager(world, store=store, clock=clock)


@pytest.fixture
def monitor(tmp_path: Path, clock: Clock) -> Iterator[Monitor]:
    with Monitor(tmp_path / "perf.db", clock=clock, start_flusher=False) as m:
        yield m
