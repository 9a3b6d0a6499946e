"""Spans/s and histogram points/s ingested over OTLP/HTTP, next to the same data through the
`record_*` MCP tools, by one running `perf-mcp serve --transport http` (started through the CLI).

The data is made by the OpenTelemetry SDK and encoded by its OTLP exporter's encoders
(binary protobuf, what the Python, JS and Go exporters send by default):

- traces: HTTP server spans over ``--routes`` route templates (2% 5xx, 3% 404), agent runs of
  10 agents with 1-3 `chat` spans (tokens) and 0-4 `execute_tool` spans nested, and lone MCP
  `tools/call` server spans; batches of at most 512 spans (the batch processor's default), a
  run never split across two batches;
- metrics: `http.server.request.duration` delta histograms (the SDK's explicit buckets in
  seconds), one point per route and status per export, 5-60 samples a point.

The same units go through the tools, batched as the exports are: per span batch one
`record_requests` (its requests), one `record_agent_run` per run (its tool calls nested) and one
`record_tool_call` per lone tool call; per metrics export one `record_requests` with the
samples its points hold. Names carry the path's prefix (`o` OTLP, `t` tools), so at the end the
MCP query tools count each path's requests, runs and tool calls: they must equal what was sent,
exactly. Each round runs the four phases, alternating the order; ``--senders`` clients send at
once (HTTP POSTs, or MCP sessions). Figures: items/s (spans; histogram points and the samples
they hold) and the server's CPU per 1,000 items, steadier than rates on a shared machine.

    python bench/otlp.py [--rounds 5] [--runs 2000] [--requests 40000] [--exports 25]
    python bench/otlp.py --quick    # CI: 3 small rounds, well under a minute
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import psutil
from mcp import Client
from mcp_latency import free_port, http_server
from mcp_load import cpu_seconds, session
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer, set_span_in_context

BATCH_SPANS = 512  # OTEL_BSP_MAX_EXPORT_BATCH_SIZE's default
AGENTS, TOOLS, MCP_TOOLS = 10, 12, 5
SECONDS_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
MS = 1_000_000  # ns
PROTOBUF = {"content-type": "application/x-protobuf"}
SENT = Counter[tuple[str, str]]  # (path prefix, what) -> how many were sent


def route(prefix: str, i: int) -> tuple[str, str]:
    """Route template and method of route ``i``: several services, ids and verbs."""
    method = ("GET", "GET", "POST", "PUT", "DELETE")[i % 5]
    return f"/{prefix}/svc{i % 8}/res{i}/{{id}}", method


def status(rng: random.Random) -> int:
    draw = rng.random()
    return 500 if draw < 0.02 else 404 if draw < 0.05 else 200


# ---------------------------------------------------------------- traces


def trace_units(prefix: str, requests: int, runs: int, routes: int, seed: int) -> list[Any]:
    """The units of one round, shuffled: ("request", ...), ("run", ...), ("tool", ...)."""
    rng = random.Random(seed)
    units: list[Any] = []
    for _ in range(requests):
        path, method = route(prefix, rng.randrange(routes))
        units.append(("request", path, method, status(rng), rng.lognormvariate(3, 1)))
    for i in range(runs):
        chats = [(rng.randint(200, 4000), rng.randint(20, 800)) for _ in range(rng.randint(1, 3))]
        tools = [
            (f"{prefix}_tool{rng.randrange(TOOLS)}", rng.lognormvariate(4, 1), rng.random() < 0.05)
            for _ in range(rng.randint(0, 4))
        ]
        failed = rng.random() < 0.03
        units.append(
            ("run", f"{prefix}-agent{i % AGENTS}", rng.lognormvariate(7, 0.7), failed, chats, tools)
        )
    for _ in range(runs // 2):
        units.append(("tool", f"{prefix}_mcp{rng.randrange(MCP_TOOLS)}", rng.lognormvariate(3, 1)))
    rng.shuffle(units)
    return units


def spans_of(tracer: Tracer, unit: Any, end: int) -> None:
    """Make ``unit``'s spans, as the FastAPI, pydantic-ai and MCP SDK instrumentations do."""
    kind = unit[0]
    if kind == "request":
        _, path, method, code, ms = unit
        attrs = {
            "http.request.method": method,
            "http.route": path,
            "http.response.status_code": code,
            "url.scheme": "http",
        }
        tracer.start_span(
            f"{method} {path}", None, SpanKind.SERVER, attrs, start_time=end - int(ms * MS)
        ).end(end_time=end)
    elif kind == "tool":
        _, tool, ms = unit
        attrs = {
            "mcp.method.name": "tools/call",
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool,
        }
        tracer.start_span(
            f"tools/call {tool}", None, SpanKind.SERVER, attrs, start_time=end - int(ms * MS)
        ).end(end_time=end)
    else:
        _, agent, ms, failed, chats, tools = unit
        attrs = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent,
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.provider.name": "openai",
        }
        run = tracer.start_span(
            f"invoke_agent {agent}", None, SpanKind.INTERNAL, attrs, start_time=end - int(ms * MS)
        )
        inside = set_span_in_context(run)
        for tokens_in, tokens_out in chats:
            chat = {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": tokens_in,
                "gen_ai.usage.output_tokens": tokens_out,
            }
            tracer.start_span(
                "chat gpt-4o", inside, SpanKind.CLIENT, chat, start_time=end - 3 * MS
            ).end(end_time=end - 2 * MS)
        for i, (tool, tool_ms, tool_failed) in enumerate(tools):
            call = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": tool,
                "gen_ai.tool.call.id": f"call_{i}",
            }
            span = tracer.start_span(
                f"execute_tool {tool}",
                inside,
                SpanKind.INTERNAL,
                call,
                start_time=end - int(tool_ms * MS),
            )
            if tool_failed:
                span.set_attribute("error.type", "ToolError")
                span.set_status(Status(StatusCode.ERROR))
            span.end(end_time=end - MS)
        if failed:
            run.set_attribute("error.type", "TimeoutError")
            run.set_status(Status(StatusCode.ERROR))
        run.end(end_time=end)


def span_count(unit: Any) -> int:
    return 1 + len(unit[4]) + len(unit[5]) if unit[0] == "run" else 1


def batches(units: list[Any]) -> Iterator[list[Any]]:
    """Units in batches of at most BATCH_SPANS spans; a run's spans stay in one batch."""
    batch: list[Any] = []
    size = 0
    for unit in units:
        if size + span_count(unit) > BATCH_SPANS:
            yield batch
            batch, size = [], 0
        batch.append(unit)
        size += span_count(unit)
    if batch:
        yield batch


def trace_bodies(batched: list[list[Any]]) -> list[bytes]:
    """Each batch's ExportTraceServiceRequest as the SDK's OTLP/HTTP exporter serializes it."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    end = time.time_ns()
    bodies = []
    for batch in batched:
        memory.clear()
        for unit in batch:
            spans_of(tracer, unit, end)
        finished: list[ReadableSpan] = list(memory.get_finished_spans())
        bodies.append(encode_spans(finished).SerializeToString())
    provider.shutdown()
    return bodies


def tool_calls_of(batched: list[list[Any]], timestamp: float) -> list[tuple[str, dict[str, Any]]]:
    """The same batches as record_* tool calls."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for batch in batched:
        requests = [
            {
                "endpoint": u[1],
                "method": u[2],
                "status_code": u[3],
                "duration_ms": u[4],
                "timestamp": timestamp,
            }
            for u in batch
            if u[0] == "request"
        ]
        if requests:
            calls.append(("record_requests", {"requests": requests}))
        for u in batch:
            if u[0] == "tool":
                calls.append(
                    (
                        "record_tool_call",
                        {"tool_name": u[1], "duration_ms": u[2], "timestamp": timestamp},
                    )
                )
            elif u[0] == "run":
                _, agent, ms, failed, chats, tools = u
                calls.append(
                    (
                        "record_agent_run",
                        {
                            "agent_name": agent,
                            "duration_ms": ms,
                            "success": not failed,
                            "error_type": "TimeoutError" if failed else None,
                            "model": "gpt-4o",
                            "provider": "openai",
                            "end_time": timestamp,
                            "input_tokens": sum(c[0] for c in chats),
                            "output_tokens": sum(c[1] for c in chats),
                            "tool_calls": [
                                {
                                    "tool_name": t,
                                    "duration_ms": t_ms,
                                    "success": not bad,
                                    "error_type": "ToolError" if bad else None,
                                    "call_id": f"call_{i}",
                                }
                                for i, (t, t_ms, bad) in enumerate(tools)
                            ],
                        },
                    )
                )
    return calls


def sent_of(prefix: str, units: list[Any]) -> SENT:
    sent: SENT = Counter()
    for u in units:
        if u[0] == "request":
            sent[prefix, "requests"] += 1
        elif u[0] == "tool":
            sent[prefix, "tool calls"] += 1
        else:
            sent[prefix, "runs"] += 1
            sent[prefix, "tool calls"] += len(u[5])
            sent[prefix, "tokens"] += sum(c[0] + c[1] for c in u[4])
    return sent


# ---------------------------------------------------------------- metrics


def metric_exports(
    prefix: str, exports: int, routes: int, seed: int
) -> tuple[list[bytes], list[tuple[str, dict[str, Any]]], list[int]]:
    """``exports`` delta exports of http.server.request.duration made by the SDK, and the
    same samples as record_requests batches; (bodies, tool calls, points per body)."""
    rng = random.Random(seed)
    reader = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})
    provider = MeterProvider(
        metric_readers=[reader], resource=Resource.create({"service.name": "shop"})
    )
    duration = provider.get_meter("bench").create_histogram(
        "http.server.request.duration", unit="s", explicit_bucket_boundaries_advisory=SECONDS_BOUNDS
    )
    bodies: list[bytes] = []
    calls: list[tuple[str, dict[str, Any]]] = []
    points: list[int] = []
    for _ in range(exports):
        requests, streams = [], set()
        for i in range(routes):
            path, method = route(prefix, i)
            for _ in range(rng.randint(5, 60)):
                code, seconds = status(rng), rng.lognormvariate(-3.5, 1)
                attrs = {
                    "http.route": path,
                    "http.request.method": method,
                    "http.response.status_code": code,
                }
                duration.record(seconds, attrs)
                streams.add((path, code))
                requests.append(
                    {
                        "endpoint": path,
                        "method": method,
                        "status_code": code,
                        "duration_ms": seconds * 1000,
                    }
                )
        data = reader.get_metrics_data()
        assert data is not None
        bodies.append(encode_metrics(data).SerializeToString())
        calls.append(("record_requests", {"requests": requests}))
        points.append(len(streams))
    provider.shutdown()
    return bodies, calls, points


# ---------------------------------------------------------------- sending


async def send_all(
    jobs: list[Any],
    senders: int,
    send: Callable[[Any, Any], Awaitable[None]],
    connect: Callable[[], Any],
) -> None:
    """``senders`` connections take the jobs in turn until none is left."""
    todo = iter(jobs)

    async def sender() -> None:
        async with connect() as connection:
            for job in todo:
                await send(connection, job)

    async with anyio.create_task_group() as tasks:
        for _ in range(senders):
            tasks.start_soon(sender)


def otlp_phase(base: str, signal: str, bodies: list[bytes], senders: int) -> None:
    answer = ExportTraceServiceResponse if signal == "traces" else ExportMetricsServiceResponse

    async def send(http: httpx.AsyncClient, body: bytes) -> None:
        response = await http.post(f"{base}/v1/{signal}", content=body, headers=PROTOBUF)
        assert response.status_code == 200, response.content
        assert not answer.FromString(response.content).partial_success.error_message

    anyio.run(send_all, bodies, senders, send, lambda: httpx.AsyncClient(timeout=120))


def tools_phase(url: str, calls: list[tuple[str, dict[str, Any]]], senders: int) -> None:
    async def send(client: Client, call: tuple[str, dict[str, Any]]) -> None:
        result = await client.call_tool(*call)
        assert not result.is_error, result.content

    anyio.run(send_all, calls, senders, send, lambda: session(url))


def timed(server: psutil.Process, phase: Callable[[], None]) -> tuple[float, float]:
    """Seconds and server CPU seconds that ``phase`` took."""
    cpu, started = cpu_seconds(server), time.perf_counter()
    phase()
    return time.perf_counter() - started, cpu_seconds(server) - cpu


async def counted(url: str) -> SENT:
    """What the query tools count for each path prefix (o, t, om, tm)."""
    found: SENT = Counter()
    async with Client(url) as client:
        for tool, key in (
            ("get_endpoint_stats", "endpoints"),
            ("get_agent_stats", "agents"),
            ("get_tool_stats", "tools"),
        ):
            result = await client.call_tool(tool, {"window": "1h", "limit": 500})
            assert not result.is_error, result.content
            answer = result.structured_content
            assert not answer.get("truncated"), tool
            for row in answer[key]:
                if key == "endpoints":
                    found[row["endpoint"].split("/")[1], "requests"] += row["count"]
                elif key == "agents":
                    prefix = row["agent_name"].split("-")[0]
                    found[prefix, "runs"] += row["runs"]
                    found[prefix, "tokens"] += row["input_tokens"] + row["output_tokens"]
                elif "_" in row["tool_name"] and row["tool_name"].split("_")[0] in ("o", "t"):
                    found[row["tool_name"].split("_")[0], "tool calls"] += row["calls"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=40_000, help="HTTP spans a round")
    parser.add_argument("--runs", type=int, default=2_000, help="agent runs a round")
    parser.add_argument("--exports", type=int, default=25, help="metrics exports a round")
    parser.add_argument("--routes", type=int, default=80)
    parser.add_argument("--senders", type=int, default=4, help="concurrent clients")
    parser.add_argument("--quick", action="store_true", help="3 small rounds (CI)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.requests, args.runs, args.exports = 3, 4_000, 200, 3

    stamp = time.time()
    units = {p: trace_units(p, args.requests, args.runs, args.routes, 7) for p in "ot"}
    batched = {p: list(batches(u)) for p, u in units.items()}
    trace_in = trace_bodies(batched["o"])
    trace_tools = tool_calls_of(batched["t"], stamp)
    metric_in, _, points = metric_exports("om", args.exports, args.routes, 11)
    _, metric_tools, _ = metric_exports("tm", args.exports, args.routes, 11)
    spans = sum(span_count(u) for u in units["o"])
    samples = sum(len(c[1]["requests"]) for c in metric_tools)
    sent = sent_of("o", units["o"]) + sent_of("t", units["t"])
    sent["om", "requests"] = sent["tm", "requests"] = samples
    sent = Counter({key: n * args.rounds for key, n in sent.items()})
    print(
        f"a round: {spans:,} spans in {len(trace_in)} protobuf exports "
        f"({sum(map(len, trace_in)) / len(trace_in) / 1024:.0f} KiB each) = "
        f"{len(trace_tools)} record_* calls; {sum(points):,} histogram points holding "
        f"{samples:,} samples in {args.exports} exports = {args.exports} record_requests calls; "
        f"{args.senders} senders at once; {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} before"
    )

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        perf_mcp = [
            str(Path(sys.executable).with_name("perf-mcp")),
            "serve",
            "--db",
            str(Path(tmp) / "otlp.db"),
            "--transport",
            "http",
            "--port",
            str(port),
        ]
        with http_server(perf_mcp, port) as (url, pid):
            base, server = url.removesuffix("/mcp"), psutil.Process(pid)
            phases = {
                "spans, OTLP": (spans, lambda: otlp_phase(base, "traces", trace_in, args.senders)),
                "spans, tools": (spans, lambda: tools_phase(url, trace_tools, args.senders)),
                "samples, OTLP": (
                    samples,
                    lambda: otlp_phase(base, "metrics", metric_in, args.senders),
                ),
                "samples, tools": (samples, lambda: tools_phase(url, metric_tools, args.senders)),
            }
            rates: dict[str, list[float]] = {name: [] for name in phases}
            cpu: dict[str, list[float]] = {name: [] for name in phases}
            print(
                f"\n{'round':>5} {'phase':<15} {'items':>8} {'seconds':>8} {'items/s':>9} "
                f"{'cpu ms/1k':>9}"
            )
            for n in range(1, args.rounds + 1):
                order = list(phases) if n % 2 else list(reversed(phases))
                for name in order:
                    items, phase = phases[name]
                    seconds, cpu_s = timed(server, phase)
                    rates[name].append(items / seconds)
                    cpu[name].append(cpu_s * 1e6 / items)
                    print(
                        f"{n:>5} {name:<15} {items:>8,} {seconds:>8.2f} "
                        f"{items / seconds:>9,.0f} {cpu_s * 1e6 / items:>9.1f}"
                    )
            found = anyio.run(counted, url)

    print(f"\nmedian of {args.rounds} rounds (load average {os.getloadavg()[0]:.1f} after):")
    for kind, per in (("spans", 1.0), ("samples", sum(points) / samples)):
        otlp, tools = rates[f"{kind}, OTLP"], rates[f"{kind}, tools"]
        ratio = statistics.median(o / t for o, t in zip(otlp, tools, strict=True))
        cpu_ratio = statistics.median(cpu[f"{kind}, tools"]) / statistics.median(
            cpu[f"{kind}, OTLP"]
        )
        extra = (
            f" = {statistics.median(otlp) * per:,.0f} histogram points/s"
            if kind == "samples"
            else ""
        )
        print(
            f"  {kind}: OTLP {statistics.median(otlp):,.0f}/s{extra}; record_* tools "
            f"{statistics.median(tools):,.0f}/s; OTLP/tools {ratio:.2f}x "
            f"(by server CPU per item {cpu_ratio:.2f}x)"
        )
    keys = sorted(sent)
    exact = all(found[k] == sent[k] for k in keys)
    for key in keys:
        print(f"  {key[0]:>2} {key[1]:<10} sent {sent[key]:>9,} counted {found[key]:>9,}")
    print(f"counts: {'each exactly once' if exact else 'MISMATCH'}")
    if not exact:
        sys.exit(1)


if __name__ == "__main__":
    main()
