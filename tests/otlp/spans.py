"""Spans made by the real OpenTelemetry SDK, with the attributes real instrumentations set."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

MS = 1_000_000  # nanoseconds


def tracer(exporter: SpanExporter, batch: bool = False) -> tuple[TracerProvider, Tracer]:
    """A provider exporting to ``exporter``: in batches as apps do (sent at shutdown), or each
    span as it ends."""
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    return provider, provider.get_tracer("tests")


def span(
    tracer: Tracer,
    name: str,
    kind: SpanKind,
    attributes: dict[str, Any],
    duration_ms: float,
    parent: trace.Span | None = None,
    error: bool = False,
    end_ns: int | None = None,
) -> trace.Span:
    """One ended span, ``duration_ms`` long, ending now or at ``end_ns``."""
    end = end_ns or time.time_ns()
    context = trace.set_span_in_context(parent) if parent is not None else None
    made = tracer.start_span(
        name, context, kind, attributes, start_time=end - int(duration_ms * MS)
    )
    if error:
        made.set_status(Status(StatusCode.ERROR))
    made.end(end_time=end)
    return made


def http_request(
    tracer: Tracer, route: str, method: str, status: int, duration_ms: float, old: bool = False
) -> None:
    """An HTTP server span, with the current attribute names or the old ones."""
    names = ("http.method", "http.status_code") if old else (
        "http.request.method", "http.response.status_code"
    )  # fmt: skip
    attributes = {names[0]: method, names[1]: status, "http.route": route}
    span(tracer, f"{method} {route}", SpanKind.SERVER, attributes, duration_ms)


def agent_run(
    tracer: Tracer,
    agent: str,
    duration_ms: float,
    *,
    model: str = "gpt-4o",
    chats: Sequence[tuple[int, int, int]] = (),
    tools: Sequence[tuple[str, float, str | None]] = (),
    usage: tuple[int, int] | None = None,
    error_type: str | None = None,
) -> None:
    """An invoke_agent span with chat spans (input, output, cache-read tokens) and
    execute_tool spans (name, ms, error type) inside, as pydantic-ai and Logfire nest them."""
    end = time.time_ns()
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": agent,
        "gen_ai.request.model": model,
        "gen_ai.system": "openai",  # the older name of gen_ai.provider.name
    }
    if usage:  # the run's own total (rolled up from its model calls)
        attributes |= {
            "gen_ai.usage.input_tokens": usage[0],
            "gen_ai.usage.output_tokens": usage[1],
        }
    if error_type:
        attributes["error.type"] = error_type
    run = tracer.start_span(
        f"invoke_agent {agent}", None, SpanKind.INTERNAL, attributes,
        start_time=end - int(duration_ms * MS),
    )  # fmt: skip
    for tokens_in, tokens_out, cached in chats:
        span(tracer, f"chat {model}", SpanKind.CLIENT, {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": tokens_in, "gen_ai.usage.output_tokens": tokens_out,
            "gen_ai.usage.cache_read.input_tokens": cached,
        }, 5, run, end_ns=end - MS)  # fmt: skip
    for i, (tool, ms, error) in enumerate(tools):
        attrs = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool,
            "gen_ai.tool.call.id": f"call_{i}",
        }
        if error:
            attrs["error.type"] = error
        span(
            tracer, f"execute_tool {tool}", SpanKind.INTERNAL, attrs, ms, run, bool(error), end - MS
        )
    if error_type:
        run.set_status(Status(StatusCode.ERROR))
    run.end(end_time=end)


def mcp_tool_call(tracer: Tracer, tool: str, duration_ms: float, failed: bool = False) -> None:
    """The SERVER span an MCP SDK 2.x server makes for tools/call."""
    attributes = {
        "mcp.method.name": "tools/call",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
    }
    if failed:
        attributes["error.type"] = "tool_error"
    span(tracer, f"tools/call {tool}", SpanKind.SERVER, attributes, duration_ms, error=failed)


def export_of(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """The ExportTraceServiceRequest the SDK's OTLP exporters send for ``spans``."""
    return encode_spans(spans)


def recorded(build: Any) -> ExportTraceServiceRequest:
    """Run ``build(tracer)`` and return the export of the spans it made."""
    memory = InMemorySpanExporter()
    provider, made = tracer(memory)
    build(made)
    provider.shutdown()
    return export_of(memory.get_finished_spans())


def versioned_export(service: str, version: str) -> ExportTraceServiceRequest:
    """An export of one HTTP request from ``service`` running ``version`` (service.version)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.version": version})
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    http_request(provider.get_tracer("tests"), "/pay", "POST", 200, 5.0)
    provider.shutdown()
    return export_of(memory.get_finished_spans())
