"""Apps and agents instrumented by emitters nobody here wrote, reporting to a running perf-mcp.

- a FastAPI app with `opentelemetry-instrumentation-fastapi`, served by uvicorn, exporting
  with the SDK's OTLP/HTTP protobuf exporter;
- a pydantic-ai agent instrumented by logfire (GenAI spans: invoke_agent, chat, execute_tool).

And perf-mcp's own telemetry exported to itself, which must not loop.

Each is configured only by the OTEL_EXPORTER_OTLP_* environment, as a user's would be; the
MCP tools then answer exact counts, error rates and tokens, and percentiles within 1% of the
exact ones over the durations the emitter itself measured.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from perf_mcp.core.stats import nearest_rank
from perf_mcp.integrations.asgi import UNMATCHED
from tests.e2e.mcp_process import REPO, free_port, http_server, wait_for_port
from tests.e2e.test_http_access import FULL, READ, bearer, client, structured
from tests.otlp import spans
from tests.server.mcp_calls import their_tools

pytestmark = pytest.mark.anyio
QUANTILES = {"p50_ms": 0.5, "p95_ms": 0.95, "p99_ms": 0.99}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A fresh server with tokens; yields its base URL."""
    with http_server(tmp_path / "perf.db", PERF_MCP_TOKEN=FULL, PERF_MCP_READ_TOKEN=READ) as (
        url,
        _,
    ):
        yield url.removesuffix("/mcp")


def emitter_env(**otel: str) -> dict[str, str]:
    """This environment with the OTLP settings a user would export, and nothing of perf-mcp."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERF_MCP_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["OTEL_EXPORTER_OTLP_HEADERS"] = f"Authorization=Bearer {FULL}"
    return {**env, **otel}


async def eventually(base: str, tool: str, ready: Any) -> Any:
    """The tool's answer once ``ready(answer)`` holds (exporters send in batches)."""
    with anyio.fail_after(20):
        while True:
            async with client(f"{base}/mcp", READ) as connected:
                answer = await structured(connected, tool, {})
            if ready(answer):
                return answer
            await anyio.sleep(0.25)


def exact(durations: list[float], q: float) -> float:
    return sorted(durations)[nearest_rank(len(durations), q)]


def close_to(answered: float, expected: float) -> bool:
    """Within 1% of ``expected``, after the answer's rounding to three significant digits."""
    rounding = 0.5 * 10 ** (math.floor(math.log10(expected)) - 2)
    return bool(abs(answered - expected) <= 0.01 * expected + rounding)


async def test_fastapi_app_instrumented_by_opentelemetry(server: str, tmp_path: Path) -> None:
    spans_out = tmp_path / "spans.json"
    port = free_port()
    app = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.emitters.fastapi_app", str(port)],
        env=emitter_env(OTEL_EXPORTER_OTLP_ENDPOINT=server, SPANS_OUT=str(spans_out)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, app)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for i in range(60):
                await http.get(f"/items/{i}")  # every fourth answers 500
            for _ in range(9):
                await http.post("/orders")
            for probe in ("/wp-login.php", "/.env", "/admin/config.php"):  # no such route
                await http.get(probe)
    finally:
        app.send_signal(signal.SIGTERM)  # uvicorn shuts down: the app writes its spans
        _, stderr = app.communicate(timeout=30)
    served = json.loads(spans_out.read_text())
    assert len(served) == 72, stderr
    for span in served:  # FastAPI's 404s for paths no route matches carry no http.route
        span["route"] = span["route"] or (UNMATCHED if span["status"] == 404 else None)

    answer = await eventually(
        server,
        "get_endpoint_stats",
        lambda a: sum(e["count"] for e in a["endpoints"]) >= 72,
    )

    rows = {(e["endpoint"], e["method"]): e for e in answer["endpoints"]}
    assert set(rows) == {("/items/{item_id}", "GET"), ("/orders", "POST"), (UNMATCHED, "GET")}
    for (route, _), row in rows.items():
        spans = [s for s in served if s["route"] == route]
        failed = sum(1 for s in spans if s["status"] >= 500)
        assert (row["count"], row["error_count"]) == (len(spans), failed)
        assert row["error_rate"] == round(failed / len(spans), 4)
        durations = [s["duration_ms"] for s in spans]
        for name, q in QUANTILES.items():
            assert close_to(row[name], exact(durations, q)), (route, name, row[name])
    assert rows[("/items/{item_id}", "GET")]["status_counts"] == {"2xx": 45, "5xx": 15}
    assert rows[(UNMATCHED, "GET")]["status_counts"] == {"4xx": 3}


@pytest.mark.parametrize("version", [[], ["2"]], ids=["current", "older-span-names"])
async def test_pydantic_ai_agent_instrumented_by_logfire(server: str, version: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.emitters.pydantic_ai_agent", "8", "3", *version],
        env=emitter_env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{server}/v1/traces"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    sent = json.loads(done.stdout.splitlines()[-1])
    assert (sent["runs"], sent["failures"]) == (8, 3)
    assert sent["input_tokens"] > 0

    agents = (await eventually(server, "get_agent_stats", lambda a: bool(a["agents"])))["agents"]
    tools = their_tools(await eventually(server, "get_tool_stats", lambda a: bool(their_tools(a))))

    (bot,) = agents
    assert bot["agent_name"] == "support-bot"
    assert (bot["runs"], bot["failures"]) == (sent["runs"], sent["failures"])
    assert (bot["input_tokens"], bot["output_tokens"]) == (
        sent["input_tokens"],
        sent["output_tokens"],
    )
    assert bot["tool_calls"] == sent["tool_calls"]
    assert bot["top_errors"] == [{"name": "RuntimeError", "count": 3}]
    assert list(tools) == ["lookup_order"]  # and perf-mcp's own calls, left out here
    lookup = tools["lookup_order"]
    assert (lookup["calls"], lookup["failures"]) == (8, 3)


async def test_a_server_exporting_its_telemetry_to_itself_does_not_loop(tmp_path: Path) -> None:
    """perf-mcp emits the runs it records as GenAI spans once telemetry is configured; pointed
    at its own receiver, a run it received over OTLP must not come back again and again, and
    a run recorded through its tools is counted once."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    itself = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": base,
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {FULL}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms: many export rounds within the test
    }
    with http_server(
        tmp_path / "perf.db", port, PERF_MCP_TOKEN=FULL, PERF_MCP_READ_TOKEN=READ, **itself
    ):
        exporter = OTLPSpanExporter(f"{base}/v1/traces", headers=bearer(FULL))
        provider, tracer = spans.tracer(exporter)
        spans.agent_run(tracer, "received", 300, tools=[("lookup", 20, None)])
        provider.shutdown()  # exports the run's spans, as an app does at exit
        async with client(f"{base}/mcp", FULL) as connected:
            await structured(connected, "record_agent_run", {"agent_name": "direct",
                                                             "duration_ms": 50.0})  # fmt: skip

        def settled(answer: Any) -> bool:
            return {a["agent_name"] for a in answer["agents"]} == {"received", "direct"}

        await eventually(base, "get_agent_stats", settled)
        await anyio.sleep(2)  # 20 export rounds: a loop would have sent the runs back by now
        answer = await eventually(base, "get_agent_stats", settled)
    runs = {a["agent_name"]: a["runs"] for a in answer["agents"]}
    # "received" came as OpenTelemetry and is not emitted again; "direct" is emitted once and
    # comes back with the server's own mark
    assert runs == {"received": 1, "direct": 1}
