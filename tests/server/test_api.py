"""The JSON API under /api/v1/, over the real HTTP app (tokens, Host checks, lifespan)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from perf_mcp import Monitor
from perf_mcp.config import Settings
from perf_mcp.server import build_server
from perf_mcp.server.auth import Tokens
from perf_mcp.server.http import http_app

FULL = "full-token-0123456789abcdef"
READ = "read-token-0123456789abcdef"
BASE = "http://127.0.0.1:8765"


async def _client(monitor: Monitor, tokens: Tokens) -> AsyncIterator[httpx.AsyncClient]:
    server = build_server(monitor)
    app = http_app(server, host="127.0.0.1", port=8765, tokens=tokens)
    starlette_app = server.streamable_http_app(host="127.0.0.1")
    async with (
        starlette_app.router.lifespan_context(starlette_app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE) as http,
    ):
        yield http


@pytest.fixture
async def api(monitor: Monitor) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _client(monitor, Tokens(full=FULL, read=READ)):
        http.headers["Authorization"] = f"Bearer {FULL}"
        yield http


@pytest.mark.anyio
async def test_endpoints_answer_what_was_recorded_sorted_as_asked(
    api: httpx.AsyncClient, monitor: Monitor
) -> None:
    for ms in (10.0, 20.0, 30.0):
        monitor.record_request("/fast", "GET", 200, ms)
    monitor.record_request("/slow", "POST", 503, 900.0)

    by_p95 = (await api.get("/api/v1/endpoints", params={"window": "1h"})).json()
    by_count = (await api.get("/api/v1/endpoints?window=1h&sort_by=count&limit=1")).json()
    summary = (await api.get("/api/v1/summary")).json()

    assert [(e["endpoint"], e["count"]) for e in by_p95["endpoints"]] == [
        ("/slow", 1),
        ("/fast", 3),
    ]
    assert [e["endpoint"] for e in by_count["endpoints"]] == ["/fast"]
    assert by_count["truncated"] is True
    assert summary["requests"]["count"] == 4


@pytest.mark.anyio
async def test_endpoint_detail_has_its_stats_its_chart_and_its_slowest_requests(
    api: httpx.AsyncClient, monitor: Monitor
) -> None:
    monitor.record_request("/users/42", "GET", 200, 12.0)
    monitor.record_request("/users/7", "GET", 500, 480.0)
    monitor.record_request("/other", "GET", 200, 999.0)

    detail = (await api.get("/api/v1/endpoint?endpoint=/users/{id}&window=5m")).json()

    assert [(s["method"], s["count"], s["status_counts"]["5xx"]) for s in detail["stats"]] == [
        ("GET", 2, 1)
    ]
    assert sum(p["count"] for p in detail["timeline"]["points"]) == 2
    assert detail["timeline"]["step_s"] == 10
    assert [r["endpoint"] for r in detail["slowest_requests"]] == ["/users/{id}"]


@pytest.mark.anyio
async def test_series_agents_tools_and_resources_answer(
    api: httpx.AsyncClient, monitor: Monitor
) -> None:
    monitor.record_agent_run(agent_name="triage", duration_ms=1500.0, cost_usd=0.25)
    monitor.record_tool_call("search", 40.0, success=False, error_type="Timeout")

    runs = (await api.get("/api/v1/series?kind=agent&window=1h")).json()
    agents = (await api.get("/api/v1/agents")).json()
    tools = (await api.get("/api/v1/tools")).json()
    machine = (await api.get("/api/v1/resources?window=15m")).json()

    assert sum(p["count"] for p in runs["points"]) == 1
    assert agents["agents"][0]["cost_usd"] == 0.25
    assert tools["tools"][0]["top_errors"] == [{"name": "Timeout", "count": 1}]
    assert machine["metrics"] == ["cpu_percent", "memory_percent", "disk_percent"]
    assert len(machine["points"]) == 90


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("/api/v1/endpoints?window=2h", "window"),
        ("/api/v1/endpoints?limit=0", "limit"),
        ("/api/v1/endpoints?sort_by=speed", "sort_by"),
        ("/api/v1/agents?colour=red", "colour"),
        ("/api/v1/endpoint", "endpoint"),
        ("/api/v1/series?kind=tool&method=GET", "method applies to kind 'request' only"),
    ],
)
async def test_bad_input_is_a_400_that_names_what_was_wrong(
    api: httpx.AsyncClient, url: str, named: str
) -> None:
    answer = await api.get(url)
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"
    assert named in answer.json()["detail"]


@pytest.mark.anyio
async def test_the_api_needs_a_token_the_page_asking_for_it_does_not(
    api: httpx.AsyncClient,
) -> None:
    for path in ("/api/v1/summary", "/api/v1/openapi.json"):
        assert (await api.get(path, headers={"Authorization": ""})).status_code == 401
    for path in ("/", "/static/dashboard.js", "/static/dashboard.css"):
        assert (await api.get(path, headers={"Authorization": ""})).status_code == 200
    read = {"Authorization": f"Bearer {READ}"}
    assert (await api.get("/api/v1/alerts", headers=read)).status_code == 200
    refused = await api.post("/api/v1/alerts/1/acknowledge", json={}, headers=read)
    assert refused.status_code == 403
    assert "full token" in refused.json()["detail"]


@pytest.mark.anyio
async def test_a_firing_alert_is_listed_then_acknowledged(db_path: Path) -> None:
    settings = Settings(alert_interval_s=1)
    with Monitor(db_path, settings=settings) as monitor:
        for _ in range(50):
            monitor.record_request("/boom", "GET", 500, 5.0)
        async for http in _client(monitor, Tokens()):
            with anyio.fail_after(20):
                while not (listed := (await http.get("/api/v1/alerts")).json())["alerts"]:
                    await anyio.sleep(0.2)
            alert = listed["alerts"][0]
            assert alert["state"] == "firing"

            done = await http.post(f"/api/v1/alerts/{alert['id']}/acknowledge", json={})
            again = (await http.get("/api/v1/alerts")).json()["alerts"][0]
            unknown = await http.post("/api/v1/alerts/999/acknowledge", json={})
            bad = await http.post(f"/api/v1/alerts/{alert['id']}/acknowledge", json={"until": "x"})

    assert done.status_code == 200
    assert done.json()["alert"]["state"] == again["state"] == "acknowledged"
    assert unknown.status_code == 400
    assert "999" in unknown.json()["detail"]
    assert bad.status_code == 400
    assert "until" in bad.json()["detail"]


@pytest.mark.anyio
async def test_a_foreign_host_is_refused_even_without_tokens(monitor: Monitor) -> None:
    async for http in _client(monitor, Tokens()):
        assert (await http.get("/api/v1/summary")).status_code == 200
        rebound = await http.get("/api/v1/summary", headers={"Host": "evil.example:8765"})
        assert rebound.status_code == 421


@pytest.mark.anyio
async def test_the_openapi_document_lists_every_route_with_its_models(
    api: httpx.AsyncClient,
) -> None:
    spec = (await api.get("/api/v1/openapi.json")).json()
    assert spec["openapi"] == "3.1.0"
    assert set(spec["paths"]) >= {
        "/api/v1/summary", "/api/v1/endpoints", "/api/v1/endpoint", "/api/v1/agents",
        "/api/v1/tools", "/api/v1/series", "/api/v1/resources", "/api/v1/alerts",
        "/api/v1/alerts/{alert_id}/acknowledge",
    }  # fmt: skip
    endpoints = spec["paths"]["/api/v1/endpoints"]["get"]
    assert {p["name"] for p in endpoints["parameters"]} == {"window", "sort_by", "limit"}
    assert "EndpointStatsList" in spec["components"]["schemas"]


@pytest.mark.anyio
async def test_the_page_and_its_files_are_served_with_a_strict_policy(
    api: httpx.AsyncClient,
) -> None:
    page = await api.get("/")
    script = await api.get("/static/dashboard.js")
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert script.headers["content-type"].startswith("text/javascript")
