"""The rows of the stats answers, built from merged series, and the orders they sort by."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from perf_mcp.core import models as m
from perf_mcp.core.pricing import price_table
from perf_mcp.core.series import RequestAcc, RunAcc
from perf_mcp.core.stats import SUMMARY_QUANTILES, latency, percentiles, rate
from perf_mcp.storage import SeriesAgg

PERCENTILE_SORTS = {"p50_ms": 0.5, "p95_ms": 0.95, "p99_ms": 0.99}
LARGE_RESULT_TOKENS = 2_000  # a tool result over this (p95, estimated) is large for a context
LARGE_RESULTS_LISTED = 3


def request_sort_key(s: SeriesAgg, sort_by: str) -> float:
    """An endpoint's value for a non-percentile ``sort_by`` (larger first)."""
    acc: RequestAcc = s.acc
    if sort_by == "count":
        return float(acc.count)
    if sort_by == "error_count":
        return float(acc.status[5])
    if sort_by == "error_rate":
        return rate(acc.status[5], acc.count) or 0.0
    return rate(acc.sum_ms, acc.count) or 0.0  # mean_ms


def run_sort_key(s: SeriesAgg, sort_by: str) -> float:
    """An agent's or tool's value for a non-percentile ``sort_by`` (larger first)."""
    acc: RunAcc = s.acc
    if sort_by in ("runs", "calls"):
        return float(acc.count)
    if sort_by == "failures":
        return float(acc.failures)
    if sort_by == "error_rate":
        return rate(acc.failures, acc.count) or 0.0
    if sort_by == "result_chars":
        return rate(acc.result_chars, acc.result_hist.count if acc.result_hist else 0) or 0.0
    return float(acc.cost_usd)  # cost_usd


def endpoint_stats(s: SeriesAgg, seconds: int) -> m.EndpointStats:
    """One endpoint+method's row of get_endpoint_stats."""
    acc: RequestAcc = s.acc
    return m.EndpointStats(
        endpoint=s.name,
        method=s.method,
        count=acc.count,
        requests_per_s=acc.count / seconds,
        error_count=acc.status[5],
        error_rate=rate(acc.status[5], acc.count),
        status_counts=acc.status_classes(),
        avg_request_bytes=rate(acc.req_bytes, acc.req_n),
        avg_response_bytes=rate(acc.resp_bytes, acc.resp_n),
        **latency(acc.hist, acc.sum_ms),
    )


def _top_labels(counts: dict[str, int], n: int = 5) -> list[m.CountShare]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [m.CountShare(name=k, count=v) for k, v in ranked]


def outcomes(acc: RunAcc) -> dict[str, Any]:
    """Failures, success and error rate of runs or calls."""
    error_rate = rate(acc.failures, acc.count)
    return {
        "failures": acc.failures,
        "success_rate": None if error_rate is None else 1 - error_rate,
        "error_rate": error_rate,
    }


def agent_stats(s: SeriesAgg) -> m.AgentStats:
    """One agent's row of get_agent_stats."""
    acc: RunAcc = s.acc
    return m.AgentStats(
        agent_name=s.name,
        runs=acc.count,
        **acc.usage(),
        tool_calls=acc.tool_calls,
        top_errors=_top_labels(acc.errors),
        tool_usage=_top_labels(acc.tools, 10),
        **outcomes(acc),
        **latency(acc.hist, acc.sum_ms),
    )


def prices_of(series: Iterable[SeriesAgg]) -> str | None:
    """The price table that estimated any of the series' costs (None: nothing estimated)."""
    return price_table() if any(s.acc.estimated_runs for s in series) else None


def model_usage(s: SeriesAgg) -> m.ModelUsage:
    """One model's row of get_agent_stats."""
    acc: RunAcc = s.acc
    quantiles = percentiles(acc.hist, SUMMARY_QUANTILES)
    return m.ModelUsage(
        model=s.name,
        runs=acc.count,
        failures=acc.failures,
        error_rate=rate(acc.failures, acc.count),
        p50_ms=quantiles["p50_ms"],
        p95_ms=quantiles["p95_ms"],
        **acc.usage(),
    )


def tool_stats(s: SeriesAgg) -> m.ToolStats:
    """One tool's row of get_tool_stats."""
    acc: RunAcc = s.acc
    return m.ToolStats(
        tool_name=s.name,
        calls=acc.count,
        top_errors=_top_labels(acc.errors),
        **outcomes(acc),
        **latency(acc.hist, acc.sum_ms),
        **result_sizes(acc),
    )


def result_sizes(acc: RunAcc) -> dict[str, Any]:
    """Mean and p95 size of the tool's results that were measured, in characters and
    estimated tokens (none when no result was measured)."""
    hist = acc.result_hist
    if hist is None or not hist.count:
        return {}
    mean, p95 = acc.result_chars / hist.count, hist.quantile(0.95) or 0.0
    return {
        "result_chars_mean": mean,
        "result_chars_p95": p95,
        "result_tokens_mean": mean / m.CHARS_PER_TOKEN,
        "result_tokens_p95": p95 / m.CHARS_PER_TOKEN,
    }


def large_results(
    tools: Iterable[tuple[str, float | None]], limit: int = LARGE_RESULTS_LISTED
) -> list[str]:
    """Of (tool, p95 result tokens) pairs, the tools over LARGE_RESULT_TOKENS, largest first:
    what a summary flags as costing a conversation's context."""
    large = [(-p95, name) for name, p95 in tools if p95 is not None and p95 > LARGE_RESULT_TOKENS]
    return [name for _, name in sorted(large)[:limit]]
