"""Monitor.record_agent_run's two lanes: plain keyword values (what the decorators send) are
checked without building an AgentRunRecord; everything else goes through the model. Both must
record the same thing and refuse the same input with the same message."""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from perf_mcp import InvalidInputError, Monitor
from perf_mcp import monitor as monitor_module
from perf_mcp.core.models import (
    MAX_DURATION_MS,
    MAX_NAME_LENGTH,
    MAX_TOKENS,
    AgentRunRecord,
    ToolCallRecord,
)

NOW = 1_800_000_000.0


@pytest.fixture
def pair() -> Iterator[tuple[Monitor, Monitor]]:
    """Two private monitors on the same fixed clock: one per lane."""
    with (
        Monitor(":memory:", clock=lambda: NOW, start_flusher=False) as keywords,
        Monitor(":memory:", clock=lambda: NOW, start_flusher=False) as model,
    ):
        yield keywords, model


@pytest.fixture
def model_lane_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every value record_agent_run sends through AgentRunRecord."""
    calls: list[Any] = []
    validated = monitor_module._validated

    def spy(model: Any, data: Any) -> Any:
        calls.append(data)
        return validated(model, data)

    monkeypatch.setattr(monitor_module, "_validated", spy)
    return calls


def typed(values: Any) -> list[tuple[type, Any]]:
    """Values with their types: 5 == 5.0 but a row holding 5 is not the row holding 5.0."""
    return [(type(v), v) for v in values]


def recorded(mon: Monitor) -> tuple[Any, ...]:
    """Everything a run leaves in the monitor: raw rows, and the bucket accumulators."""
    buckets = []
    for start, bucket in sorted(mon._pending.items()):
        for key, acc in sorted(bucket.runs.items()):
            hist = acc.hist
            buckets.append(
                (start, key, hist.count, dict(hist.bins), hist.min, hist.max, acc.sum_ms)
                + (acc.failures, dict(acc.errors), acc.input_tokens, acc.output_tokens)
                + (acc.cache_read_tokens, acc.cost_usd, acc.tool_calls, dict(acc.tools))
            )
    return (
        [typed(row) for row in mon._agent_runs],
        [typed(row) for row in mon._tool_calls],
        buckets,
    )


def outcome(record: Any) -> tuple[str, Any]:
    try:
        record()
    except InvalidInputError as exc:
        return "refused", str(exc)
    return "recorded", None


def both_lanes(pair: tuple[Monitor, Monitor], fields: dict[str, Any]) -> None:
    """Record ``fields`` as keywords on one monitor and as a validated model on the other."""
    keywords, model = pair

    def through_model() -> None:
        try:
            run = AgentRunRecord.model_validate(fields)
        except ValidationError as exc:
            raise InvalidInputError(f"invalid AgentRunRecord: {exc}") from exc
        model.record_agent_run(run)

    assert outcome(lambda: keywords.record_agent_run(**fields)) == outcome(through_model)
    assert recorded(keywords) == recorded(model)


PLAIN_RUNS: list[dict[str, Any]] = [
    {"agent_name": "planner", "duration_ms": 12.5},
    {"agent_name": "planner", "duration_ms": 3},  # an int duration is kept as a float
    {"agent_name": "planner", "duration_ms": 0.0, "success": False, "error_type": "Timeout"},
    {
        "agent_name": "planner",
        "duration_ms": 812.0,
        "success": True,
        "model": "gpt-4o",
        "provider": "openai",
        "input_tokens": 812,
        "output_tokens": 95,
        "cache_read_tokens": 40,
        "cost_usd": 2,
        "run_id": "r-1",
        "conversation_id": "c-1",
    },
    {"agent_name": "a", "duration_ms": 1.0, "model": "m"},
    {"agent_name": "a", "duration_ms": 1.0, "provider": "p", "model": ""},
    {"agent_name": "a", "duration_ms": 1.0, "error_type": "", "run_id": ""},
    {"agent_name": "a" * MAX_NAME_LENGTH, "duration_ms": MAX_DURATION_MS},
    {"agent_name": "a", "duration_ms": 1.0, "input_tokens": MAX_TOKENS, "cost_usd": 1e6},
    {"agent_name": "a", "duration_ms": 1.0, "input_tokens": 0, "output_tokens": 0},
    {"agent_name": "a", "duration_ms": 1.0, "tool_calls": []},
    {
        "agent_name": "a",
        "duration_ms": 9.0,
        "tool_calls": [
            {"tool_name": "search", "duration_ms": 2.0, "success": True, "error_type": None},
            {"tool_name": "search", "duration_ms": 3, "success": False, "error_type": "KeyError"},
            {"tool_name": "fetch", "duration_ms": 1.5},
        ],
    },
    {
        "agent_name": "a",
        "duration_ms": 9.0,
        "tool_calls": [{"tool_name": f"t{i % 7}", "duration_ms": 0.5} for i in range(1000)],
    },
]


@pytest.mark.parametrize("fields", PLAIN_RUNS)
def test_plain_keywords_record_what_the_model_records(
    pair: tuple[Monitor, Monitor], model_lane_calls: list[Any], fields: dict[str, Any]
) -> None:
    both_lanes(pair, fields)
    assert model_lane_calls == []  # the keyword call did not build a model
    assert pair[0]._agent_runs


UNUSUAL_RUNS: list[dict[str, Any]] = [
    {"agent_name": "a", "start_time": NOW - 2, "end_time": NOW - 1},
    {"agent_name": "a", "duration_ms": "12.5"},  # the model coerces: same result either way
    {"agent_name": "a", "duration_ms": 1.0, "input_tokens": 5.0},
    {
        "agent_name": "a",
        "duration_ms": 1.0,
        "tool_calls": [ToolCallRecord(tool_name="t", duration_ms=2.0, success=False)],
    },
    {
        "agent_name": "a",
        "duration_ms": 1.0,
        "tool_calls": [{"tool_name": "t", "duration_ms": 1.0, "agent_name": "b"}],
    },
    {
        "agent_name": "a",
        "duration_ms": 1.0,
        "tool_calls": [{"tool_name": "t", "duration_ms": 1.0, "timestamp": NOW - 5}],
    },
    {
        "agent_name": "a",
        "duration_ms": 1.0,
        "tool_calls": [{"tool_name": "t", "duration_ms": 1.0, "call_id": "x"}],
    },
]


@pytest.mark.parametrize("fields", UNUSUAL_RUNS)
def test_anything_else_goes_through_the_model(
    pair: tuple[Monitor, Monitor], model_lane_calls: list[Any], fields: dict[str, Any]
) -> None:
    both_lanes(pair, fields)
    assert len(model_lane_calls) == 1
    assert pair[0]._agent_runs


BAD_RUNS: list[dict[str, Any]] = [
    {},
    {"duration_ms": 1.0},
    {"agent_name": "a"},
    {"agent_name": None, "duration_ms": 1.0},
    {"agent_name": "", "duration_ms": 1.0},
    {"agent_name": "   ", "duration_ms": 1.0},
    {"agent_name": "a" * (MAX_NAME_LENGTH + 1), "duration_ms": 1.0},
    {"agent_name": 7, "duration_ms": 1.0},
    {"agent_name": "a", "duration_ms": -1.0},
    {"agent_name": "a", "duration_ms": math.nan},
    {"agent_name": "a", "duration_ms": math.inf},
    {"agent_name": "a", "duration_ms": MAX_DURATION_MS * 2},
    {"agent_name": "a", "duration_ms": None},
    {"agent_name": "a", "duration_ms": 1.0, "success": "maybe"},
    {"agent_name": "a", "duration_ms": 1.0, "success": None},
    {"agent_name": "a", "duration_ms": 1.0, "input_tokens": -1},
    {"agent_name": "a", "duration_ms": 1.0, "output_tokens": MAX_TOKENS + 1},
    {"agent_name": "a", "duration_ms": 1.0, "cache_read_tokens": 1.5},
    {"agent_name": "a", "duration_ms": 1.0, "cost_usd": -0.01},
    {"agent_name": "a", "duration_ms": 1.0, "cost_usd": math.inf},
    {"agent_name": "a", "duration_ms": 1.0, "error_type": "e" * (MAX_NAME_LENGTH + 1)},
    {"agent_name": "a", "duration_ms": 1.0, "model": 4},
    {"agent_name": "a", "duration_ms": 1.0, "conversation_id": ["c"]},
    {"agent_name": "a", "duration_ms": 1.0, "tool_calls": None},
    {"agent_name": "a", "duration_ms": 1.0, "tool_calls": "search"},
    {"agent_name": "a", "duration_ms": 1.0, "tool_calls": [{"tool_name": "t"}]},
    {"agent_name": "a", "duration_ms": 1.0, "tool_calls": [{"tool_name": " ", "duration_ms": 1}]},
    {"agent_name": "a", "duration_ms": 1.0, "tool_calls": [{"duration_ms": 1.0}]},
    {
        "agent_name": "a",
        "duration_ms": 1.0,
        "tool_calls": [{"tool_name": "t", "duration_ms": -1.0, "success": True}],
    },
    {
        "agent_name": "a",
        "duration_ms": 1.0,
        "tool_calls": [{"tool_name": "t", "duration_ms": 1.0, "surprise": 1}],
    },
    {
        "agent_name": "a",
        "duration_ms": 1.0,
        "tool_calls": [{"tool_name": "t", "duration_ms": 0.5}] * 1001,
    },
    {"agent_name": "a", "duration_ms": 1.0, "unknown_field": 1},
]


@pytest.mark.parametrize("fields", BAD_RUNS)
def test_bad_keywords_are_refused_with_the_model_message(
    pair: tuple[Monitor, Monitor], fields: dict[str, Any]
) -> None:
    keywords, _ = pair
    with pytest.raises(InvalidInputError) as refused:
        keywords.record_agent_run(**fields)
    with pytest.raises(ValidationError) as invalid:
        AgentRunRecord.model_validate(fields)
    assert str(refused.value) == f"invalid AgentRunRecord: {invalid.value}"
    assert recorded(keywords) == ([], [], [])


def test_the_plain_lane_takes_the_model_fields_but_the_times() -> None:
    # A field the model drops but the plain lane kept would be recorded instead of refused.
    lane = set(inspect.signature(Monitor._record_plain_run).parameters) - {"self", "other"}
    assert lane == set(AgentRunRecord.model_fields) - {"start_time", "end_time"}


def test_a_model_and_keywords_together_are_refused(pair: tuple[Monitor, Monitor]) -> None:
    run = AgentRunRecord(agent_name="a", duration_ms=1.0)
    with pytest.raises(InvalidInputError, match="not both"):
        pair[0].record_agent_run(run, agent_name="a")


LABELS = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.sampled_from(["", " ", "x" * MAX_NAME_LENGTH, "x" * (MAX_NAME_LENGTH + 1)]),
    st.integers(),
)
NUMBERS = st.one_of(
    st.integers(min_value=-2, max_value=MAX_TOKENS + 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 0.0, -0.0, MAX_DURATION_MS, 1e6, True, "1", None]),
)
TOOL_CALLS = st.lists(
    st.fixed_dictionaries(
        {"tool_name": LABELS, "duration_ms": NUMBERS},
        optional={"success": st.one_of(st.booleans(), st.none()), "error_type": LABELS},
    ),
    max_size=3,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "agent_name": LABELS,
        "duration_ms": NUMBERS,
        "success": st.one_of(st.booleans(), st.sampled_from([0, 1, "yes", None])),
        "error_type": LABELS,
        "model": LABELS,
        "provider": LABELS,
        "input_tokens": NUMBERS,
        "output_tokens": NUMBERS,
        "cache_read_tokens": NUMBERS,
        "cost_usd": NUMBERS,
        "tool_calls": st.one_of(TOOL_CALLS, st.none()),
        "run_id": LABELS,
        "conversation_id": LABELS,
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields=FIELDS)
def test_any_keywords_give_the_same_outcome_on_both_lanes(fields: dict[str, Any]) -> None:
    with (
        Monitor(":memory:", clock=lambda: NOW, start_flusher=False) as keywords,
        Monitor(":memory:", clock=lambda: NOW, start_flusher=False) as model,
    ):
        both_lanes((keywords, model), fields)
