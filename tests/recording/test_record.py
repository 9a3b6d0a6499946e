"""The record path: every call checked whole at the call, queued, folded, counted once."""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perf_mcp import InvalidInputError, Monitor
from perf_mcp.config import Settings
from perf_mcp.core.models import AgentRunRecord

NOW = 1_800_000_000.0

# Values no record method may take where a number, a count or a flag belongs.
BAD_NUMBERS = [True, False, "5", "fast", None, math.nan, math.inf, -math.inf, -1, 1e13]
BAD_COUNTS = [True, "5", 1.5, math.nan, math.inf, -1, 1 << 60, Decimal("5"), Fraction(5)]
BAD_FLAGS = [1, 0, "yes", "true", None, 1.0]
BAD_NAMES = ["", "   ", None, 5, "x" * 201, "lone \udc80 surrogate", b"bytes"]


@pytest.fixture
def mon(db_path: Path) -> Iterator[Monitor]:
    with Monitor(db_path, clock=lambda: NOW, start_flusher=False) as monitor:
        yield monitor


def recorded(mon: Monitor) -> tuple[int, int, int]:
    """Requests, agent runs and tool calls the store has in the last 5 minutes."""
    stats = mon.get_endpoint_stats(limit=500), mon.get_agent_stats(), mon.get_tool_stats()
    return (
        sum(e.count for e in stats[0].endpoints),
        sum(a.runs for a in stats[1].agents),
        sum(t.calls for t in stats[2].tools),
    )


def request(**changes: Any) -> Callable[[Monitor], None]:
    args = {"endpoint": "/a", "method": "GET", "status_code": 200, "duration_ms": 5.0} | changes
    return lambda mon: mon.record_request(**args)


def run(**changes: Any) -> Callable[[Monitor], None]:
    fields = {"agent_name": "planner", "duration_ms": 5.0} | changes
    return lambda mon: mon.record_agent_run(**fields)


def nested(**changes: Any) -> Callable[[Monitor], None]:
    """A run whose second tool call is changed: nothing of the run may be recorded."""
    good = {"tool_name": "search", "duration_ms": 1.0}
    return run(tool_calls=[good, good | changes])


def tool(**changes: Any) -> Callable[[Monitor], None]:
    args = {"tool_name": "search", "duration_ms": 5.0} | changes
    return lambda mon: mon.record_tool_call(**args)


BAD_CALLS = (
    [(f"request duration_ms={v!r}", request(duration_ms=v), "duration_ms") for v in BAD_NUMBERS]
    + [(f"request status_code={v!r}", request(status_code=v), "status_code") for v in BAD_COUNTS]
    + [(f"request bytes={v!r}", request(request_bytes=v), "request_bytes") for v in BAD_COUNTS]
    + [(f"request endpoint={v!r:.20}", request(endpoint=v), "endpoint")
       for v in [*BAD_NAMES[:4], "/" * 2001, *BAD_NAMES[5:]]]
    + [(f"request timestamp={v!r}", request(timestamp=v), "timestamp")
       for v in [v for v in BAD_NUMBERS if v is not None] + [0, NOW + 3600]]
    + [(f"run duration_ms={v!r}", run(duration_ms=v), "duration_ms") for v in BAD_NUMBERS[:-4]]
    + [(f"run cost_usd={v!r}", run(cost_usd=v), "cost_usd") for v in BAD_NUMBERS]
    + [(f"run input_tokens={v!r}", run(input_tokens=v), "input_tokens") for v in BAD_COUNTS]
    + [(f"run success={v!r}", run(success=v), "success") for v in BAD_FLAGS]
    + [(f"run agent_name={v!r:.20}", run(agent_name=v), "agent_name") for v in BAD_NAMES]
    + [(f"run model={v!r:.20}", run(model=v), "model") for v in BAD_NAMES if v is not None]
    + [(f"nested duration_ms={v!r}", nested(duration_ms=v), r"tool_calls\[1\]\.duration_ms")
       for v in BAD_NUMBERS]
    + [(f"nested timestamp={v!r}", nested(timestamp=v), r"tool_calls\[1\]\.timestamp")
       for v in [0, NOW + 3600, math.nan, "now", True]]
    + [(f"nested success={v!r}", nested(success=v), r"tool_calls\[1\]\.success") for v in BAD_FLAGS]
    + [("nested unknown field", nested(tool="x"), r"tool_calls\[1\].*unknown field\(s\) tool")]
    + [("run unknown field", run(tokens=5), r"unknown field\(s\) tokens")]
    + [(f"tool duration_ms={v!r}", tool(duration_ms=v), "duration_ms") for v in BAD_NUMBERS]
    + [(f"tool success={v!r}", tool(success=v), "success") for v in BAD_FLAGS]
    + [(f"tool tool_name={v!r:.20}", tool(tool_name=v), "tool_name") for v in BAD_NAMES]
    + [(f"tool result_chars={v!r}", tool(result_chars=v), "result_chars")
       for v in BAD_COUNTS if v is not None]
    + [(f"run cache_write_tokens={v!r}", run(cache_write_tokens=v), "cache_write_tokens")
       for v in BAD_COUNTS]
    + [(f"nested result_chars={v!r}", nested(result_chars=v), r"tool_calls\[1\]\.result_chars")
       for v in BAD_COUNTS if v is not None]
)  # fmt: skip


@pytest.mark.parametrize(
    ("call", "field"), [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS]
)
def test_a_bad_value_is_refused_by_name_and_nothing_of_the_call_is_recorded(
    mon: Monitor, call: Callable[[Monitor], None], field: str
) -> None:
    with pytest.raises(InvalidInputError, match=field):
        call(mon)
    mon.flush()  # the store is still writable ...
    assert recorded(mon) == (0, 0, 0)  # ... and holds nothing of the refused call
    request()(mon)  # later records and queries work as before
    assert recorded(mon) == (1, 0, 0)
    assert mon.get_performance_summary().requests.count == 1


BAD_HANDED = (
    [{"duration_ms": v} for v in BAD_NUMBERS]
    + [{"status": v} for v in BAD_COUNTS]
    + [{"received": v} for v in BAD_COUNTS if v is not None]
    + [{"endpoint": v} for v in [*BAD_NAMES[:4], "/" * 2001, *BAD_NAMES[5:]]]
    + [{"method": v} for v in ["", "BAD M", 5, None]]
)  # fmt: skip


@pytest.mark.parametrize("bad", BAD_HANDED, ids=lambda v: repr(v)[:40])
def test_a_middleware_recorder_drops_and_counts_what_the_fold_refuses(
    mon: Monitor, bad: dict[str, Any]
) -> None:
    record = mon.request_recorder()
    good = {"endpoint": "/a", "method": "GET", "status": 200, "duration_ms": 5.0}
    record(**good)
    record(**(good | bad))  # queued as given: the fold checks it
    record(**good)
    mon.flush()
    assert mon.drops["rejected"] == 1
    assert recorded(mon) == (2, 0, 0)  # the flush and later queries work as before
    assert mon.get_performance_summary().requests.count == 2


def test_a_closed_monitors_recorder_raises(db_path: Path) -> None:
    mon = Monitor(db_path, start_flusher=False)
    record = mon.request_recorder()
    mon.close()
    with pytest.raises(RuntimeError, match="closed"):
        record("/a", "GET", 200, 1.0)


CONVERTED = [
    Decimal("12.5"),
    Fraction(25, 2),
    np.float32(12.5),
    np.float64(12.5),
    np.int64(12),
]


@pytest.mark.parametrize("value", CONVERTED, ids=lambda v: type(v).__name__)
def test_other_real_numbers_are_converted_once_at_the_call(mon: Monitor, value: Any) -> None:
    mon.record_request("/a", "GET", np.int64(200), value, np.int32(10), None)
    mon.record_agent_run(
        agent_name="a", duration_ms=value, cost_usd=value, input_tokens=np.int64(3)
    )
    mon.record_tool_call("t", value)
    mon.flush()
    assert recorded(mon) == (1, 1, 1)
    (row,) = mon.get_endpoint_stats().endpoints
    assert row.max_ms == float(value)
    assert type(row.max_ms) is float
    agent = mon.get_agent_stats().agents[0]
    assert (agent.cost_usd, agent.input_tokens) == (float(value), 3)
    # The store holds plain numbers only: every summary reader can decode them.
    assert mon.get_performance_summary().requests.p99_ms == float(value)
    with sqlite3.connect(mon.db_path) as conn:
        kinds = {t for (t,) in conn.execute("SELECT DISTINCT typeof(sum_ms) FROM request_buckets")}
    assert kinds == {"real"}


def test_p99_of_two_runs_is_the_slower_one(mon: Monitor) -> None:
    mon.record_agent_run(agent_name="a", duration_ms=2310)
    mon.record_agent_run(agent_name="a", duration_ms=9100)
    (agent,) = mon.get_agent_stats().agents
    assert agent.p99_ms == pytest.approx(9100, rel=0.01)
    assert agent.p50_ms == pytest.approx(2310, rel=0.01)


def test_a_model_and_keyword_fields_record_the_same_run(mon: Monitor) -> None:
    fields: dict[str, Any] = {
        "agent_name": "a",
        "start_time": NOW - 2,
        "end_time": NOW - 1,
        "model": "m",
        "provider": "p",
        "input_tokens": 7,
        "tool_calls": [{"tool_name": "t", "duration_ms": 3.0, "success": False}],
    }
    mon.record_agent_run(**fields)
    mon.record_agent_run(AgentRunRecord.model_validate(fields))
    (agent,) = mon.get_agent_stats().agents
    assert (agent.runs, agent.input_tokens, agent.tool_calls) == (2, 14, 2)
    assert agent.max_ms == pytest.approx(1000)
    (t,) = mon.get_tool_stats().tools
    assert (t.calls, t.failures) == (2, 2)


def test_a_full_buffer_drops_and_counts(db_path: Path) -> None:
    small = Settings(db=str(db_path), buffer_samples=1000)
    with Monitor(settings=small, start_flusher=False) as mon:
        for _ in range(1500):
            mon.record_request("/a", "GET", 200, 1.0)
        for _ in range(1010):
            mon.record_tool_call("t", 1.0)
        assert mon.drops["samples"] == 510
        assert recorded(mon) == (1000, 0, 1000)
        mon.record_request("/a", "GET", 200, 1.0)  # the fold made room again
        assert recorded(mon)[0] == 1001
        assert mon.drops == {"samples": 510, "rejected": 0, "raw": 0, "buckets": 0}


def test_records_after_close_raise(db_path: Path) -> None:
    mon = Monitor(db_path, start_flusher=False)
    mon.record_request("/a", "GET", 200, 1.0)
    mon.close()
    with pytest.raises(RuntimeError, match="closed"):
        mon.record_request("/a", "GET", 200, 1.0)
    with pytest.raises(RuntimeError, match="closed"):
        mon.record_agent_run(agent_name="a", duration_ms=1.0)
    with Monitor(db_path, start_flusher=False) as again:
        assert recorded(again)[0] == 1


def test_a_subclass_that_overrides_record_request_is_called(db_path: Path) -> None:
    seen = []

    class Tagged(Monitor):
        def record_request(self, *args: Any, **kwargs: Any) -> None:
            seen.append(args)
            super().record_request(*args, **kwargs)

    with Tagged(db_path, start_flusher=False) as mon:
        mon.record_request("/a", "GET", 200, 1.0)
        assert recorded(mon)[0] == 1
    assert seen == [("/a", "GET", 200, 1.0)]


# A random call: (kind, arguments). Some are valid, some are not; every valid one counts once.
_value = st.one_of(
    st.floats(min_value=0, max_value=1e4),
    st.integers(min_value=-5, max_value=10**6),
    st.sampled_from([math.nan, math.inf, True, "1", None, Decimal("2.5"), Fraction(1, 3)]),
)
_name = st.sampled_from(["/a", "/b/1", "", "x\udc80", "/c"])
_request_args = st.tuples(
    _name, st.sampled_from(["GET", "get", "BAD M"]), st.sampled_from([200, 500, 99, True]), _value
)
_call = st.one_of(
    st.tuples(st.just("request"), _request_args),
    st.tuples(st.just("handed"), _request_args),  # through a middleware's recorder
    st.tuples(st.just("run"), st.tuples(st.sampled_from(["a", "b", ""]), _value,
                                        st.lists(_value, max_size=3))),
    st.tuples(st.just("tool"), st.tuples(st.sampled_from(["t", "u", " "]), _value)),
)  # fmt: skip


def _record_request_takes(args: tuple[Any, ...]) -> bool:
    """Whether ``record_request`` takes these arguments (a middleware's recorder learns it
    only when the fold checks them)."""
    with Monitor(":memory:", clock=lambda: NOW, start_flusher=False) as alone:
        return _apply(alone, ("request", args)) == (1, 0, 0)


def _apply(mon: Monitor, call: tuple[str, tuple[Any, ...]]) -> tuple[int, int, int]:
    """Make one call; what it added (requests, runs, tool calls), or nothing if refused."""
    kind, args = call
    try:
        if kind == "handed":
            mon.request_recorder()(*args)
            return (1, 0, 0) if _record_request_takes(args) else (0, 0, 0)
        if kind == "request":
            mon.record_request(*args)
            return (1, 0, 0)
        if kind == "run":
            name, duration, calls = args
            tool_calls = [{"tool_name": "t", "duration_ms": d} for d in calls]
            mon.record_agent_run(agent_name=name, duration_ms=duration, tool_calls=tool_calls)
            return (0, 1, len(calls))
        mon.record_tool_call(*args)
        return (0, 0, 1)
    except InvalidInputError:
        return (0, 0, 0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(st.lists(_call, max_size=40), min_size=2, max_size=4))
def test_random_calls_from_threads_count_every_accepted_record_once(
    tmp_path_factory: pytest.TempPathFactory, batches: list[list[tuple[str, Any]]]
) -> None:
    db = tmp_path_factory.mktemp("random") / "perf.db"
    with Monitor(db, clock=lambda: NOW, start_flusher=False) as mon:
        totals = [(0, 0, 0)] * len(batches)

        def work(i: int) -> None:
            added = [_apply(mon, call) for call in batches[i]]
            totals[i] = tuple(map(sum, zip(*added, strict=True))) if added else (0, 0, 0)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
        for t in threads:
            t.start()
        for _ in range(3):
            mon.flush()  # flushes land between the threads' calls
        for t in threads:
            t.join()
        expected = tuple(map(sum, zip(*totals, strict=True)))
        assert recorded(mon) == expected
        handed = [c for batch in batches for c in batch if c[0] == "handed"]
        refused = sum(not _record_request_takes(args) for _, args in handed)
        assert mon.drops["rejected"] == refused
        assert mon.get_performance_summary().requests.count == expected[0]
