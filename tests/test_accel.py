"""The compiled record lane (perf_mcp._accel) against the Python reference path."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from perf_mcp import Monitor
from perf_mcp.config import Settings
from perf_mcp.core.series import RunAcc
from perf_mcp.monitor import _accel

from .test_monitor import T0, FakeClock

pytestmark = pytest.mark.skipif(
    _accel is None, reason="perf_mcp._accel was not built (no C compiler at install)"
)

ENDPOINTS = ["/users/42", "/users/{id}", "/orders", "/orders/7/items", "/", "/a" * 300]
METHODS = ["GET", "get", "POST", "DELETE", "G E T", ""]


def monitor(path: Path, clock: FakeClock, *, accelerate: bool) -> Monitor:
    return Monitor(path, clock=clock, start_flusher=False, settings=Settings(accelerate=accelerate))


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Monitor, Monitor, FakeClock]]:
    clock = FakeClock()
    with (
        monitor(tmp_path / "c.db", clock, accelerate=True) as compiled,
        monitor(tmp_path / "p.db", clock, accelerate=False) as python,
    ):
        yield compiled, python, clock


def random_call(rng: random.Random) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Mostly valid requests, with every kind of unusual or invalid argument mixed in."""
    args: list[Any] = [
        rng.choice(ENDPOINTS),
        rng.choice(METHODS) if rng.random() < 0.2 else "GET",
        rng.choice([200, 201, 302, 404, 500, 503]),
        rng.lognormvariate(3, 1.5),
    ]
    odd = rng.random()
    if odd < 0.03:
        args[2] = rng.choice([99, 600, True, "200", 200.0, 1 << 70])
    elif odd < 0.06:
        args[3] = rng.choice([-1.0, float("nan"), float("inf"), 3e9, "5", None, 0, 0.0, 7, 1e-9])
    elif odd < 0.08:
        args[0] = rng.choice(["", 42, None, "x" * 5000])
    extra = rng.random()
    if extra < 0.5:
        args.append(rng.choice([None, 0, 512, 1 << 41, -1, 3.5]))
        args.append(rng.choice([None, 0, 2048, 1 << 60]))
    if extra < 0.3:
        args.append(rng.choice([None, T0 - rng.uniform(0, 60), T0 + 1e7, 5, float("nan")]))
    if rng.random() < 0.1:  # the same call by keyword
        names = ["request_bytes", "response_bytes", "timestamp"]
        return tuple(args[:4]), dict(zip(names, args[4:], strict=False))
    return tuple(args), {}


def typed(rows: list[Any]) -> tuple[int, list[list[tuple[type, Any]]]]:
    """How many raw rows, and the newest few with each value's type (so 3 and 3.0 differ)."""
    return len(rows), [[(type(value), value) for value in row] for row in rows[-3:]]


def outcome(record: Callable[..., None], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        record(*args, **kwargs)
    except Exception as exc:  # the error is part of the behaviour compared
        return type(exc), str(exc)
    return None


def test_the_compiled_lane_is_bound_and_can_be_turned_off(
    pair: tuple[Monitor, Monitor, FakeClock],
) -> None:
    compiled, python, _ = pair
    assert compiled.accelerated
    assert isinstance(compiled.record_request, _accel.Recorder)
    assert not python.accelerated
    assert python.record_request.__func__ is Monitor.record_request  # type: ignore[attr-defined]


def replay(
    pair: tuple[Monitor, Monitor, FakeClock],
    method: str,
    random_call: Callable[[random.Random], tuple[tuple[Any, ...], dict[str, Any]]],
    raw: str | None = None,
) -> int:
    """Make the same 10,000 random calls of ``method`` on both lanes, the clock crossing a
    10 s bucket every ~400 calls: each must end alike (the same error, the same newest raw
    rows). Returns how many were refused."""
    compiled, python, clock = pair
    rng = random.Random(method)
    errors = 0
    for i in range(10_000):
        args, kwargs = random_call(rng)
        got = outcome(getattr(compiled, method), args, kwargs)
        assert got == outcome(getattr(python, method), args, kwargs), (args, kwargs)
        if raw is not None:
            assert typed(getattr(compiled, raw)) == typed(getattr(python, raw)), (args, kwargs)
        errors += got is not None
        clock.now += rng.expovariate(40)
        if i % 2000 == 0:
            compiled.flush()
            python.flush()
    return errors


def test_same_answers_and_same_errors_as_python(pair: tuple[Monitor, Monitor, FakeClock]) -> None:
    compiled, python, _ = pair
    assert replay(pair, "record_request", random_call) > 500  # the error paths were exercised

    for query in (
        lambda mon: mon.get_endpoint_stats(window="15m", limit=500),
        lambda mon: mon.get_performance_summary(window="15m"),
    ):
        expected = query(python).model_dump(exclude={"generated_at"})
        assert query(compiled).model_dump(exclude={"generated_at"}) == expected
    assert sum(e.count for e in compiled.get_endpoint_stats(window="15m").endpoints) > 5_000


AGENTS = ["planner", "coder", " ", "", "x" * 201, "reviewer"]


def random_run(rng: random.Random) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Mostly plain keyword runs (what the decorators send), with every odd value mixed in."""
    fields: dict[str, Any] = {
        "agent_name": rng.choice(AGENTS) if rng.random() < 0.1 else rng.choice(AGENTS[:2]),
        "duration_ms": rng.choice([rng.lognormvariate(6, 1), 250, 0, -1.0, float("nan"), "9"]),
    }
    optional: dict[str, list[Any]] = {
        "success": [True, False, False, 1, None],
        "error_type": ["TimeoutError", "", None, 7, "e" * 201],
        "model": ["claude-sonnet-4", "gpt-5", "", None],
        "provider": ["anthropic", "openai", "", None],
        "input_tokens": [0, 1200, -1, 1 << 41, 3.0],
        "output_tokens": [0, 310, True],
        "cache_read_tokens": [0, 64],
        "cost_usd": [0.0, 0, 0.0125, 2e6, float("inf")],
        "run_id": ["r-1", None, 5],
        "conversation_id": ["c-1", None],
        "tool_calls": [[], [{"tool_name": "search", "duration_ms": 3.0}]],
        "end_time": [T0 - 5],
        "surprise": [1],
    }
    for name, values in optional.items():
        if rng.random() < (0.02 if name in ("end_time", "surprise") else 0.3):
            fields[name] = rng.choice(values)
    return (), fields


def test_agent_runs_give_the_same_answers_and_errors_as_python(
    pair: tuple[Monitor, Monitor, FakeClock],
) -> None:
    compiled, python, _ = pair
    assert isinstance(compiled.record_agent_run, _accel.Recorder)
    assert replay(pair, "record_agent_run", random_run, raw="_agent_runs") > 1000
    for query in (
        lambda mon: mon.get_agent_stats(window="15m", limit=500),
        lambda mon: mon.get_tool_stats(window="15m", limit=500),
    ):
        assert query(compiled).model_dump() == query(python).model_dump()
    assert sum(a.runs for a in compiled.get_agent_stats(window="15m").agents) > 3000


def random_tool_call(rng: random.Random) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Mostly what @monitor_tool sends (by position), with every odd value mixed in."""
    args: list[Any] = [
        rng.choice(["search", "fetch", " ", "", None, "t" * 201])
        if rng.random() < 0.1
        else "search",
        rng.choice([rng.lognormvariate(1, 1), 3, 0.0, -2.0, float("nan"), "1", 3e9]),
        rng.choice([True, False, 0, None]) if rng.random() < 0.2 else rng.random() < 0.8,
        rng.choice([None, "ValueError", " ", 5]) if rng.random() < 0.3 else None,
        rng.choice([None, "planner", "", "a" * 201]) if rng.random() < 0.3 else None,
    ]
    del args[rng.choice([2, 3, 4, 5, 5, 5]) :]  # the caller may stop after any optional one
    if rng.random() < 0.05:
        args += [None] * (5 - len(args)) + [rng.choice([None, T0 - 30, T0 + 1e6])]
    if rng.random() < 0.05:
        return tuple(args[:2]), {"success": False, "error_type": "KeyError"}
    return tuple(args), {}


def test_tool_calls_give_the_same_answers_and_errors_as_python(
    pair: tuple[Monitor, Monitor, FakeClock],
) -> None:
    compiled, python, _ = pair
    assert isinstance(compiled.record_tool_call, _accel.Recorder)
    assert replay(pair, "record_tool_call", random_tool_call, raw="_tool_calls") > 500
    answer = compiled.get_tool_stats(window="15m", limit=500)
    assert answer.model_dump() == python.get_tool_stats(window="15m", limit=500).model_dump()
    assert sum(t.calls for t in answer.tools) > 2000


def test_threads_and_the_flusher_lose_nothing(db_path: Path) -> None:
    """Recording without a lock while the flusher swaps buckets and queries read them."""
    with Monitor(db_path, flush_interval_s=0.001) as mon:
        assert mon.accelerated

        def work(n: int) -> None:
            for i in range(20_000):
                mon.record_request(f"/t{n}", "GET", 500 if i % 10 == 0 else 200, 1.0 + i % 50)

        def runs(n: int) -> None:
            for i in range(5_000):
                mon.record_agent_run(
                    agent_name=f"a{n}", duration_ms=2.0, success=i % 5 != 0, input_tokens=3
                )

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]

        def calls(n: int) -> None:
            for i in range(5_000):
                mon.record_tool_call(f"t{n}", 1.0, i % 4 != 0, None if i % 4 else "Boom")

        threads += [threading.Thread(target=runs, args=(n,)) for n in range(2)]
        threads += [threading.Thread(target=calls, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        seen = []  # the summary adds what is in memory to what was flushed: never twice
        while not seen or any(t.is_alive() for t in threads):
            summary = mon.get_performance_summary(window="1m")
            seen.append((summary.requests.count, summary.agents.runs, summary.tools.calls))
        for t in threads:
            t.join()
        totals = (80_000, 10_000, 10_000)
        for counts, total in zip(zip(*seen, strict=True), totals, strict=True):
            assert list(counts) == sorted(counts)  # only ever grew
            assert max(counts) <= total
        summary = mon.get_performance_summary(window="1m")
        assert (summary.requests.count, summary.agents.runs, summary.tools.calls) == totals
        rows = mon.get_endpoint_stats(window="5m").endpoints
        assert sorted((r.count, r.error_count) for r in rows) == [(20_000, 2_000)] * 4
        agents = mon.get_agent_stats(window="5m").agents
        assert (
            sorted((a.runs, a.failures, a.input_tokens) for a in agents)
            == [(5_000, 1_000, 15_000)] * 2
        )
        tools = mon.get_tool_stats(window="5m").tools
        assert sorted((t.calls, t.failures) for t in tools) == [(5_000, 1_250)] * 2


def test_summaries_between_flushes_count_each_record_once(db_path: Path) -> None:
    """Summaries asked while threads record on the fast lanes, with flushes now and then:
    each adds the records still in memory to the flushed ones, none twice, none lost."""
    with Monitor(db_path, start_flusher=False) as mon:
        assert mon.accelerated

        def work(n: int) -> None:
            for i in range(20_000):
                mon.record_request(f"/t{n % 3}", "GET", 500 if i % 10 == 0 else 200, 1.0 + i % 50)
                if i % 4 == 0:
                    mon.record_tool_call(f"t{n}", 1.0, i % 8 != 0)
                if i % 200 == 0:
                    time.sleep(0.001)  # let the summaries in between

        mon.get_performance_summary(window="1m")  # the stored part, read once up front
        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        asked = 0
        while not asked or any(t.is_alive() for t in threads):
            summary = mon.get_performance_summary(window="1m")
            assert summary.requests.count <= 80_000
            assert summary.tools.calls <= 20_000
            asked += 1
            if asked % 7 == 0:
                mon.flush()
        for t in threads:
            t.join()
        summary = mon.get_performance_summary(window="1m")  # partly still in memory
        assert (summary.requests.count, summary.requests.error_count) == (80_000, 8_000)
        assert (summary.tools.calls, summary.tools.failures) == (20_000, 10_000)
        assert sum(row.count for row in summary.slowest_endpoints) == 80_000
        assert asked > 10


def test_a_requeued_flush_keeps_what_the_lane_adds(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed write merges its buckets back while new requests arrive on the fast lane."""
    clock = FakeClock()
    with monitor(db_path, clock, accelerate=True) as mon:
        real_write = mon.storage.write
        mon.record_request("/kept", "GET", 200, 5.0)

        def failing_write(batch: object) -> None:
            mon.record_request("/kept", "GET", 200, 6.0)  # lands in the new current bucket
            raise OSError("disk full")

        monkeypatch.setattr(mon.storage, "write", failing_write)
        with pytest.raises(OSError, match="disk full"):
            mon.flush()
        mon.record_request("/kept", "GET", 500, 7.0)  # fast lane after the requeue
        monkeypatch.setattr(mon.storage, "write", real_write)
        (row,) = mon.get_endpoint_stats().endpoints
        assert (row.count, row.error_count, row.min_ms, row.max_ms) == (3, 1, 5.0, 7.0)


def test_recorder_add_checks_its_arguments(pair: tuple[Monitor, Monitor, FakeClock]) -> None:
    compiled, _, _ = pair
    with pytest.raises(TypeError, match="RequestAcc"):
        compiled._add_request(object(), 200, 1.0, None, None, T0)
    with pytest.raises(TypeError, match="6 arguments"):
        compiled._add_request()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="RunAcc"):
        compiled._add_run(object(), 1.0, None, False, 0, 0, 0, 0.0, [])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="checked values"):
        compiled._add_run(RunAcc(), -1.0, None, False, 0, 0, 0, 0.0, [])
