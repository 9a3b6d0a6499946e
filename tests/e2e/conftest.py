"""Fixtures of the hostile-input suites: one server per test module, and a raw session to it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.hostile import RawSession
from tests.e2e.mcp_process import http_server
from tests.e2e.test_http_access import FULL

# The emitters are programs the tests start, not test modules: importing one (as
# --doctest-modules would) sets up its OpenTelemetry exporter in the test process.
collect_ignore = ["emitters"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A server with a token and every toolset; alerts are evaluated only when a threshold
    changes."""
    db = tmp_path_factory.mktemp("hostile") / "perf.db"
    with http_server(
        db, extra=["--token", FULL, "--toolsets", "all"], PERF_MCP_ALERT_INTERVAL_S="3600"
    ) as served:
        yield served


@pytest.fixture(scope="module")
def raw(served: tuple[str, subprocess.Popen[str]]) -> Iterator[RawSession]:
    session = RawSession(served[0], FULL)
    yield session
    session.close()
