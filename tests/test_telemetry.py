"""Recorded agent runs and tool calls out as OpenTelemetry GenAI spans, on the real SDK."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from perf_mcp import Monitor, telemetry
from perf_mcp.otlp import mapping, metrics
from perf_mcp.otlp.metrics_points import Streams
from perf_mcp.otlp.stats import RECORDED_HERE
from tests.otlp.test_metrics import AGENT, duration_metric, export

END = 1_800_000_000.25
DURATION = "gen_ai.invoke_agent.duration"
RUN = {
    "agent_name": "planner",
    "start_time": END - 2.5,
    "end_time": END,
    "model": "gpt-4o",
    "provider": "openai",
    "input_tokens": 1000,
    "output_tokens": 500,
    "cache_read_tokens": 200,
    "cost_usd": 0.0075,
    "conversation_id": "conv-7",
    "tool_calls": [
        {"tool_name": "search", "duration_ms": 400.0, "timestamp": END - 1, "call_id": "c1"},
        {"tool_name": "fetch", "duration_ms": 30.0, "success": False, "error_type": "Timeout"},
    ],
}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans of a real SDK provider that recorded runs and calls go to; off afterwards."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.emit_genai_spans(provider)
    yield exporter
    telemetry.stop_genai_spans()


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


def test_a_run_is_an_invoke_agent_span_with_its_tool_calls_as_children_at_real_times(
    spans: InMemorySpanExporter,
) -> None:
    with Monitor(":memory:", clock=lambda: END + 5) as monitor:
        monitor.record_agent_run(**RUN)
    got = by_name(spans)
    run, search, fetch = (
        got["invoke_agent planner"],
        got["execute_tool search"],
        got["execute_tool fetch"],
    )
    assert (run.start_time, run.end_time) == (1_799_999_997_750_000_000, 1_800_000_000_250_000_000)
    assert dict(run.attributes or {}) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "planner",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.provider.name": "openai",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 500,
        "gen_ai.usage.cache_read.input_tokens": 200,
        "gen_ai.conversation.id": "conv-7",
        "operation.cost": 0.0075,
        telemetry.RECORDED_BY: telemetry.PROCESS_MARK,
    }
    assert run.status.status_code == StatusCode.UNSET
    assert search.parent is not None
    assert search.parent.span_id == run.context.span_id
    assert (search.start_time, search.end_time) == (
        1_799_999_998_850_000_000,
        1_799_999_999_250_000_000,
    )
    assert dict(search.attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "search",
        "gen_ai.tool.call.id": "c1",
        telemetry.RECORDED_BY: telemetry.PROCESS_MARK,
    }
    assert fetch.attributes is not None
    assert fetch.attributes["error.type"] == "Timeout"
    assert fetch.status.status_code == StatusCode.ERROR
    assert fetch.end_time == run.end_time  # a nested call without a time ends with its run


def test_a_lone_failed_tool_call_is_an_execute_tool_span_with_its_error(
    spans: InMemorySpanExporter,
) -> None:
    with Monitor(":memory:", clock=lambda: END) as monitor:
        monitor.record_tool_call("search", 120.0, success=False, agent_name="planner")
    [call] = spans.get_finished_spans()
    assert call.name == "execute_tool search"
    assert (call.start_time, call.end_time) == (
        1_800_000_000_130_000_000,
        1_800_000_000_250_000_000,
    )
    assert call.attributes is not None
    assert (call.attributes["gen_ai.agent.name"], call.attributes["error.type"]) == (
        "planner",
        "_OTHER",
    )
    assert call.status.status_code == StatusCode.ERROR


def in_another_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, spans emitted so far read as another process's."""
    monkeypatch.setattr(telemetry, "PROCESS_MARK", "another process")


def test_an_otlp_receiver_reads_the_spans_back_as_the_same_run(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Monitor(":memory:", clock=lambda: END + 5) as monitor:
        monitor.record_agent_run(**RUN)
    in_another_process(monkeypatch)
    plan = mapping.plan(encode_spans(spans.get_finished_spans()))
    [(run, used)] = plan.runs
    assert used == 3
    assert {k: run[k] for k in ("agent_name", "model", "provider", "input_tokens")} == {
        "agent_name": "planner", "model": "gpt-4o", "provider": "openai", "input_tokens": 1000
    }  # fmt: skip
    assert (run["output_tokens"], run["cache_read_tokens"], run["cost_usd"]) == (500, 200, 0.0075)
    assert run["duration_ms"] == pytest.approx(2500.0)
    calls = {(c["tool_name"], c["success"]) for c in run["tool_calls"]}
    assert calls == {("search", True), ("fetch", False)}


def test_a_server_receiving_its_own_spans_counts_each_run_once(
    spans: InMemorySpanExporter,
) -> None:
    """A server exporting its telemetry to its own OTLP receiver: what it recorded comes back,
    and is known by its mark."""
    with Monitor(":memory:", clock=lambda: END + 5) as monitor:
        monitor.record_agent_run(**RUN)
        monitor.record_tool_call("lone", 12.0, timestamp=END)
        emitted = spans.get_finished_spans()
        outcome = mapping.record(mapping.plan(encode_spans(emitted)), monitor)
        assert outcome.recorded == {}
        assert outcome.unused == {RECORDED_HERE: 4}
        assert monitor.get_agent_stats().agents[0].runs == 1
        assert len(spans.get_finished_spans()) == 4


def test_runs_and_calls_received_over_otlp_are_not_emitted_again(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server exporting its telemetry to its own OTLP receiver would otherwise receive each
    run again, and again."""
    with Monitor(":memory:", clock=lambda: END + 5) as monitor:
        monitor.record_agent_run(**RUN)
        monitor.record_tool_call("lone", 12.0, timestamp=END)
        emitted = spans.get_finished_spans()
        assert len(emitted) == 4
        spans.clear()
        in_another_process(monkeypatch)

        outcome = mapping.record(mapping.plan(encode_spans(emitted)), monitor)
        assert outcome.recorded == {"agent_run": 1, "tool_call": 1}
        assert spans.get_finished_spans() == ()

        monitor.record_tool_call("after", 5.0)  # the app's own records still are
        assert [s.name for s in spans.get_finished_spans()] == ["execute_tool after"]
        assert monitor.get_agent_stats().agents[0].runs == 2

        points = metrics.plan(export(duration_metric(DURATION, "s", 3, AGENT)), Streams(0))
        assert metrics.record(points, monitor).recorded == {"agent_run": 3}
        assert len(spans.get_finished_spans()) == 1


def test_logfire_recording_spans_carries_the_genai_spans() -> None:
    # In a process of its own: Logfire's configuration is global, and earlier tests set it.
    script = (
        "from logfire.testing import TestExporter\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from perf_mcp import Monitor, telemetry\n"
        "exporter = TestExporter()\n"
        "telemetry.configure(now=True, send_to_logfire=False, console=False,\n"
        "    additional_span_processors=[SimpleSpanProcessor(exporter)])\n"
        "with Monitor(':memory:') as monitor:\n"
        "    monitor.record_agent_run(agent_name='planner', duration_ms=900.0)\n"
        "print([span['name'] for span in exporter.exported_spans_as_dict()])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "['invoke_agent planner']"


def test_without_configuration_nothing_is_emitted_and_opentelemetry_is_not_imported() -> None:
    script = (
        "import sys; from perf_mcp import Monitor\n"
        "with Monitor(':memory:') as m:\n"
        "    m.record_agent_run(agent_name='a', duration_ms=5.0)\n"
        "    m.record_tool_call('t', 1.0)\n"
        "print(sorted(n for n in sys.modules if n.startswith(('opentelemetry', 'logfire'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
