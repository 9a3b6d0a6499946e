"""build_server's wiring: the 2025-11-25 methods the 2026 revision removed are served to the
clients that still speak 2025-11-25, and to them only."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.types import METHOD_NOT_FOUND

from perf_mcp.server import Runtime
from perf_mcp.server.notifications import ALERTS_URI

pytestmark = pytest.mark.anyio


async def test_legacy_clients_see_logging_and_subscriptions_offered(
    server: MCPServer[Runtime],
) -> None:
    async with Client(server, mode="legacy") as legacy:
        offered = legacy.server_capabilities
        assert offered.logging is not None
        assert offered.resources is not None
        assert offered.resources.subscribe is True
        with pytest.warns(MCPDeprecationWarning):
            assert await legacy.subscribe_resource(ALERTS_URI) is not None


async def test_2026_clients_get_method_not_found_for_the_removed_methods(
    server: MCPServer[Runtime],
) -> None:
    async with Client(server, mode="2026-07-28") as modern:
        with pytest.warns(MCPDeprecationWarning), pytest.raises(MCPError) as set_level:
            await modern.set_logging_level("warning")
        with pytest.warns(MCPDeprecationWarning), pytest.raises(MCPError) as subscribe:
            await modern.subscribe_resource(ALERTS_URI)
    assert set_level.value.error.code == subscribe.value.error.code == METHOD_NOT_FOUND
