"""Spans from the real OpenTelemetry SDK become requests, agent runs and tool calls."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.trace import SpanKind, Tracer

from perf_mcp import Monitor
from perf_mcp.integrations.asgi import UNMATCHED
from perf_mcp.otlp.mapping import plan, record
from perf_mcp.otlp.stats import INVALID, MODEL_CALL_ALONE, NO_STATUS, NOT_MAPPED, OTHER_MCP
from perf_mcp.otlp.versions import MAX_SERVICES, VersionWatch
from tests.otlp.spans import (
    agent_run,
    http_request,
    mcp_tool_call,
    recorded,
    span,
    versioned_export,
)


def test_http_server_spans_with_old_and_current_names_become_requests(monitor: Monitor) -> None:
    def build(tracer: Tracer) -> None:
        http_request(tracer, "/users/{user_id}", "GET", 200, 12.5)
        http_request(tracer, "/users/{user_id}", "GET", 503, 40.0, old=True)
        http_request(tracer, "/orders", "POST", 201, 8.0, old=True)

    outcome = record(plan(recorded(build)), monitor)

    assert outcome.recorded == {"request": 3}
    assert outcome.rejected == 0
    stats = {(e.endpoint, e.method): e for e in monitor.get_endpoint_stats().endpoints}
    users = stats["/users/{user_id}", "GET"]
    assert (users.count, users.error_count, users.status_counts) == (2, 1, {"2xx": 1, "5xx": 1})
    assert users.max_ms == pytest.approx(40.0, rel=0.01)
    assert stats["/orders", "POST"].count == 1


def test_an_agent_run_nests_its_tools_and_counts_model_tokens_once(monitor: Monitor) -> None:
    def build(tracer: Tracer) -> None:
        agent_run(
            tracer,
            "support",
            900,
            chats=[(1000, 200, 300), (500, 100, 0)],
            tools=[("search", 120, None), ("refund", 30, "PermissionError")],
            usage=(1500, 300),  # rolled up into the run: must not count again
        )
        agent_run(tracer, "triage", 300, usage=(70, 7), error_type="timeout")  # no chat spans

    outcome = record(plan(recorded(build)), monitor)

    assert outcome.recorded == {"agent_run": 2}
    agents = {a.agent_name: a for a in monitor.get_agent_stats().agents}
    support, triage = agents["support"], agents["triage"]
    assert (support.runs, support.failures, support.tool_calls) == (1, 0, 2)
    assert (support.input_tokens, support.output_tokens, support.cache_read_tokens) == (
        1500, 300, 300
    )  # fmt: skip
    assert (triage.input_tokens, triage.output_tokens, triage.failures) == (70, 7, 1)
    assert [e.name for e in triage.top_errors] == ["timeout"]
    tools = {t.tool_name: t for t in monitor.get_tool_stats().tools}
    assert (tools["search"].calls, tools["refund"].failures) == (1, 1)
    assert [e.name for e in tools["refund"].top_errors] == ["PermissionError"]
    models = monitor.get_agent_stats().models
    assert [(m.model, m.runs) for m in models] == [("openai/gpt-4o", 2)]  # gen_ai.system


def test_mcp_tool_calls_are_tool_calls_and_other_spans_are_counted_not_used(
    monitor: Monitor,
) -> None:
    def build(tracer: Tracer) -> None:
        mcp_tool_call(tracer, "get_weather", 25)
        mcp_tool_call(tracer, "get_weather", 35, failed=True)
        span(tracer, "tools/list", SpanKind.SERVER, {"mcp.method.name": "tools/list"}, 1)
        span(tracer, "SELECT users", SpanKind.CLIENT, {"db.system": "sqlite"}, 1)
        span(tracer, "chat gpt-4o", SpanKind.CLIENT, {"gen_ai.operation.name": "chat"}, 1)
        span(tracer, "GET", SpanKind.SERVER, {"http.request.method": "GET", "http.route": "/x"}, 1)

    outcome = record(plan(recorded(build)), monitor)

    assert outcome.recorded == {"tool_call": 2}
    assert outcome.unused == {OTHER_MCP: 1, NOT_MAPPED: 1, MODEL_CALL_ALONE: 1, NO_STATUS: 1}
    assert outcome.rejected == 1  # only the HTTP span perf-mcp should have used
    (tool,) = monitor.get_tool_stats().tools
    assert (tool.tool_name, tool.calls, tool.failures) == ("get_weather", 2, 1)
    assert [e.name for e in tool.top_errors] == ["tool_error"]


def test_a_span_the_monitor_refuses_is_counted_and_the_rest_are_kept(monitor: Monitor) -> None:
    year_ago = 1_700_000_000 * 1_000_000_000

    def build(tracer: Tracer) -> None:
        http_request(tracer, "/ok", "GET", 200, 5)
        span(
            tracer, "GET /old", SpanKind.SERVER, _http("/old"), 5, end_ns=year_ago
        )  # past the 90 days
        span(
            tracer,
            "GET /bad",
            SpanKind.SERVER,
            _http("/bad") | {"http.response.status_code": 99},
            5,
        )

    outcome = record(plan(recorded(build)), monitor)

    assert outcome.recorded == {"request": 1}
    assert outcome.unused == {INVALID["request"]: 2}
    assert "timestamp" in str(outcome.example)
    assert [e.endpoint for e in monitor.get_endpoint_stats().endpoints] == ["/ok"]


def test_a_tool_call_without_its_run_in_the_export_is_recorded_alone(monitor: Monitor) -> None:
    def build(tracer: Tracer) -> None:
        attrs = {"gen_ai.tool.name": "lookup", "gen_ai.agent.name": "support"}  # pydantic-ai
        span(tracer, "running tool", SpanKind.INTERNAL, attrs, 10)

    outcome = record(plan(recorded(build)), monitor)

    assert outcome.recorded == {"tool_call": 1}
    assert [t.tool_name for t in monitor.get_tool_stats().tools] == ["lookup"]


def _http(route: str) -> dict[str, Any]:
    return {"http.request.method": "GET", "http.response.status_code": 200, "http.route": route}


def test_a_new_service_version_marks_one_deploy(monitor: Monitor) -> None:
    watch = VersionWatch()
    sent = [("shop", "1.0"), ("shop", "1.0"), ("shop", "1.1"), ("shop", "1.0"), ("cart", "7")]
    outcomes = [record(plan(versioned_export(*pair)), monitor, watch) for pair in sent]
    # The first version of a service is the one running; 1.1 is new; the old instance still
    # sending 1.0 during the rollout is not another deploy.
    assert [o.recorded["deploy"] for o in outcomes] == [0, 0, 1, 0, 0]
    [marker] = monitor.get_performance_summary("5m").deploys
    assert (marker.version, marker.note) == (
        "1.1",
        "new service.version of shop, seen in OTLP spans",
    )
    assert sum(o.recorded["request"] for o in outcomes) == 5


def test_a_version_watch_forgets_the_least_recent_services() -> None:
    watch = VersionWatch()
    for i in range(MAX_SERVICES + 1):
        watch.new(f"service{i}", "1")
    assert watch.new("service0", "2") is False  # forgotten: seen as for the first time
    assert watch.new(f"service{MAX_SERVICES}", "2") is True


def test_cache_writes_are_priced_and_tool_results_measured(monitor: Monitor) -> None:
    """Anthropic's model call through the current names: 1,000 input tokens of which 200 read
    from the cache and 300 written to it, no cost reported; a tool span with its result."""

    def build(tracer: Tracer) -> None:
        run = span(tracer, "invoke_agent writer", SpanKind.INTERNAL, {
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "writer",
            "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5",
        }, 900)  # fmt: skip
        span(tracer, "chat claude-sonnet-4-5", SpanKind.CLIENT, {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 1_000, "gen_ai.usage.output_tokens": 500,
            "gen_ai.usage.cache_read.input_tokens": 200,
            "gen_ai.usage.cache_creation.input_tokens": 300,  # the older name
        }, 800, run)  # fmt: skip
        span(tracer, "execute_tool grep", SpanKind.INTERNAL, {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "grep",
            "gen_ai.tool.call.result": "x" * 1_234,
        }, 5, run)  # fmt: skip

    record(plan(recorded(build)), monitor)

    (writer,) = monitor.get_agent_stats().agents
    assert (writer.cache_read_tokens, writer.cache_write_tokens) == (200, 300)
    by_hand = (500 * 3 + 200 * 0.3 + 300 * 3.75 + 500 * 15) / 1e6
    assert writer.estimated_cost_usd == pytest.approx(by_hand)
    (grep,) = monitor.get_tool_stats().tools
    assert grep.result_chars_mean == 1_234


def test_a_404_without_a_route_is_recorded_as_unmatched_not_under_its_path(
    monitor: Monitor,
) -> None:
    """Scanners probe unbounded paths: like the ASGI middleware, one `__unmatched__` series."""

    def build(tracer: Tracer) -> None:
        for path in ("/wp-admin/setup.php", "/.env", "/phpmyadmin/index.php"):
            attrs = {"http.request.method": "GET", "http.response.status_code": 404}
            span(tracer, "GET", SpanKind.SERVER, attrs | {"url.path": path}, 2)
        old = {"http.method": "GET", "http.status_code": 404, "http.target": "/cgi-bin/x?y=1"}
        span(tracer, "GET", SpanKind.SERVER, old, 2)
        routed = {"http.request.method": "GET", "http.response.status_code": 404}
        span(tracer, "GET", SpanKind.SERVER, routed | {"http.route": "/users/{id}"}, 2)
        no_route = {"http.request.method": "GET", "http.response.status_code": 200}
        span(tracer, "GET", SpanKind.SERVER, no_route | {"url.path": "/static/app.js"}, 2)

    outcome = record(plan(recorded(build)), monitor)

    assert outcome.recorded == {"request": 6}
    counts = {e.endpoint: e.count for e in monitor.get_endpoint_stats().endpoints}
    assert counts == {UNMATCHED: 4, "/users/{id}": 1, "/static/app.js": 1}


OLDER = {
    "gen_ai.system": "anthropic",
    "gen_ai.response.model": "claude-sonnet-4-5",
    "gen_ai.usage.prompt_tokens": 900,
    "gen_ai.usage.completion_tokens": 120,
    "gen_ai.usage.cache_creation.input_tokens": 40,
}
CURRENT = {
    "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": "claude-sonnet-4-5",
    "gen_ai.usage.input_tokens": 900,
    "gen_ai.usage.output_tokens": 120,
    "gen_ai.usage.cache_write.input_tokens": 40,
}


@pytest.mark.parametrize("names", [OLDER, CURRENT], ids=["older", "current"])
def test_older_and_current_genai_names_give_the_same_run(
    monitor: Monitor, names: dict[str, Any]
) -> None:
    def build(tracer: Tracer) -> None:
        run = span(tracer, "invoke_agent writer", SpanKind.INTERNAL, {
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "writer",
        }, 900)  # fmt: skip
        chat = {"gen_ai.operation.name": "chat"} | names
        span(tracer, "chat", SpanKind.CLIENT, chat, 800, run)

    record(plan(recorded(build)), monitor)

    (writer,) = monitor.get_agent_stats().agents
    assert (writer.input_tokens, writer.output_tokens, writer.cache_write_tokens) == (900, 120, 40)
    assert [m.model for m in monitor.get_agent_stats().models] == ["anthropic/claude-sonnet-4-5"]


def test_pydantic_ai_runs_named_before_the_genai_conventions_are_runs(monitor: Monitor) -> None:
    def build(tracer: Tracer) -> None:
        run = span(tracer, "agent run", SpanKind.INTERNAL, {
            "agent_name": "support", "model_name": "gpt-4o",
        }, 500)  # fmt: skip
        span(tracer, "chat gpt-4o", SpanKind.CLIENT, {
            "gen_ai.operation.name": "chat", "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 80,
        }, 100, run)  # fmt: skip
        span(tracer, "running tool", SpanKind.INTERNAL, {"gen_ai.tool.name": "lookup"}, 9, run)

    outcome = record(plan(recorded(build)), monitor)

    assert outcome.recorded == {"agent_run": 1}
    (support,) = monitor.get_agent_stats().agents
    assert (support.agent_name, support.tool_calls, support.input_tokens) == ("support", 1, 80)
