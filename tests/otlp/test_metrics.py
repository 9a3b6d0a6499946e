"""Metric points to record calls: what is mapped, and what is not and why."""

from __future__ import annotations

import time
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
)

from perf_mcp import Monitor
from perf_mcp.integrations.asgi import UNMATCHED
from perf_mcp.otlp import metrics
from perf_mcp.otlp.metrics_points import Streams
from perf_mcp.otlp.stats import (
    INVALID,
    METRIC_NOT_MAPPED,
    MODEL_METRIC,
    NO_ROUTE,
    NO_STATUS,
    NOT_COUNTER,
    NOT_HISTOGRAM,
    OTHER_MCP,
    TOKENS_ALONE,
    TOO_MANY_SAMPLES,
    UNKNOWN_UNIT,
)

NOW_NS = time.time_ns()
DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA


def attributes(values: dict[str, Any]) -> list[KeyValue]:
    def value(v: Any) -> AnyValue:
        return AnyValue(int_value=v) if isinstance(v, int) else AnyValue(string_value=v)

    return [KeyValue(key=k, value=value(v)) for k, v in values.items()]


def duration_metric(name: str, unit: str, count: int, attrs: dict[str, Any]) -> Metric:
    """A delta explicit-bucket histogram of ``count`` samples of 15 ms."""
    metric = Metric(name=name, unit=unit)
    metric.histogram.aggregation_temporality = DELTA
    metric.histogram.data_points.append(
        HistogramDataPoint(
            start_time_unix_nano=NOW_NS - 10**10, time_unix_nano=NOW_NS, count=count,
            sum=0.015 * count, explicit_bounds=[0.01, 0.02], bucket_counts=[0, count, 0],
            attributes=attributes(attrs),
        )
    )  # fmt: skip
    return metric


def export(*metrics_: Metric) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    request.resource_metrics.add().scope_metrics.add().metrics.extend(metrics_)
    return request


def plan(*metrics_: Metric) -> metrics.MetricPlan:
    return metrics.plan(export(*metrics_), Streams(0))


HTTP = "http.server.request.duration"
ROUTE = {"http.route": "/a", "http.response.status_code": 200}


def test_http_points_become_requests_with_route_method_and_status() -> None:
    result = plan(duration_metric(HTTP, "s", 4, ROUTE | {"http.request.method": "POST"}))
    ((fields, values),) = result.requests
    assert fields == ("/a", "POST", 200, NOW_NS / 1e9)
    assert len(values) == 4
    assert all(10 < v <= 20 for v in values)
    old = {"http.route": "/b", "http.status_code": 201}
    old_name = plan(duration_metric("http.server.duration", "", 2, old))
    assert old_name.requests[0][0][:3] == ("/b", None, 201)
    assert 0.01 < old_name.requests[0][1][0] <= 0.02  # the old name's unit is ms: 15 µs


def test_what_cannot_be_mapped_is_counted_by_reason() -> None:
    gauge = Metric(name=HTTP, unit="s")
    gauge.gauge.data_points.append(NumberDataPoint(as_double=1.0))
    result = plan(
        duration_metric("process.cpu.time", "s", 1, {}),
        gauge,
        duration_metric(HTTP, "min", 1, ROUTE),
        duration_metric(HTTP, "s", 1, {"http.route": "/a"}),
        duration_metric(HTTP, "s", 1, {"http.response.status_code": 200}),
        duration_metric("gen_ai.client.token.usage", "{token}", 1, {"gen_ai.token.type": "input"}),
    )
    assert result.unused == {
        METRIC_NOT_MAPPED: 1, NOT_HISTOGRAM: 1, UNKNOWN_UNIT: 1, NO_STATUS: 1, NO_ROUTE: 1,
        TOKENS_ALONE: 1,
    }  # fmt: skip
    assert result.points == 6
    assert not result.requests


def test_an_export_past_the_sample_budget_refuses_the_points_that_do_not_fit() -> None:
    big = metrics.MAX_SAMPLES - 10
    result = plan(duration_metric(HTTP, "s", big, ROUTE), duration_metric(HTTP, "s", 11, ROUTE))
    assert [len(values) for _, values in result.requests] == [big]
    assert result.unused == {TOO_MANY_SAMPLES: 1}


def test_a_point_the_monitor_refuses_is_counted_and_the_rest_recorded(monitor: Monitor) -> None:
    result = plan(
        duration_metric(HTTP, "s", 3, ROUTE),
        duration_metric(HTTP, "s", 2, {"http.route": "/b", "http.response.status_code": 999}),
    )
    outcome = metrics.record(result, monitor)
    assert outcome.recorded == {"request": 3}
    assert outcome.unused == {INVALID["request"]: 1}
    assert outcome.example is not None
    assert "status_code" in outcome.example


def test_a_404_point_without_a_route_is_unmatched() -> None:
    result = plan(
        duration_metric(HTTP, "s", 3, {"http.response.status_code": 404}),
        duration_metric(HTTP, "s", 1, {"http.response.status_code": 200}),
    )
    assert [(fields[0], fields[2], len(v)) for fields, v in result.requests] == [
        (UNMATCHED, 404, 3)
    ]
    assert result.unused == {NO_ROUTE: 1}


def counter(name: str, value: int, attrs: dict[str, Any], cumulative: bool = False) -> Metric:
    """A monotonic sum (the current draft's token counters), delta unless ``cumulative``."""
    metric = Metric(name=name, unit="{token}")
    metric.sum.is_monotonic = True
    metric.sum.aggregation_temporality = (
        AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE if cumulative else DELTA
    )
    metric.sum.data_points.append(
        NumberDataPoint(
            start_time_unix_nano=NOW_NS - 10**10, time_unix_nano=NOW_NS, as_int=value,
            attributes=attributes(attrs),
        )
    )  # fmt: skip
    return metric


AGENT = {"gen_ai.agent.name": "support", "gen_ai.request.model": "gpt-4o"}
RUN = AGENT | {"gen_ai.operation.name": "invoke_agent"}
TOOL = {"gen_ai.tool.name": "search"}
EXECUTE = {"gen_ai.operation.name": "execute_tool"}


@pytest.mark.parametrize(
    ("name", "attrs", "kind"),
    [
        ("gen_ai.client.operation.duration", RUN, "runs"),  # older, what pydantic-ai sends
        ("gen_ai.server.request.duration", RUN, "runs"),
        ("gen_ai.invoke_agent.duration", AGENT, "runs"),  # current: the name says the operation
        ("gen_ai.execute_tool.duration", TOOL, "tool_calls"),
        ("gen_ai.client.operation.duration", TOOL | EXECUTE, "tool_calls"),
        ("mcp.server.operation.duration", TOOL | {"mcp.method.name": "tools/call"}, "tool_calls"),
    ],
)
def test_genai_and_mcp_durations_of_older_and_current_names_are_mapped(
    name: str, attrs: dict[str, Any], kind: str
) -> None:
    result = plan(duration_metric(name, "s", 3, attrs))
    ((fields, values),) = getattr(result, kind)
    assert len(values) == 3
    assert fields.get("agent_name") == ("support" if kind == "runs" else None)
    assert fields.get("tool_name") == (None if kind == "runs" else "search")
    assert result.unused == {}


def test_model_call_durations_and_other_mcp_methods_are_not_kept() -> None:
    result = plan(
        duration_metric(
            "gen_ai.client.inference.duration", "s", 2, {"gen_ai.operation.name": "chat"}
        ),
        duration_metric("gen_ai.client.operation.duration", "s", 2, {"gen_ai.request.model": "m"}),
        duration_metric("mcp.server.operation.duration", "s", 2, {"mcp.method.name": "tools/list"}),
    )
    assert result.unused == {MODEL_METRIC: 2, OTHER_MCP: 1}
    assert result.runs == result.tool_calls == []


def token_histogram(kind: str, tokens: int, runs: int) -> Metric:
    """gen_ai.client.token.usage as the older emitters send it: a histogram per token type,
    with the attributes of the runs' gen_ai.client.operation.duration."""
    metric = Metric(name="gen_ai.client.token.usage", unit="{token}")
    metric.histogram.aggregation_temporality = DELTA
    metric.histogram.data_points.append(
        HistogramDataPoint(
            start_time_unix_nano=NOW_NS - 10**10, time_unix_nano=NOW_NS, count=runs, sum=tokens,
            explicit_bounds=[10_000], bucket_counts=[runs, 0],
            attributes=attributes(RUN | {"gen_ai.token.type": kind}),
        )
    )  # fmt: skip
    return metric


def test_token_usage_of_the_older_histogram_and_the_current_counters_reaches_the_runs(
    monitor: Monitor,
) -> None:
    older = plan(
        duration_metric("gen_ai.client.operation.duration", "s", 2, RUN),
        token_histogram("input", 1_000, 2),
        token_histogram("completion", 250, 2),  # the older name of "output"
    )
    metrics.record(older, monitor)
    (agent,) = monitor.get_agent_stats(window="24h").agents  # NOW_NS: at import
    assert (agent.runs, agent.input_tokens, agent.output_tokens) == (2, 1_000, 250)

    streams = Streams(0)
    usage = "gen_ai.client.inference.usage."
    for total in (100, 1_300):  # cumulative: the second export adds 1,200
        current = metrics.plan(export(
            duration_metric("gen_ai.invoke_agent.duration", "s", 1, AGENT),
            counter(f"{usage}input_tokens", total, AGENT, cumulative=True),
            counter(f"{usage}output_tokens", 300, AGENT),
            counter(f"{usage}cache_read.input_tokens", 400, AGENT),
            counter(f"{usage}cache_write.input_tokens", 50, AGENT),
            counter(f"{usage}reasoning.output_tokens", 90, AGENT),
        ), streams)  # fmt: skip
    ((run, _),) = current.runs
    assert (run["input_tokens"], run["output_tokens"]) == (1_200, 300)
    assert (run["cache_read_tokens"], run["cache_write_tokens"]) == (400, 50)
    assert current.unused == {METRIC_NOT_MAPPED: 1}  # reasoning tokens are output tokens


def test_a_token_counter_that_is_not_a_monotonic_sum_is_refused() -> None:
    gauge = Metric(name="gen_ai.client.inference.usage.input_tokens", unit="{token}")
    gauge.gauge.data_points.append(NumberDataPoint(as_int=5))
    assert plan(gauge).unused == {NOT_COUNTER: 1}
