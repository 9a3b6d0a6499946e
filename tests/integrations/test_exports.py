"""The integrations' public names are all there, and nothing else claims to be."""

from __future__ import annotations

import perf_mcp.integrations as integrations
import perf_mcp.integrations.asgi as asgi
import perf_mcp.integrations.decorators as decorators
import perf_mcp.integrations.fastapi as fastapi_integration


def test_every_exported_name_exists() -> None:
    for module in (integrations, asgi, decorators, fastapi_integration):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_the_package_exports_the_everyday_names() -> None:
    assert set(integrations.__all__) >= {
        "PerformanceMiddleware",
        "monitor_agent",
        "monitor_tool",
        "current_run",
        "default_monitor",
        "set_default_monitor",
        "in_flight_requests",
    }
