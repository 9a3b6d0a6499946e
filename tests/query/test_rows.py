"""The agent and tool rows: costs reported and estimated, per agent, model and conversation,
and the sizes of tool results."""

from __future__ import annotations

import pytest

from perf_mcp import Monitor
from perf_mcp.core.models import CHARS_PER_TOKEN
from perf_mcp.core.pricing import price_table
from perf_mcp.query.rows import LARGE_RESULT_TOKENS, large_results

M = 1e-6  # one token at $1 per million tokens
GPT_4O = 1_000 * 2.5 * M + 500 * 10 * M  # 1,000 input and 500 output tokens, by hand
SONNET_CACHED = 500 * 3 * M + 200 * 0.3 * M + 300 * 3.75 * M + 500 * 15 * M


def record_runs(monitor: Monitor) -> None:
    monitor.record_agent_run(
        agent_name="planner",
        duration_ms=800.0,
        model="gpt-4o",
        provider="openai",
        input_tokens=1_000,
        output_tokens=500,
        conversation_id="c-1",
    )
    monitor.record_agent_run(  # a reported cost is kept as reported
        agent_name="planner",
        duration_ms=900.0,
        model="gpt-4o",
        provider="openai",
        input_tokens=1_000,
        output_tokens=500,
        cost_usd=0.25,
        conversation_id="c-2",
    )
    monitor.record_agent_run(
        agent_name="writer",
        duration_ms=1_200.0,
        model="claude-sonnet-4-5",
        provider="anthropic",
        input_tokens=1_000,
        output_tokens=500,
        cache_read_tokens=200,
        cache_write_tokens=300,
        conversation_id="c-1",
    )
    monitor.record_agent_run(  # tokens, no cost, no known price: counted, said, costs 0
        agent_name="writer",
        duration_ms=100.0,
        model="in-house-7b",
        input_tokens=5_000,
        output_tokens=100,
    )


def test_reported_costs_are_kept_and_missing_ones_estimated(monitor: Monitor) -> None:
    record_runs(monitor)
    answer = monitor.get_agent_stats(sort_by="runs")
    planner, writer = sorted(answer.agents, key=lambda a: a.agent_name)
    assert planner.cost_usd == pytest.approx(0.25 + GPT_4O)
    assert planner.estimated_cost_usd == pytest.approx(GPT_4O)
    assert (planner.estimated_runs, planner.unpriced_runs) == (1, 0)
    assert writer.cost_usd == pytest.approx(SONNET_CACHED)
    assert (writer.estimated_runs, writer.unpriced_runs) == (1, 1)
    assert (writer.cache_read_tokens, writer.cache_write_tokens) == (200, 300)
    assert answer.prices == price_table()


def test_costs_per_model_and_per_conversation(monitor: Monitor) -> None:
    record_runs(monitor)
    answer = monitor.get_agent_stats()
    models = {m.model: m for m in answer.models}
    assert models["openai/gpt-4o"].cost_usd == pytest.approx(0.25 + GPT_4O)
    assert models["anthropic/claude-sonnet-4-5"].estimated_cost_usd == pytest.approx(SONNET_CACHED)
    assert models["in-house-7b"].unpriced_runs == 1
    assert [(c.conversation_id, c.runs) for c in answer.conversations] == [("c-2", 1), ("c-1", 2)]
    one = answer.conversations[1]
    assert one.cost_usd == one.estimated_cost_usd == pytest.approx(GPT_4O + SONNET_CACHED)
    planner_only = monitor.get_agent_stats(agent_name="planner").conversations
    assert [(c.conversation_id, c.cost_usd) for c in planner_only] == [
        ("c-2", 0.25),
        ("c-1", pytest.approx(GPT_4O)),
    ]


def test_runs_with_reported_costs_only_name_no_price_table(monitor: Monitor) -> None:
    monitor.record_agent_run(
        agent_name="planner", duration_ms=5.0, model="gpt-4o", input_tokens=10, cost_usd=0.01
    )
    answer = monitor.get_agent_stats()
    assert answer.prices is None
    assert answer.agents[0].estimated_runs == 0
    assert answer.agents[0].cost_usd == 0.01


def test_tool_stats_carry_result_sizes_when_told(monitor: Monitor) -> None:
    for chars in range(1, 101):
        monitor.record_tool_call("search", 10.0, result_chars=chars * 100)
    monitor.record_tool_call("search", 10.0)  # size unknown: not in the sizes
    monitor.record_tool_call("ping", 1.0)
    tools = {t.tool_name: t for t in monitor.get_tool_stats().tools}
    search = tools["search"]
    assert search.calls == 101
    assert search.result_chars_mean == pytest.approx(5_050)
    assert search.result_chars_p95 == pytest.approx(9_500, rel=0.01)
    assert search.result_tokens_mean == pytest.approx(5_050 / 3.5)
    assert tools["ping"].result_chars_mean is None
    by_size = monitor.get_tool_stats(sort_by="result_chars").tools
    assert [t.tool_name for t in by_size] == ["search", "ping"]


def test_large_results_are_the_tools_over_the_limit_largest_first() -> None:
    tools = [
        ("small", 10.0),
        ("unknown", None),
        ("big", LARGE_RESULT_TOKENS * 2),
        ("bigger", LARGE_RESULT_TOKENS * 3),
    ]
    assert large_results(tools) == ["bigger", "big"]


def test_the_summary_flags_the_tools_whose_results_are_large(monitor: Monitor) -> None:
    chars = int(LARGE_RESULT_TOKENS * CHARS_PER_TOKEN * 2)
    for _ in range(3):
        monitor.record_tool_call("fetch_page", 40.0, result_chars=chars)
        monitor.record_tool_call("ping", 1.0, result_chars=10)
    monitor.flush()  # the flag is read with the stored rows (the flusher's pace: 1 s)
    assert monitor.get_performance_summary("5m").large_results == ["fetch_page"]
