"""Chart series: each point holds exactly what was recorded in it, over every tier."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from perf_mcp import Monitor
from perf_mcp.core.stats import nearest_rank
from perf_mcp.core.validation import InvalidInputError

NOW = 1_699_999_200.0  # a multiple of 2 h: the points of every window line up with it


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def store(db_path: Path, clock: Clock) -> Monitor:
    with Monitor(db_path, clock=clock, start_flusher=False) as monitor:
        yield monitor


def exact_p95(values: list[float]) -> float:
    return sorted(values)[nearest_rank(len(values), 0.95)]


def test_each_point_of_a_day_holds_the_requests_that_ended_in_it(
    store: Monitor, clock: Clock
) -> None:
    rng = random.Random(7)
    recorded: dict[int, list[tuple[float, int]]] = {}
    clock.now = NOW - 86400 + 1
    for _ in range(3000):  # written as time passes, so rows of every tier exist
        clock.now += rng.uniform(0, 57)
        duration, status = rng.lognormvariate(3, 1), rng.choice([200, 200, 200, 503])
        store.record_request("/search", "GET", status, duration)
        recorded.setdefault(int(clock.now), []).append((duration, status))
        if rng.random() < 0.05:
            store.flush()
    clock.now = NOW + 5

    timeline = store.get_timeline("request", "24h")

    assert (timeline.step_s, len(timeline.points)) == (900, 96)
    assert timeline.end == NOW + 900
    for point in timeline.points:
        inside = [
            sample
            for ts, samples in recorded.items()
            if point.start <= ts < point.start + 900
            for sample in samples
        ]
        assert point.count == len(inside)
        assert point.errors == sum(status == 503 for _, status in inside)
        assert point.per_s == len(inside) / 900
        if inside:
            p95 = exact_p95([d for d, _ in inside])
            assert point.p95_ms == pytest.approx(p95, rel=0.01)
        else:
            assert (point.p95_ms, point.error_rate) == (None, None)
    assert sum(p.count for p in timeline.points) == sum(
        len(v) for ts, v in recorded.items() if ts >= timeline.start
    )


def test_a_named_series_has_only_its_own_records_and_names_are_normalised(
    store: Monitor,
) -> None:
    store.record_request("/users/42", "GET", 200, 10.0, timestamp=NOW - 100)
    store.record_request("/users/7", "POST", 500, 30.0, timestamp=NOW - 100)
    store.record_request("/other", "GET", 200, 99.0, timestamp=NOW - 100)

    users = store.get_timeline("request", "5m", name="/users/1")
    gets = store.get_timeline("request", "5m", name="/users/{id}", method="get")
    total = store.get_timeline("request", "5m")

    assert users.name == "/users/{id}"
    assert [p.count for p in users.points if p.count] == [2]
    assert [(p.count, p.errors, p.p99_ms) for p in gets.points if p.count] == [(1, 0, 10.0)]
    assert [(p.count, p.errors) for p in total.points if p.count] == [(3, 1)]
    assert (total.step_s, len(total.points)) == (10, 30)


def test_runs_and_tool_calls_count_failures_per_point(store: Monitor) -> None:
    store.record_agent_run(
        agent_name="triage", duration_ms=1200.0, success=False, error_type="timeout",
        end_time=NOW - 3000,
    )  # fmt: skip
    store.record_agent_run(agent_name="triage", duration_ms=800.0, end_time=NOW - 3000)
    store.record_tool_call("search", 40.0, success=False, timestamp=NOW - 30)

    agents = store.get_timeline("agent", "1h", name="triage")
    tools = store.get_timeline("tool", "1h")

    assert agents.step_s == 60
    assert [(p.count, p.errors, p.error_rate) for p in agents.points if p.count] == [(2, 1, 0.5)]
    assert [(p.count, p.errors, p.p50_ms) for p in tools.points if p.count] == [(1, 1, 40.0)]


def test_a_week_reads_hour_rows_and_keeps_every_record(store: Monitor, clock: Clock) -> None:
    for day in range(7):
        store.record_request("/a", "GET", 200, 5.0, timestamp=NOW - day * 86400 - 10)
        store.flush()
    week = store.get_timeline("request", "7d")
    assert week.step_s == 7200
    assert sum(p.count for p in week.points) == 7


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "model"}, "kind must be one of request, agent, tool"),
        ({"window": "2h"}, "window must be one of"),
        ({"kind": "agent", "method": "GET"}, "method applies to kind 'request' only"),
        ({"name": " "}, "name"),
    ],
)
def test_bad_arguments_say_what_is_allowed(
    store: Monitor, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        store.get_timeline(**kwargs)  # type: ignore[arg-type]
