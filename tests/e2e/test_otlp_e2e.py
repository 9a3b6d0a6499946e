"""OTLP into a running `perf-mcp serve --transport http`, from the OpenTelemetry SDK's exporter.

The app side is the real SDK with its OTLP/HTTP protobuf exporter, configured only by
OTEL_EXPORTER_OTLP_ENDPOINT (and the token header); the MCP tools then answer for what it sent.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.e2e.mcp_process import http_server
from tests.e2e.test_http_access import FULL, READ, bearer, client, structured
from tests.otlp.spans import agent_run, http_request, mcp_tool_call, tracer, versioned_export
from tests.server.mcp_calls import their_tools

pytestmark = pytest.mark.anyio
PROTOBUF = {"Content-Type": "application/x-protobuf"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with a full and a read token; yields its base URL."""
    tmp = tmp_path_factory.mktemp("otlp")
    with http_server(tmp / "perf.db", PERF_MCP_TOKEN=FULL, PERF_MCP_READ_TOKEN=READ) as (url, _):
        yield url.removesuffix("/mcp")


def sdk_exporter(
    base: str, monkeypatch: pytest.MonkeyPatch, compression: Compression | None = None
) -> OTLPSpanExporter:
    """The exporter an instrumented app builds from its environment."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", base)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer {FULL}")
    return OTLPSpanExporter(compression=compression)


async def ask(base: str, tool: str, **arguments: Any) -> Any:
    async with client(f"{base}/mcp", READ) as connected:
        return await structured(connected, tool, arguments)


def json_export(route: str, status: int, count: int) -> bytes:
    """OTLP JSON as a non-Python emitter writes it: hex ids, 64-bit integers as strings."""
    end = time.time_ns()
    spans = [
        {
            "traceId": f"{i + 1:032x}",
            "spanId": f"{i + 1:016x}",
            "name": f"GET {route}",
            "kind": 2,
            "startTimeUnixNano": str(end - 30_000_000),
            "endTimeUnixNano": str(end),
            "attributes": [
                {"key": "http.request.method", "value": {"stringValue": "GET"}},
                {"key": "http.route", "value": {"stringValue": route}},
                {"key": "http.response.status_code", "value": {"intValue": str(status)}},
            ],
        }
        for i in range(count)
    ]
    export = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    return json.dumps(export).encode()


async def test_sdk_spans_answer_as_requests_runs_and_tools(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider, tracing = tracer(sdk_exporter(server, monkeypatch), batch=True)
    for i in range(20):
        http_request(tracing, "/items/{item_id}", "GET", 500 if i % 4 == 0 else 200, 10 + i)
    http_request(tracing, "/items", "POST", 201, 30, old=True)
    agent_run(
        tracing, "support", 800, chats=[(1000, 200, 300), (400, 50, 0)],
        tools=[("search", 100, None), ("refund", 20, "PermissionError")], usage=(1400, 250),
    )  # fmt: skip
    agent_run(tracing, "support", 400, usage=(100, 10), error_type="timeout")
    mcp_tool_call(tracing, "get_weather", 15)
    provider.shutdown()

    endpoints = await ask(server, "get_endpoint_stats", window="15m")
    by_route = {(e["endpoint"], e["method"]): e for e in endpoints["endpoints"]}
    items = by_route["/items/{item_id}", "GET"]
    assert (items["count"], items["error_count"], items["error_rate"]) == (20, 5, 0.25)
    assert items["max_ms"] == pytest.approx(29, rel=0.01)
    assert by_route["/items", "POST"]["status_counts"] == {"2xx": 1}
    (support,) = (await ask(server, "get_agent_stats", window="15m"))["agents"]
    assert (support["runs"], support["failures"], support["tool_calls"]) == (2, 1, 2)
    assert (support["input_tokens"], support["output_tokens"]) == (1500, 260)
    assert support["cache_read_tokens"] == 300
    tools = their_tools(await ask(server, "get_tool_stats", window="15m"))
    assert {name: (t["calls"], t["failures"]) for name, t in tools.items()} == {
        "search": (1, 0), "refund": (1, 1), "get_weather": (1, 0)
    }  # fmt: skip


async def test_json_and_gzip_bodies_are_taken(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with httpx.AsyncClient(headers=bearer(FULL)) as http:
        plain = await http.post(
            f"{server}/v1/traces",
            content=json_export("/json", 200, 3),
            headers={"Content-Type": "application/json"},
        )
        zipped = await http.post(
            f"{server}/v1/traces",
            content=gzip.compress(json_export("/json", 404, 2)),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
    assert (plain.status_code, plain.json()) == (200, {})
    assert zipped.status_code == 200
    provider, tracing = tracer(sdk_exporter(server, monkeypatch, Compression.Gzip))
    http_request(tracing, "/gzipped", "GET", 200, 5)
    provider.shutdown()

    endpoints = (await ask(server, "get_endpoint_stats", window="15m"))["endpoints"]
    by_route = {e["endpoint"]: e for e in endpoints}
    assert by_route["/json"]["status_counts"] == {"2xx": 3, "4xx": 2}
    assert by_route["/gzipped"]["count"] == 1


async def test_bad_bodies_get_the_otlp_errors_and_change_nothing(server: str) -> None:
    url = f"{server}/v1/traces"
    before = await ask(server, "get_performance_summary", window="15m")
    async with httpx.AsyncClient(headers=bearer(FULL)) as http:
        malformed = await http.post(url, content=b"\x0a\xff\xff\xff", headers=PROTOBUF)
        bad_json = await http.post(url, content=b"{", headers={"Content-Type": "application/json"})
        too_big = await http.post(url, content=b"\0" * (5 << 20), headers=PROTOBUF)
        bomb = await http.post(
            url,
            content=gzip.compress(b"\0" * (8 << 20)),
            headers={**PROTOBUF, "Content-Encoding": "gzip"},
        )
        wrong_type = await http.post(url, content=b"hello", headers={"Content-Type": "text/plain"})
        read_token = await http.post(url, content=b"", headers={**PROTOBUF, **bearer(READ)})
    assert [malformed.status_code, bad_json.status_code] == [400, 400]
    assert Status.FromString(malformed.content).message.startswith("the body is not an Export")
    assert "OTLP JSON" in json.loads(bad_json.content)["message"]
    assert [too_big.status_code, bomb.status_code] == [413, 413]
    assert "4 MiB" in Status.FromString(too_big.content).message
    assert wrong_type.status_code == 415
    assert "application/x-protobuf" in wrong_type.json()["message"]
    assert read_token.status_code == 403
    assert "read token" in Status.FromString(read_token.content).message
    after = await ask(server, "get_performance_summary", window="15m")
    assert after["requests"] == before["requests"]


async def test_a_partial_success_names_what_was_refused(server: str) -> None:
    body = json.loads(json_export("/partial", 200, 2))
    spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[1]["attributes"] = spans[1]["attributes"][:2]  # no status code
    async with httpx.AsyncClient(headers=bearer(FULL)) as http:
        answer = await http.post(
            f"{server}/v1/traces", json=body, headers={"Content-Type": "application/json"}
        )
        unauthorized = await http.post(
            f"{server}/v1/traces", json=body, headers={"Authorization": "Bearer nope"}
        )
    assert answer.status_code == 200
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert "without a status code" in partial["errorMessage"]
    assert unauthorized.status_code == 401
    health = await ask(server, "health_check")
    (otlp,) = [c for c in health["components"] if c["name"] == "otlp"]
    assert otlp["status"] == "degraded"
    assert "1 HTTP server span without a status code" in otlp["detail"]
    assert "exports refused whole" in otlp["detail"]


def test_a_protobuf_answer_is_an_export_response(server: str) -> None:
    answer = httpx.post(f"{server}/v1/traces", content=b"", headers={**PROTOBUF, **bearer(FULL)})
    assert answer.headers["content-type"] == "application/x-protobuf"
    assert ExportTraceServiceResponse.FromString(answer.content) == ExportTraceServiceResponse()


async def test_a_new_service_version_is_marked_as_a_deploy(server: str) -> None:
    for version in ("4.0", "4.1", "4.0"):  # the old instance still sends 4.0 meanwhile
        body = versioned_export("billing", version).SerializeToString()
        answer = httpx.post(
            f"{server}/v1/traces", content=body, headers={**PROTOBUF, **bearer(FULL)}
        )
        assert answer.status_code == 200
    summary = await ask(server, "get_performance_summary")
    billing = [d for d in summary["deploys"] if "billing" in (d.get("note") or "")]
    assert [d["version"] for d in billing] == ["4.1"]
