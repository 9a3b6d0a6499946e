"""OpenTelemetry metrics to perf-mcp records: HTTP server, GenAI and MCP duration histograms,
GenAI token usage; older and current names alike.

``plan`` reads one ExportMetricsServiceRequest: each histogram point becomes the samples of its
buckets (``metrics_points``: exact counts, min and max; values within the buckets' accuracy),
with the route, method and status (HTTP), or the agent or tool (GenAI, MCP tools/call) of its
attributes. Token usage (the older ``gen_ai.client.token.usage`` histogram, or the current
``gen_ai.client.inference.usage.*`` counters) adds to the invoke_agent runs of the same
attributes in the same export. ``record`` hands the samples to the Monitor's public record
methods.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from perf_mcp import telemetry
from perf_mcp.core.sketch import MS_PER_S
from perf_mcp.monitor import Monitor
from perf_mcp.otlp.mapping import Attrs, Outcome, endpoint_of, flat
from perf_mcp.otlp.metrics_points import (
    Point,
    Streams,
    durations,
    explicit_point,
    exponential_point,
    histogram,
    sum_point,
)
from perf_mcp.otlp.stats import (
    BASELINE,
    INVALID,
    METRIC_NOT_MAPPED,
    MODEL_METRIC,
    NO_AGENT,
    NO_ROUTE,
    NO_STATUS,
    NO_TOOL,
    NOT_COUNTER,
    NOT_HISTOGRAM,
    OTHER_MCP,
    TOKENS_ALONE,
    TOO_MANY_SAMPLES,
    UNKNOWN_UNIT,
)

HTTP_DURATION = {"http.server.request.duration": "s", "http.server.duration": "ms"}  # default unit
# GenAI and MCP durations (older and current names): the operation each implies, None when its
# points' gen_ai.operation.name says (model calls are not kept: runs and tool calls are).
GENAI_DURATION = {
    "gen_ai.client.operation.duration": None,
    "gen_ai.server.request.duration": None,
    "gen_ai.client.inference.duration": None,
    "gen_ai.invoke_agent.duration": "invoke_agent",
    "gen_ai.execute_tool.duration": "execute_tool",
    "mcp.server.operation.duration": None,  # mcp.method.name tools/call: a tool call
}
TOKEN_USAGE = "gen_ai.client.token.usage"  # a histogram; gen_ai.token.type says which tokens
TOKEN_TYPES = {"input": "input_tokens", "output": "output_tokens", "completion": "output_tokens"}
PREFIX = "gen_ai.client.inference.usage."  # the current draft's counters, one per kind
TOKEN_COUNTERS = {
    f"{PREFIX}input_tokens": "input_tokens",
    f"{PREFIX}output_tokens": "output_tokens",
    f"{PREFIX}cache_read.input_tokens": "cache_read_tokens",
    f"{PREFIX}cache_write.input_tokens": "cache_write_tokens",
}  # ...reasoning.output_tokens is not read: reasoning tokens are output tokens already
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
MS_PER_UNIT = {"s": MS_PER_S, "ms": 1.0}
HISTOGRAMS = ("histogram", "exponential_histogram")
MAX_SAMPLES = 1_000_000  # in one export, all points together
FLUSH_EVERY = 50_000  # samples: a big export must not overrun the Monitor's buffer


@dataclass
class MetricPlan:
    """What one export becomes: record calls (fields and one duration per sample), the
    points not used by reason."""

    requests: list[tuple[tuple[str, str | None, int, float], list[float]]] = field(
        default_factory=list
    )
    runs: list[tuple[dict[str, Any], list[float]]] = field(default_factory=list)
    tool_calls: list[tuple[dict[str, Any], list[float]]] = field(default_factory=list)
    runs_by_stream: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    unused: Counter[str] = field(default_factory=Counter)
    points: int = 0
    samples: int = 0


def plan(export: ExportMetricsServiceRequest, streams: Streams) -> MetricPlan:
    """What to record for an export; cumulative points become deltas through ``streams``."""
    result = MetricPlan()
    tokens: dict[tuple[Any, ...], Counter[str]] = {}
    for resource, metric in _metrics(export):
        points = _points(metric)
        result.points += len(points)
        reason = _unusable(metric)
        if reason is not None:
            result.unused[reason] += len(points)
            continue
        unit = metric.unit or HTTP_DURATION.get(metric.name, "s")
        cumulative = (
            _temporality(metric) == AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
        )
        for raw in points:
            attrs = flat(raw.attributes)
            point = _point(metric, raw)
            if isinstance(point, str):
                result.unused[point] += 1
                continue
            stream = (resource, tuple(sorted(attrs.items())))
            if cumulative:
                delta = streams.delta((metric.name, *stream), point)
                if delta is None:
                    result.unused[BASELINE] += 1
                    continue
                point = delta
            kind = TOKEN_COUNTERS.get(metric.name)
            if metric.name == TOKEN_USAGE:
                kind = TOKEN_TYPES.get(str(attrs.get("gen_ai.token.type")))
            if kind is not None and point.sum > 0:
                rest = tuple(kv for kv in stream[1] if kv[0] != "gen_ai.token.type")
                tokens.setdefault((resource, rest), Counter())[kind] += round(point.sum)
            elif metric.name in HTTP_DURATION or metric.name in GENAI_DURATION:
                _add(result, metric.name, stream, point, MS_PER_UNIT[unit])
    _add_tokens(result, tokens)
    return result


def record(prepared: MetricPlan, monitor: Monitor) -> Outcome:
    """Record a plan through the Monitor's record methods, one call per sample; a point whose
    first sample the Monitor refuses is counted with its reason and the rest are kept.
    Nothing recorded is emitted again as a span."""
    with telemetry.received():
        return _record(prepared, monitor)


def _record(prepared: MetricPlan, monitor: Monitor) -> Outcome:
    outcome = Outcome(unused=Counter(prepared.unused), points=prepared.points)
    calls: list[tuple[str, Callable[[float], None], list[float]]] = [
        ("request", _request_call(monitor, *fields), values) for fields, values in prepared.requests
    ]
    calls += [
        ("agent_run", _run_call(monitor, fields, len(values)), values)
        for fields, values in prepared.runs
    ]
    calls += [
        ("tool_call", _tool_call(monitor, fields), values) for fields, values in prepared.tool_calls
    ]
    since_flush = 0
    for kind, call, values in calls:
        try:
            call(values[0])
        except ValueError as exc:
            outcome.unused[INVALID[kind]] += 1
            outcome.example = outcome.example or f"{INVALID[kind]}: {exc}"
            continue
        for value in values[1:]:
            call(value)
        outcome.recorded[kind] += len(values)
        since_flush += len(values)
        if since_flush >= FLUSH_EVERY:
            monitor.flush()
            since_flush = 0
    return outcome


def _request_call(
    monitor: Monitor, endpoint: str, method: str | None, status: int, ts: float
) -> Callable[[float], None]:
    def call(duration_ms: float) -> None:
        monitor.record_request(endpoint, method or "GET", status, duration_ms, None, None, ts)

    return call


def _run_call(monitor: Monitor, fields: dict[str, Any], runs: int) -> Callable[[float], None]:
    each_run = _run_fields(fields, runs)

    def call(duration_ms: float) -> None:
        monitor.record_agent_run(**next(each_run), duration_ms=duration_ms)

    return call


def _tool_call(monitor: Monitor, fields: dict[str, Any]) -> Callable[[float], None]:
    def call(duration_ms: float) -> None:
        monitor.record_tool_call(**fields, duration_ms=duration_ms)

    return call


def _metrics(export: ExportMetricsServiceRequest) -> Iterator[tuple[tuple[Any, ...], Metric]]:
    for resource_metrics in export.resource_metrics:
        resource = tuple(sorted(flat(resource_metrics.resource.attributes).items()))
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                yield resource, metric


def _points(metric: Metric) -> list[Any]:
    kind = metric.WhichOneof("data")
    return list(getattr(metric, kind).data_points) if kind is not None else []


def _unusable(metric: Metric) -> str | None:
    """Why none of ``metric``'s points can be used, or None."""
    kind = metric.WhichOneof("data")
    if metric.name in TOKEN_COUNTERS:
        return None if kind == "sum" and metric.sum.is_monotonic else NOT_COUNTER
    if metric.name not in HTTP_DURATION and metric.name not in GENAI_DURATION:
        return None if metric.name == TOKEN_USAGE and kind in HISTOGRAMS else METRIC_NOT_MAPPED
    if kind not in HISTOGRAMS:
        return NOT_HISTOGRAM
    if (metric.unit or HTTP_DURATION.get(metric.name, "s")) not in MS_PER_UNIT:
        return UNKNOWN_UNIT
    return None


def _point(metric: Metric, raw: Any) -> Point | str:
    if metric.HasField("exponential_histogram"):
        return exponential_point(raw)
    return explicit_point(raw) if metric.HasField("histogram") else sum_point(raw)


def _temporality(metric: Metric) -> int:
    return int(getattr(metric, str(metric.WhichOneof("data"))).aggregation_temporality)


def _add(
    result: MetricPlan, name: str, stream: tuple[Any, ...], point: Point, ms_per_unit: float
) -> None:
    """The samples of one delta point, under what its attributes say they are."""
    attrs: Attrs = dict(stream[1])
    if point.count == 0:
        return
    if result.samples + point.count > MAX_SAMPLES:
        result.unused[TOO_MANY_SAMPLES] += 1
        return
    values = durations(histogram(point, ms_per_unit))
    ts = point.time_ns / 1e9
    error = _text(attrs, "error.type")
    if name in HTTP_DURATION:
        status = attrs.get("http.response.status_code", attrs.get("http.status_code"))
        if status.__class__ is not int:
            result.unused[NO_STATUS] += 1
        elif (route := endpoint_of(_text(attrs, "http.route"), int(status))) is None:
            result.unused[NO_ROUTE] += 1
        else:
            method = _text(attrs, "http.request.method", "http.method")
            result.requests.append(((route, method, int(status), ts), values))
            result.samples += len(values)
        return
    operation = _text(attrs, "gen_ai.operation.name") or GENAI_DURATION[name]
    mcp_method = _text(attrs, "mcp.method.name")
    if mcp_method not in (None, "tools/call"):
        result.unused[OTHER_MCP] += 1
        return
    if operation == "invoke_agent":
        agent = _text(attrs, "gen_ai.agent.name")
        if agent is None:
            result.unused[NO_AGENT] += 1
            return
        fields = {
            "agent_name": agent,
            "success": error is None,
            "error_type": error,
            "model": _text(attrs, "gen_ai.request.model", "gen_ai.response.model"),
            "provider": _text(attrs, "gen_ai.provider.name", "gen_ai.system"),
            "end_time": ts,
        }
        result.runs.append((fields, values))
        result.runs_by_stream[stream] = fields
    elif operation == "execute_tool" or "gen_ai.tool.name" in attrs or mcp_method is not None:
        tool = _text(attrs, "gen_ai.tool.name")
        if tool is None:
            result.unused[NO_TOOL] += 1
            return
        fields = {
            "tool_name": tool,
            "success": error is None,
            "error_type": error,
            "agent_name": _text(attrs, "gen_ai.agent.name"),
            "timestamp": ts,
        }
        result.tool_calls.append((fields, values))
    else:
        result.unused[MODEL_METRIC] += 1
        return
    result.samples += len(values)


def _add_tokens(result: MetricPlan, tokens: dict[tuple[Any, ...], Counter[str]]) -> None:
    """Token sums onto the runs of the same attributes (but the token type), else counted."""
    for stream, counts in tokens.items():
        run = result.runs_by_stream.get(stream)
        if run is None:
            result.unused[TOKENS_ALONE] += 1
        else:
            run.update({kind: run.get(kind, 0) + n for kind, n in counts.items()})


def _run_fields(fields: dict[str, Any], runs: int) -> Iterator[dict[str, Any]]:
    """Each run's fields: token totals spread over the runs, the remainder on the first."""
    totals = {kind: fields.pop(kind, 0) for kind in TOKEN_FIELDS}
    for i in range(runs):
        yield fields | {k: n // runs + (n % runs if i == 0 else 0) for k, n in totals.items()}


def _text(attrs: Attrs, *names: str) -> str | None:
    for name in names:
        value = attrs.get(name)
        if value is not None and value != "":
            return str(value)
    return None
