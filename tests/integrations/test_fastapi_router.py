"""The /health and /performance router, included in a real FastAPI app."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from perf_mcp import Monitor
from perf_mcp.core.models import PerformanceSummary
from perf_mcp.integrations import PerformanceMiddleware, set_default_monitor
from perf_mcp.integrations.fastapi import performance_router, router

pytestmark = pytest.mark.anyio


def app_with_router(monitor: Monitor, prefix: str = "") -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    app.include_router(performance_router(monitor, prefix=prefix))
    app.add_middleware(PerformanceMiddleware, monitor=monitor)
    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_performance_answers_the_summary(monitor: Monitor) -> None:
    async with client_for(app_with_router(monitor)) as client:
        for item_id in range(3):
            await client.get(f"/items/{item_id}")
        response = await client.get("/performance", params={"window": "1h"})

    assert response.status_code == 200
    summary = PerformanceSummary.model_validate(response.json())
    assert summary.window == "1h"
    assert summary.requests.count == 3
    assert [e.endpoint for e in summary.slowest_endpoints] == ["/items/{item_id}"]


async def test_a_bad_window_is_a_422_naming_the_allowed_ones(monitor: Monitor) -> None:
    async with client_for(app_with_router(monitor)) as client:
        response = await client.get("/performance", params={"window": "2d"})

    assert response.status_code == 422
    assert "'1m', '5m', '15m', '1h', '24h' or '7d'" in response.text


async def test_health_is_ok(monitor: Monitor) -> None:
    async with client_for(app_with_router(monitor, prefix="/ops")) as client:
        response = await client.get("/ops/health")

    assert response.status_code == 200
    health = response.json()
    assert (health["status"], health["store"]) == ("ok", "ok")
    assert health["db_path"] == monitor.db_path
    assert health["in_flight_requests"] == 1  # this very request
    assert monitor.get_endpoint_stats().endpoints[0].endpoint == "/ops/health"


async def test_health_at_the_root_is_not_recorded(monitor: Monitor) -> None:
    async with client_for(app_with_router(monitor)) as client:
        assert (await client.get("/health")).status_code == 200

    assert monitor.get_endpoint_stats().endpoints == []


async def test_health_answers_503_when_the_store_fails(monitor: Monitor) -> None:
    app = app_with_router(monitor)
    monitor.storage.close()  # the database is gone from under the app

    async with client_for(app) as client:
        response = await client.get("/health")

    assert response.status_code == 503
    assert response.json()["status"] == "error"


async def test_the_ready_made_router_uses_the_default_monitor(monitor: Monitor) -> None:
    app = FastAPI()
    app.include_router(router)
    previous = set_default_monitor(monitor)
    try:
        async with client_for(app) as client:
            response = await client.get("/health")
    finally:
        set_default_monitor(previous)

    assert response.json()["db_path"] == monitor.db_path
