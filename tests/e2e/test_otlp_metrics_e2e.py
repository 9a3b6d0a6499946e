"""OTLP metrics into a running `perf-mcp serve --transport http`, from the OpenTelemetry SDK's
MeterProvider and its OTLP/HTTP protobuf metric exporter (configured by the environment only).

The MCP tools then answer exact counts, and percentiles within 1% for scale-6 exponential
histograms (within the stated error of a coarser scale the SDK chose on its own).
"""

from __future__ import annotations

import gzip
import json
import math
import random
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import Aggregation, ExponentialBucketHistogramAggregation

from perf_mcp.core.sketch import coarse_error
from tests.e2e.mcp_process import http_server
from tests.e2e.test_http_access import FULL, READ, bearer, client, structured
from tests.server.mcp_calls import their_tools

pytestmark = pytest.mark.anyio
HOUR_S = 3600_000  # a reader interval long enough that only force_flush exports
SKETCH = 0.0055  # 2**(1/128) - 1, the scale-6 buckets' relative error


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("otlp-metrics")
    with http_server(tmp / "perf.db", PERF_MCP_TOKEN=FULL, PERF_MCP_READ_TOKEN=READ) as (url, _):
        yield url.removesuffix("/mcp")


def meter_provider(
    base: str,
    monkeypatch: pytest.MonkeyPatch,
    delta: bool = True,
    aggregation: Aggregation | None = None,
) -> MeterProvider:
    """What an instrumented app builds: the endpoint and token from its environment."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", base)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer {FULL}")
    temporality = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
    exporter = OTLPMetricExporter(
        preferred_temporality={Histogram: temporality},
        preferred_aggregation={Histogram: aggregation} if aggregation else None,
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=HOUR_S)
    return MeterProvider(metric_readers=[reader])


async def ask(base: str, tool: str, **arguments: Any) -> Any:
    async with client(f"{base}/mcp", READ) as connected:
        return await structured(connected, tool, arguments)


def exact(values: list[float], q: float) -> float:
    return sorted(values)[max(math.ceil(q * len(values) - 1e-9) - 1, 0)]


def close(answer: float, truth: float, rel: float) -> bool:
    """Within ``rel`` of the truth, once the answer's rounding to 3 significant digits (the
    tools' answers) is taken back."""
    rounding = 0.5 * 10 ** (math.floor(math.log10(abs(answer))) - 2)
    return abs(answer - truth) <= rel * truth + rounding


def latencies_ms(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.lognormvariate(3.5, 0.9) for _ in range(n)]


async def endpoint(base: str, route: str) -> dict[str, Any]:
    answer = await ask(base, "get_endpoint_stats", window="15m")
    (row,) = [e for e in answer["endpoints"] if e["endpoint"] == route]
    return row  # type: ignore[no-any-return]


def record_requests(provider: MeterProvider, route: str, values_ms: list[float]) -> None:
    duration = provider.get_meter("app").create_histogram("http.server.request.duration", "s")
    for i, ms in enumerate(values_ms):
        status = 500 if i % 10 == 0 else 200
        attributes = {"http.route": route, "http.request.method": "GET"}
        duration.record(ms / 1000, {**attributes, "http.response.status_code": status})


async def test_scale_6_exponential_deltas_answer_exact_counts_and_1_percent(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = latencies_ms(3000, seed=1)
    aggregation = ExponentialBucketHistogramAggregation(max_size=4096, max_scale=6)
    provider = meter_provider(server, monkeypatch, aggregation=aggregation)
    record_requests(provider, "/exp/{id}", values[:1000])
    provider.force_flush()
    record_requests(provider, "/exp/{id}", values[1000:])
    provider.shutdown()

    row = await endpoint(server, "/exp/{id}")
    assert (row["count"], row["error_count"]) == (3000, 100 + 200)  # every 10th of each batch
    assert close(row["min_ms"], min(values), 0)
    assert close(row["max_ms"], max(values), 0)
    for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
        assert close(row[name], exact(values, q), SKETCH), (name, row[name], exact(values, q))


async def test_the_sdk_default_160_buckets_stay_within_the_stated_error(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = latencies_ms(2000, seed=2) + [2000.0, 5.0]  # wide enough to make the SDK downscale
    provider = meter_provider(
        server, monkeypatch, aggregation=ExponentialBucketHistogramAggregation()
    )
    record_requests(provider, "/coarse", values)
    provider.shutdown()

    row = await endpoint(server, "/coarse")
    assert row["count"] == len(values)
    bound = coarse_error(4)  # 12 ms .. 1.3 s reached scale 4 (OTLP-NOTES); 5 ms .. 2 s too
    for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
        assert close(row[name], exact(values, q), bound), (name, row[name], exact(values, q))


async def test_cumulative_explicit_buckets_count_each_request_once_across_a_reset(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each export carries everything since start: perf-mcp adds only the difference, and a
    restarted app (a new start time) counts from zero again."""
    first = meter_provider(server, monkeypatch, delta=False)
    record_requests(first, "/cumulative", [20.0] * 30)
    first.force_flush()
    record_requests(first, "/cumulative", [40.0] * 20)
    first.force_flush()
    first.force_flush()  # nothing new: adds nothing
    first.shutdown()
    restarted = meter_provider(server, monkeypatch, delta=False)
    record_requests(restarted, "/cumulative", [60.0] * 5)
    restarted.shutdown()

    row = await endpoint(server, "/cumulative")
    assert row["count"] == 55
    assert row["status_counts"] == {"2xx": 55 - 3 - 2 - 1, "5xx": 6}


async def test_genai_durations_and_tokens_answer_as_runs_and_tool_calls(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = meter_provider(server, monkeypatch)
    meter = provider.get_meter("agents")
    duration = meter.create_histogram("gen_ai.client.operation.duration", "s")
    tokens = meter.create_histogram("gen_ai.client.token.usage", "{token}")
    run = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"}
    run |= {"gen_ai.request.model": "gpt-4o", "gen_ai.provider.name": "openai"}
    for seconds in (1.5, 2.5, 3.5):
        duration.record(seconds, run)
        tokens.record(1000, {**run, "gen_ai.token.type": "input"})
        tokens.record(101, {**run, "gen_ai.token.type": "output"})
    duration.record(9.0, {**run, "error.type": "timeout"})
    tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}
    for seconds in (0.1, 0.2):
        duration.record(seconds, tool)
    duration.record(0.7, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"})
    provider.shutdown()

    (planner,) = (await ask(server, "get_agent_stats", window="15m"))["agents"]
    assert (planner["runs"], planner["failures"]) == (4, 1)
    assert (planner["input_tokens"], planner["output_tokens"]) == (3000, 303)
    assert close(planner["max_ms"], 9000, 0)
    tools = their_tools(await ask(server, "get_tool_stats", window="15m"))
    assert [(name, t["calls"]) for name, t in tools.items()] == [("search", 2)]
    health = await ask(server, "health_check")
    (otlp,) = [c for c in health["components"] if c["name"] == "otlp"]
    assert "GenAI duration of a model call" in otlp["detail"]


def json_export(route: str, count: int) -> dict[str, Any]:
    """OTLP JSON of one delta exponential point, as a non-Python emitter writes it."""
    now = time.time_ns()
    point = {
        "startTimeUnixNano": str(now - 10**9),
        "timeUnixNano": str(now),
        "count": str(count),
        "sum": 0.02 * count,
        "scale": 6,
        "zeroCount": "0",
        "positive": {"offset": -362, "bucketCounts": [str(count)]},  # 20 ms = 2**(-361.2/64) s
        "attributes": [
            {"key": "http.route", "value": {"stringValue": route}},
            {"key": "http.response.status_code", "value": {"intValue": "200"}},
        ],
    }
    histogram = {"aggregationTemporality": 1, "dataPoints": [point]}
    metric = {"name": "http.server.request.duration", "unit": "s"}
    metric["exponentialHistogram"] = histogram  # type: ignore[assignment]
    return {"resourceMetrics": [{"scopeMetrics": [{"metrics": [metric]}]}]}


async def test_json_gzip_and_bad_bodies_get_the_otlp_answers(server: str) -> None:
    url = f"{server}/v1/metrics"
    json_type = {"Content-Type": "application/json"}
    bad_point = json_export("/json-metrics", 3)
    point = bad_point["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]
    point["exponentialHistogram"]["dataPoints"][0]["count"] = "4"  # buckets hold 3
    async with httpx.AsyncClient(headers=bearer(FULL)) as http:
        plain = await http.post(url, json=json_export("/json-metrics", 3), headers=json_type)
        zipped = await http.post(
            url,
            content=gzip.compress(json.dumps(json_export("/json-metrics", 2)).encode()),
            headers={**json_type, "Content-Encoding": "gzip"},
        )
        partial = await http.post(url, json=bad_point, headers=json_type)
        malformed = await http.post(
            url, content=b"\x0a\xff\xff", headers={"Content-Type": "application/x-protobuf"}
        )
        wrong_type = await http.post(url, content=b"x", headers={"Content-Type": "text/plain"})
        read_token = await http.post(url, json={}, headers={**json_type, **bearer(READ)})
    assert (plain.status_code, plain.json(), zipped.status_code) == (200, {}, 200)
    assert partial.json()["partialSuccess"]["rejectedDataPoints"] == "1"
    assert "do not add up to its count" in partial.json()["partialSuccess"]["errorMessage"]
    assert [malformed.status_code, wrong_type.status_code, read_token.status_code] == [
        400,
        415,
        403,
    ]
    message = Status.FromString(malformed.content).message
    assert message.startswith("the body is not an ExportMetricsServiceRequest")
    row = await endpoint(server, "/json-metrics")
    assert row["count"] == 5
    assert close(row["p50_ms"], 20.0, SKETCH)
