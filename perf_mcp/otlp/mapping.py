"""OpenTelemetry spans to perf-mcp records: HTTP server spans, GenAI agent runs and tool calls.

``plan`` is pure: it reads one ExportTraceServiceRequest and says what to record and what it
could not use, by reason. ``record`` hands the plan to the Monitor's public record methods,
so every value meets the same checks as any other record. Old and current semantic-convention
names are both read (emitters in the field still send the old ones).

A ``service.version`` resource attribute a service did not send before is a deploy: with a
``VersionWatch``, ``record`` marks it once (``Monitor.mark_deploy``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from perf_mcp import telemetry
from perf_mcp.core.validation import MAX_TOOL_CALLS
from perf_mcp.integrations.asgi import UNMATCHED
from perf_mcp.monitor import Monitor
from perf_mcp.otlp.stats import (
    IGNORED,
    INVALID,
    MODEL_CALL_ALONE,
    NO_AGENT,
    NO_END,
    NO_ROUTE,
    NO_STATUS,
    NO_TOOL,
    NOT_MAPPED,
    OTHER_MCP,
    RECORDED_HERE,
)
from perf_mcp.otlp.versions import VersionWatch

Attrs = Mapping[str, str | bool | int | float]

MODEL_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
TOKENS = {  # perf-mcp field: span attributes, current name first
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
    "cache_read_tokens": ("gen_ai.usage.cache_read.input_tokens",),
    "cache_write_tokens": (
        "gen_ai.usage.cache_write.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
    ),
}
MAX_DEPTH = 64  # parent links followed to find a span's run (a cycle in bad input stops here)


@dataclass(frozen=True)
class SpanView:
    """What the mapping reads of one span: ids, name, kind, times, flat attributes."""

    span_id: bytes
    parent_id: bytes
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attrs: Attrs
    error: str | None  # error.type, the exception's type, or "error"; None: it succeeded

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    @property
    def end_s(self) -> float:
        return self.end_ns / 1e9

    def first(self, *names: str) -> str | bool | int | float | None:
        for name in names:
            if name in self.attrs:
                return self.attrs[name]
        return None

    def text(self, *names: str) -> str | None:
        value = self.first(*names)
        return str(value) if value is not None and value != "" else None


@dataclass
class Plan:
    """What one export becomes: record calls, and the spans not used, by reason."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    runs: list[tuple[dict[str, Any], int]] = field(default_factory=list)  # fields, spans used
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    unused: Counter[str] = field(default_factory=Counter)
    spans: int = 0
    versions: list[tuple[str, str]] = field(default_factory=list)  # (service, service.version)


@dataclass
class Outcome:
    """What recording a plan did: records made by kind, spans or points not used by reason."""

    recorded: Counter[str] = field(default_factory=Counter)
    unused: Counter[str] = field(default_factory=Counter)
    spans: int = 0
    points: int = 0  # metric data points
    example: str | None = None  # the first refusal's message, for the answer and health

    @property
    def rejected(self) -> int:
        return sum(n for reason, n in self.unused.items() if reason not in IGNORED)


def spans_of(export: ExportTraceServiceRequest) -> Iterator[SpanView]:
    """Every span of an export, flattened."""
    for resource_spans in export.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield view(span)


def versions_of(export: ExportTraceServiceRequest) -> list[tuple[str, str]]:
    """The (service.name, service.version) pairs of an export's resources, each once."""
    found: dict[tuple[str, str], None] = {}
    for resource_spans in export.resource_spans:
        attrs = flat(resource_spans.resource.attributes)
        version = attrs.get("service.version")
        if version not in (None, ""):
            found[str(attrs.get("service.name", "")), str(version)] = None
    return list(found)


def view(span: Span) -> SpanView:
    attrs = flat(span.attributes)
    return SpanView(
        span.span_id,
        span.parent_span_id,
        span.name,
        span.kind,
        span.start_time_unix_nano,
        span.end_time_unix_nano,
        attrs,
        _error(span, attrs),
    )


def flat(pairs: Any) -> dict[str, str | bool | int | float]:
    """Scalar attributes as plain values (arrays, maps and bytes are not read)."""
    out: dict[str, str | bool | int | float] = {}
    for pair in pairs:
        assert isinstance(pair, KeyValue)
        kind = pair.value.WhichOneof("value")
        if kind in ("string_value", "bool_value", "int_value", "double_value"):
            out[pair.key] = getattr(pair.value, kind)
    return out


def _error(span: Span, attrs: Attrs) -> str | None:
    error_type = attrs.get("error.type")
    if error_type not in (None, "", "_OTHER"):
        return str(error_type)
    if span.status.code != Status.STATUS_CODE_ERROR:
        return None
    for event in span.events:
        exception = flat(event.attributes).get("exception.type")
        if event.name == "exception" and exception:
            return str(exception)
    return "error"


def classify(span: SpanView) -> str:
    """ "agent_run", "tool_call", "model_call", "request", or the reason it is not used."""
    if span.attrs.get(telemetry.RECORDED_BY) == telemetry.PROCESS_MARK:
        return RECORDED_HERE
    operation = span.text("gen_ai.operation.name")
    mcp_method = span.text("mcp.method.name")
    if operation == "invoke_agent" or (span.name == "agent run" and "agent_name" in span.attrs):
        return "agent_run"  # the second: pydantic-ai's spans before the GenAI names
    if operation == "execute_tool" or "gen_ai.tool.name" in span.attrs:
        return "tool_call"
    if mcp_method is not None:
        return "tool_call" if mcp_method == "tools/call" else OTHER_MCP
    if operation in MODEL_OPERATIONS:
        return "model_call"
    if span.kind == Span.SPAN_KIND_SERVER and span.first("http.request.method", "http.method"):
        return "request"
    return NOT_MAPPED


def plan(export: ExportTraceServiceRequest) -> Plan:
    """What to record for an export, each span used once."""
    result = Plan(versions=versions_of(export))
    spans = list(spans_of(export))
    result.spans = len(spans)
    kinds = {}
    by_id = {}
    for span in spans:
        kind = classify(span) if span.end_ns >= span.start_ns else NO_END
        kinds[span.span_id] = kind
        by_id[span.span_id] = span
    # Each run's children of the batch: tool calls nest into it, model calls give its tokens.
    children: dict[bytes, list[SpanView]] = {}
    for span in spans:
        kind = kinds[span.span_id]
        if kind in ("tool_call", "model_call"):
            run = _enclosing_run(span, by_id, kinds)
            if run is not None:
                children.setdefault(run, []).append(span)
            elif kind == "model_call":
                result.unused[MODEL_CALL_ALONE] += 1
            else:
                _add(result, "tool_call", tool_call(span))
        elif kind == "request":
            _add(result, kind, request(span))
        elif kind != "agent_run":
            result.unused[kind] += 1
    for span in spans:
        if kinds[span.span_id] == "agent_run":
            _add_run(result, span, children.get(span.span_id, []))
    return result


def _enclosing_run(span: SpanView, by_id: Mapping[bytes, SpanView], kinds: Any) -> bytes | None:
    parent = span.parent_id
    for _ in range(MAX_DEPTH):
        if not parent or parent not in by_id:
            return None
        if kinds[parent] == "agent_run":
            return parent
        parent = by_id[parent].parent_id
    return None


def _add(result: Plan, kind: str, mapped: dict[str, Any] | str) -> None:
    if isinstance(mapped, str):
        result.unused[mapped] += 1
    elif kind == "request":
        result.requests.append(mapped)
    else:
        result.tool_calls.append(mapped)


def request(span: SpanView) -> dict[str, Any] | str:
    """A request sample of an HTTP server span, or why it cannot be one."""
    status = _integer(span.first("http.response.status_code", "http.status_code"))
    if status is None:
        if span.error is None:
            return NO_STATUS
        status = 500  # the app raised before it answered: the server sent a 500
    endpoint = endpoint_of(span.text("http.route"), status) or span.text("url.path")
    if endpoint is None:
        target = span.text("http.target")
        endpoint = target.partition("?")[0] if target else None
    if not endpoint:
        return NO_ROUTE
    return {
        "endpoint": endpoint,
        "method": span.text("http.request.method", "http.method"),
        "status_code": status,
        "duration_ms": span.duration_ms,
        "request_bytes": _integer(
            span.first("http.request.body.size", "http.request_content_length")
        ),
        "response_bytes": _integer(
            span.first("http.response.body.size", "http.response_content_length")
        ),
        "timestamp": span.end_s,
    }


def endpoint_of(route: str | None, status: int) -> str | None:
    """The route; a 404 without one matched no route and is grouped as the ASGI middleware
    groups it (``__unmatched__``: raw paths of scanners are unbounded); else None."""
    return route or (UNMATCHED if status == 404 else None)


def tool_call(span: SpanView, agent_name: str | None = None) -> dict[str, Any] | str:
    """A tool call of an execute_tool or MCP tools/call span, or why it cannot be one."""
    name = span.text("gen_ai.tool.name")
    if name is None and span.name.startswith("tools/call "):
        name = span.name.removeprefix("tools/call ").strip() or None
    if name is None:
        return NO_TOOL
    result = span.first("gen_ai.tool.call.result")  # opt-in content: its size is a context's cost
    return {
        "tool_name": name,
        "duration_ms": span.duration_ms,
        "success": span.error is None,
        "error_type": span.error,
        "agent_name": agent_name or span.text("gen_ai.agent.name"),
        "timestamp": span.end_s,
        "result_chars": len(result) if isinstance(result, str) else None,
    }


def _add_run(result: Plan, span: SpanView, children: list[SpanView]) -> None:
    name = span.text("gen_ai.agent.name", "agent_name")
    if name is None and span.name.startswith("invoke_agent "):
        name = span.name.removeprefix("invoke_agent ").strip() or None
    calls = [c for c in children if classify(c) == "tool_call"]
    models = [c for c in children if classify(c) == "model_call"]
    if name is None:
        result.unused[NO_AGENT] += 1 + len(calls)
        result.unused[MODEL_CALL_ALONE] += len(models)
        return
    nested = []
    for call in calls[:MAX_TOOL_CALLS]:
        mapped = tool_call(call)
        if isinstance(mapped, str):
            result.unused[mapped] += 1
        else:
            call_id = call.text("gen_ai.tool.call.id")
            nested.append(mapped | {"agent_name": None, "call_id": call_id})
    for call in calls[MAX_TOOL_CALLS:]:  # more than a run may nest: recorded on their own
        _add(result, "tool_call", tool_call(call, name))
    counted = [c for c in models if any(n in c.attrs for names in TOKENS.values() for n in names)]
    fields = {
        "agent_name": name,
        "duration_ms": span.duration_ms,
        "start_time": span.start_ns / 1e9,
        "end_time": span.end_s,
        "success": span.error is None,
        "error_type": span.error,
        "model": _first_text([span, *models], "gen_ai.request.model", "gen_ai.response.model"),
        "provider": _first_text([span, *models], "gen_ai.provider.name", "gen_ai.system"),
        "run_id": span.span_id.hex() or None,
        "conversation_id": span.text("gen_ai.conversation.id"),
        "tool_calls": nested,
        **_usage(counted or [span]),  # tokens counted once: the model calls', else the run's
    }
    result.runs.append((fields, 1 + len(nested) + len(models)))


def _usage(spans: list[SpanView]) -> dict[str, Any]:
    usage: dict[str, Any] = dict.fromkeys(TOKENS, 0)
    cost = 0.0
    for span in spans:
        for key, names in TOKENS.items():
            usage[key] += _integer(span.first(*names)) or 0
        cost += _number(span.first("operation.cost")) or 0.0
    return usage | {"cost_usd": cost}


def _first_text(spans: list[SpanView], *names: str) -> str | None:
    return next((t for s in spans if (t := s.text(*names)) is not None), None)


def _integer(value: object) -> int | None:
    """An integer attribute; some emitters send numbers as strings or floats."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def record(prepared: Plan, monitor: Monitor, versions: VersionWatch | None = None) -> Outcome:
    """Record a plan through the Monitor's record methods; a record the Monitor refuses is
    counted with its reason and the rest are kept. With ``versions``, a service's new
    service.version is marked as a deploy. Nothing recorded is emitted again as a span."""
    with telemetry.received():
        return _record(prepared, monitor, versions)


def _record(prepared: Plan, monitor: Monitor, versions: VersionWatch | None) -> Outcome:
    outcome = Outcome(unused=Counter(prepared.unused), spans=prepared.spans)
    for service, version in prepared.versions:
        if versions is not None and versions.new(service, version):
            _mark_deploy(outcome, monitor, service, version)
    if prepared.requests:
        try:
            outcome.recorded["request"] += monitor.record_requests(prepared.requests)
        except ValueError:  # all or nothing: find the ones it refuses
            for sample in prepared.requests:
                _one(outcome, "request", 1, monitor.record_requests, [sample])
    for fields, spans in prepared.runs:
        _one(outcome, "agent_run", spans, monitor.record_agent_run, **fields)
    for call in prepared.tool_calls:
        _one(outcome, "tool_call", 1, monitor.record_tool_call, **call)
    return outcome


def _mark_deploy(outcome: Outcome, monitor: Monitor, service: str, version: str) -> None:
    note = f"new service.version of {service[:100] or 'a service'}, seen in OTLP spans"
    try:
        monitor.mark_deploy(version, note)
    except ValueError as exc:  # a version perf-mcp refuses (too long): said, not marked
        outcome.example = outcome.example or f"service.version not marked as a deploy: {exc}"
    else:
        outcome.recorded["deploy"] += 1


def _one(outcome: Outcome, kind: str, spans: int, method: Any, *args: Any, **kw: Any) -> None:
    try:
        method(*args, **kw)
    except ValueError as exc:
        outcome.unused[INVALID[kind]] += spans
        outcome.example = outcome.example or f"{INVALID[kind]}: {exc}"
    else:
        outcome.recorded[kind] += 1
