"""A flush's records as OTLP export requests: what a Monitor with a url pushes.

Requests become ``http.server.request.duration`` points (seconds, DELTA exponential histograms
at scale 6: the sketch's own buckets, so a receiver gets them bucket for bucket), one per
10 s bucket, route, method and status code. Agent runs become ``invoke_agent`` spans with
their tool calls as ``execute_tool`` children, other tool calls ``execute_tool`` spans; the
names and attributes are the OpenTelemetry GenAI conventions perf-mcp's own receiver reads
(``perf_mcp.otlp.mapping``), so what was recorded here is recorded there the same way.

>>> from perf_mcp.core.sketch import LogHistogram
>>> h = LogHistogram()
>>> h.add(12.5, 3)
>>> point = histogram_point(1_700_000_000, 1_700_000_010.0, "/users/{id}", "GET", 200, h, 37.5)
>>> point.count, point.scale, point.positive.bucket_counts[0]
(3, 6, 3)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Metric,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from perf_mcp import __version__
from perf_mcp.core.series import TOTAL, RequestAcc
from perf_mcp.core.sketch import MS_PER_S, SCALE, LogHistogram
from perf_mcp.core.validation import AgentRunSample, RequestSample, ToolCallSample

REQUEST_DURATION = "http.server.request.duration"
BUCKET_S = 10  # the accumulators' time buckets
MAX_POINTS = 1_000  # data points in one metrics export (about 1 KB each at most)
MAX_SPANS = 2_000  # spans in one traces export
MAX_SAMPLES = 500_000  # requests in one metrics export (perf-mcp's receiver takes 1,000,000)
Attribute = str | int | float | bool | None
_SCOPE = InstrumentationScope(name="perf_mcp", version=__version__)
_NS = 1_000_000_000


class StatusRequestAcc(RequestAcc):
    """A series' requests in one bucket, with a histogram and a sum per status code too: an
    OTLP point carries one status code (the store keeps only classes, in one histogram)."""

    __slots__ = ("by_status", "sums")

    def __init__(self) -> None:
        super().__init__()
        self.by_status: dict[int, LogHistogram] = {}
        self.sums: dict[int, float] = {}

    def add_samples(self, samples: Sequence[RequestSample]) -> None:
        super().add_samples(samples)
        durations: dict[int, list[float]] = {}
        for sample in samples:
            durations.setdefault(sample[3], []).append(sample[4])
        for code, values in durations.items():
            self._hist(code).add_checked(values)
            self.sums[code] += sum(values)

    def merge(self, other: RequestAcc) -> None:
        super().merge(other)
        if isinstance(other, StatusRequestAcc):
            for code, hist in other.by_status.items():
                self._hist(code).merge(hist)
                self.sums[code] += other.sums[code]

    def _hist(self, code: int) -> LogHistogram:
        hist = self.by_status.get(code)
        if hist is None:
            hist = self.by_status[code] = LogHistogram()
            self.sums[code] = 0.0
        return hist


def histogram_point(
    start_s: int,
    now_s: float,
    route: str,
    method: str,
    status: int,
    hist: LogHistogram,
    sum_ms: float,
    since_s: float = 0.0,
) -> ExponentialHistogramDataPoint:
    """The requests of one 10 s bucket starting at ``start_s`` with one status code, as a
    delta point (seconds). Its time is the bucket's end, or ``now_s`` while the bucket lasts,
    so a receiver that files a point at its time files it in the same bucket; it starts at
    the last push (``since_s``) when that fell within the bucket, so a stream's deltas do not
    overlap."""
    zero, offset, counts = hist.to_exponential()
    bucket_ns, since_ns = start_s * _NS, round(since_s * _NS)
    end_ns = max(min(bucket_ns + BUCKET_S * _NS - 1_000_000, round(now_s * _NS)), bucket_ns)
    point = ExponentialHistogramDataPoint(
        attributes=attributes(
            {
                "http.route": route,
                "http.request.method": method,
                "http.response.status_code": status,
            }
        ),
        start_time_unix_nano=since_ns if bucket_ns < since_ns < end_ns else bucket_ns,
        time_unix_nano=end_ns,
        count=hist.count,
        sum=sum_ms / MS_PER_S,
        scale=SCALE,
        zero_count=zero,
        min=hist.min / MS_PER_S,
        max=hist.max / MS_PER_S,
    )
    point.positive.offset = offset
    point.positive.bucket_counts.extend(counts)
    return point


def metrics_exports(
    buckets: Mapping[int, Mapping[tuple[str, str], StatusRequestAcc]],
    resource: Resource,
    now_s: float,
    since_s: float = 0.0,
    max_points: int = MAX_POINTS,
    max_samples: int = MAX_SAMPLES,
) -> Iterator[tuple[list[int], ExportMetricsServiceRequest]]:
    """Exports of whole 10 s buckets (the starts each holds, and the export), at most
    ``max_points`` points and ``max_samples`` requests each unless one bucket has more."""
    starts: list[int] = []
    points: list[ExponentialHistogramDataPoint] = []
    samples = 0
    for start, series in sorted(buckets.items()):
        for (route, method), acc in series.items():
            if route == TOTAL:  # the receiver adds its own totals
                continue
            points.extend(
                histogram_point(start, now_s, route, method, code, h, acc.sums[code], since_s)
                for code, h in sorted(acc.by_status.items())
            )
            samples += acc.count
        starts.append(start)
        if len(points) >= max_points or samples >= max_samples:
            yield starts, _metrics_request(resource, points)
            starts, points, samples = [], [], 0
    if starts:
        yield starts, _metrics_request(resource, points)


def _metrics_request(
    resource: Resource, points: list[ExponentialHistogramDataPoint]
) -> ExportMetricsServiceRequest:
    metric = Metric(
        name=REQUEST_DURATION,
        unit="s",
        description="Duration of HTTP server requests.",
        exponential_histogram=ExponentialHistogram(
            data_points=points,
            aggregation_temporality=AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA,
        ),
    )
    scope = ScopeMetrics(scope=_SCOPE, metrics=[metric] if points else [])
    return ExportMetricsServiceRequest(
        resource_metrics=[ResourceMetrics(resource=resource, scope_metrics=[scope])]
    )


def traces_exports(
    runs: Sequence[AgentRunSample],
    calls: Sequence[ToolCallSample],
    resource: Resource,
    max_spans: int = MAX_SPANS,
) -> Iterator[tuple[int, int, ExportTraceServiceRequest]]:
    """Exports of the runs (each with its tool calls) then the lone tool calls: how many runs
    and calls each holds, and the export; about ``max_spans`` spans each."""
    spans: list[Span] = []
    n_runs = n_calls = 0
    for run in runs:
        spans.extend(run_spans(run))
        n_runs += 1
        if len(spans) >= max_spans:
            yield n_runs, 0, _traces_request(resource, spans)
            spans, n_runs = [], 0
    for call in calls:
        spans.append(call_span(call, os.urandom(16), b""))
        n_calls += 1
        if len(spans) >= max_spans:
            yield n_runs, n_calls, _traces_request(resource, spans)
            spans, n_runs, n_calls = [], 0, 0
    if spans:
        yield n_runs, n_calls, _traces_request(resource, spans)


def run_spans(run: AgentRunSample) -> list[Span]:
    """An agent run's ``invoke_agent`` span, then its tool calls' spans as its children."""
    ts, agent, duration_ms, success, error_type, model, provider = run[:7]
    input_tokens, output_tokens, cache_read, cache_write, cost_usd = run[7:12]
    run_id, conversation_id, calls = run[12:]
    trace_id, span_id = os.urandom(16), os.urandom(8)
    span = _span(
        trace_id,
        span_id,
        b"",
        f"invoke_agent {agent}",
        ts,
        duration_ms,
        success,
        error_type,
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent,
            "gen_ai.request.model": model,
            "gen_ai.provider.name": provider,
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
            "gen_ai.usage.cache_read.input_tokens": cache_read or None,
            "gen_ai.usage.cache_write.input_tokens": cache_write or None,
            "operation.cost": cost_usd or None,  # as pydantic-ai and Logfire send it (USD)
            "gen_ai.conversation.id": conversation_id,
            "perf_mcp.run_id": run_id,
        },
    )
    return [span, *(call_span(call, trace_id, span_id) for call in calls)]


def call_span(call: ToolCallSample, trace_id: bytes, parent_id: bytes) -> Span:
    """A tool call's ``execute_tool`` span (a child of its run's span when ``parent_id``)."""
    ts, tool, duration_ms, success, error_type, agent, call_id, _result_chars = call
    return _span(
        trace_id,
        os.urandom(8),
        parent_id,
        f"execute_tool {tool}",
        ts,
        duration_ms,
        success,
        error_type,
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.agent.name": None if parent_id else agent,
        },
    )


def _span(
    trace_id: bytes,
    span_id: bytes,
    parent_id: bytes,
    name: str,
    end_s: float,
    duration_ms: float,
    success: bool,
    error_type: str | None,
    attrs: dict[str, Attribute],
) -> Span:
    """A span ending at ``end_s``; a failure has the ERROR status and its ``error.type``."""
    end_ns = round(end_s * _NS)
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_id,
        name=name,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=max(end_ns - round(duration_ms * 1_000_000), 0),
        end_time_unix_nano=end_ns,
        attributes=attributes(attrs | {"error.type": None if success else error_type}),
        status=Status(code=Status.STATUS_CODE_UNSET if success else Status.STATUS_CODE_ERROR),
    )


def _traces_request(resource: Resource, spans: list[Span]) -> ExportTraceServiceRequest:
    scope = ScopeSpans(scope=_SCOPE, spans=spans)
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource, scope_spans=[scope])]
    )


def resource(attrs: Mapping[str, Attribute]) -> Resource:
    """An OTLP resource of the given attributes (None values left out)."""
    return Resource(attributes=attributes(attrs))


def attributes(attrs: Mapping[str, Attribute]) -> list[KeyValue]:
    """OTLP key-values of plain values; None values are left out."""
    out = []
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, bool):
            any_value = AnyValue(bool_value=value)
        elif isinstance(value, int):
            any_value = AnyValue(int_value=value)
        elif isinstance(value, float):
            any_value = AnyValue(double_value=value)
        else:
            any_value = AnyValue(string_value=value)
        out.append(KeyValue(key=key, value=any_value))
    return out
