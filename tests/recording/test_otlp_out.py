"""A flush's records as OTLP: read back by perf-mcp's own receiver code (perf_mcp.otlp), they
are the same requests (bucket for bucket), runs, tool calls, tokens and failures."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perf_mcp.core.sketch import LogHistogram
from perf_mcp.core.validation import agent_run, request, tool_call
from perf_mcp.otlp import mapping, metrics
from perf_mcp.otlp.metrics_points import Streams
from perf_mcp.recording.otlp_out import (
    REQUEST_DURATION,
    StatusRequestAcc,
    metrics_exports,
    resource,
    traces_exports,
)

NOW = 1_800_000_005.0  # 5 s into the bucket that starts at 1_800_000_000
START = 1_800_000_000
RESOURCE = resource({"service.name": "shop"})


def acc_of(samples: list[tuple[int, float]]) -> StatusRequestAcc:
    acc = StatusRequestAcc()
    acc.add_samples([request("/x", "GET", s, ms, None, None, NOW, NOW) for s, ms in samples])
    return acc


def received(exports: list[object]) -> dict[tuple[str, str | None, int], LogHistogram]:
    """What perf-mcp's receiver records of metric exports, by route, method and status."""
    out: dict[tuple[str, str | None, int], LogHistogram] = {}
    for export in exports:
        plan = metrics.plan(export, Streams(0))  # type: ignore[arg-type]
        assert not plan.unused
        for (route, method, status, _), values in plan.requests:
            hist = out.setdefault((route, method, status), LogHistogram())
            for value in values:
                hist.add(value)
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([200, 201, 404, 500]),
            st.just(0.0) | st.floats(min_value=1e-300, max_value=1e7),  # not subnormal
        ),
        min_size=1,
        max_size=200,
    )
)
def test_requests_come_back_bucket_for_bucket_per_status(samples: list[tuple[int, float]]) -> None:
    acc = acc_of(samples)
    exports = [e for _, e in metrics_exports({START: {("/x", "GET"): acc}}, RESOURCE, NOW)]
    back = received(exports)
    assert set(back) == {("/x", "GET", s) for s, _ in samples}
    for (_, _, status), hist in back.items():
        sent = acc.by_status[status]
        assert (hist.bins, hist.count) == (sent.bins, sent.count)
        # min and max travel in seconds: exact but for the division's rounding
        assert (hist.min, hist.max) == pytest.approx((sent.min, sent.max), rel=1e-12, abs=1e-300)


def test_status_histograms_add_up_to_the_series_and_merge() -> None:
    rng = random.Random(3)
    acc = acc_of([(rng.choice([200, 503]), rng.lognormvariate(3, 1)) for _ in range(300)])
    other = acc_of([(404, 7.0), (200, 9.0)])
    acc.merge(other)
    total = LogHistogram()
    for hist in acc.by_status.values():
        total.merge(hist)
    assert (total.bins, total.count) == (acc.hist.bins, acc.hist.count)
    assert sum(acc.sums.values()) == pytest.approx(acc.sum_ms, rel=1e-12)
    assert acc.by_status[404].count == 1


def test_a_point_is_a_delta_exponential_histogram_in_seconds_within_its_bucket() -> None:
    buckets = {START - 10: {("/x", "GET"): acc_of([(200, 12.5)])}, START: {}}
    ((starts, export),) = metrics_exports(buckets, RESOURCE, NOW)
    assert starts == [START - 10, START]
    (metric,) = export.resource_metrics[0].scope_metrics[0].metrics
    assert (metric.name, metric.unit) == (REQUEST_DURATION, "s")
    data = metric.exponential_histogram
    assert data.aggregation_temporality == 1  # DELTA
    (point,) = data.data_points
    assert (point.scale, point.count, point.sum, point.max) == (6, 1, 0.0125, 0.0125)
    assert START - 10 <= point.start_time_unix_nano / 1e9 < point.time_unix_nano / 1e9 < START
    assert export.resource_metrics[0].resource.attributes[0].value.string_value == "shop"


def test_the_current_bucket_ends_now_and_a_total_is_not_sent() -> None:
    acc = acc_of([(200, 3.0)])
    ((_, export),) = metrics_exports({START: {("/x", "GET"): acc, ("*", ""): acc}}, RESOURCE, NOW)
    (point,) = (
        export.resource_metrics[0].scope_metrics[0].metrics[0].exponential_histogram.data_points
    )
    assert point.time_unix_nano == NOW * 1e9


def test_a_stream_s_deltas_start_where_the_last_push_ended() -> None:
    acc = acc_of([(200, 3.0)])
    pushed = {}
    for since in (0.0, START + 2.5, START - 5.0, NOW + 1):
        ((_, export),) = metrics_exports({START: {("/x", "GET"): acc}}, RESOURCE, NOW, since)
        metric = export.resource_metrics[0].scope_metrics[0].metrics[0]
        (point,) = metric.exponential_histogram.data_points
        pushed[since] = point.start_time_unix_nano / 1e9
    assert pushed == {0.0: START, START + 2.5: START + 2.5, START - 5.0: START, NOW + 1: START}


def test_exports_hold_whole_buckets_up_to_the_point_limit() -> None:
    buckets = {
        START + 10 * k: {(f"/r{i}", "GET"): acc_of([(200, 1.0)]) for i in range(3)}
        for k in range(4)
    }
    chunks = list(metrics_exports(buckets, RESOURCE, START + 100.0, max_points=5))
    assert [starts for starts, _ in chunks] == [[START, START + 10], [START + 20, START + 30]]
    chunks = list(metrics_exports(buckets, RESOURCE, START + 100.0, max_samples=9))
    assert [starts for starts, _ in chunks] == [[START, START + 10, START + 20], [START + 30]]


def test_runs_and_calls_come_back_as_the_receiver_records_them() -> None:
    calls = [{"tool_name": "search", "duration_ms": 20.0, "call_id": "c1"}]
    calls += [{"tool_name": "search", "duration_ms": 30.0, "success": False, "error_type": "429"}]
    run = agent_run(
        {
            "agent_name": "planner",
            "duration_ms": 300.0,
            "model": "gpt-4o",
            "provider": "openai",
            "input_tokens": 100,
            "output_tokens": 40,
            "cache_read_tokens": 7,
            "cost_usd": 0.25,
            "conversation_id": "conv-1",
            "success": False,
            "error_type": "UsageLimitExceeded",
            "tool_calls": calls,
        },
        NOW,
    )
    lone = tool_call("fetch", 12.0, False, None, "planner", None, None, None, NOW)
    ((n_runs, n_calls, export),) = traces_exports([run], [lone], RESOURCE)
    assert (n_runs, n_calls) == (1, 1)
    plan = mapping.plan(export)
    assert not plan.unused
    ((fields, spans),) = plan.runs
    assert spans == 3
    assert fields | {"start_time": 0, "end_time": 0, "run_id": None} == {
        "agent_name": "planner",
        "duration_ms": 300.0,
        "start_time": 0,
        "end_time": 0,
        "success": False,
        "error_type": "UsageLimitExceeded",
        "model": "gpt-4o",
        "provider": "openai",
        "run_id": None,
        "conversation_id": "conv-1",
        "input_tokens": 100,
        "output_tokens": 40,
        "cache_read_tokens": 7,
        "cache_write_tokens": 0,
        "cost_usd": 0.25,
        "tool_calls": [
            {
                "tool_name": "search",
                "duration_ms": 20.0,
                "success": True,
                "error_type": None,
                "agent_name": None,
                "timestamp": NOW,
                "result_chars": None,
                "call_id": "c1",
            },
            {
                "tool_name": "search",
                "duration_ms": 30.0,
                "success": False,
                "error_type": "429",
                "agent_name": None,
                "timestamp": NOW,
                "result_chars": None,
                "call_id": None,
            },
        ],
    }
    assert fields["end_time"] == NOW
    (alone,) = plan.tool_calls
    assert (alone["tool_name"], alone["agent_name"], alone["success"]) == (
        "fetch",
        "planner",
        False,
    )
    assert alone["error_type"] == "error"  # failed without a type: the span's ERROR status


def test_traces_exports_split_between_runs_and_count_what_each_holds() -> None:
    run = agent_run(
        {
            "agent_name": "a",
            "duration_ms": 5.0,
            "tool_calls": [{"tool_name": "t", "duration_ms": 1.0}],
        },
        NOW,
    )
    lone = tool_call("t", 1.0, True, None, None, None, None, None, NOW)
    chunks = [(r, c) for r, c, _ in traces_exports([run] * 3, [lone] * 3, RESOURCE, max_spans=4)]
    assert chunks == [(2, 0), (1, 2), (0, 1)]
