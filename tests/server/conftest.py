"""A real store, the MCP server over it, and an in-process SDK client for each protocol revision."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from logfire.testing import CaptureLogfire
from mcp import Client
from mcp.server import MCPServer

from perf_mcp import Monitor
from perf_mcp.server import Runtime, build_server
from tests.logfire_capture import capture_logfire

# "legacy" is the 2025-11-25 initialize handshake; "auto" discovers the stateless 2026-07-28.
PROTOCOLS = ["legacy", "auto"]


@pytest.fixture(autouse=True)
def capfire() -> CaptureLogfire:
    """The server logs alerts to Logfire: keep them in memory."""
    return capture_logfire()


@pytest.fixture
def server(monitor: Monitor) -> MCPServer[Runtime]:
    return build_server(monitor, toolsets="all")


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def client(server: MCPServer[Runtime], protocol: str) -> AsyncIterator[Client]:
    async with Client(server, mode=protocol, raise_exceptions=False) as connected:
        yield connected
