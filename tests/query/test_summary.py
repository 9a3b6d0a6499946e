"""The summary reads the store in a few batches and keeps what did not change between reads:
its answers are the same on both engines, and the same as a fresh reader's (which reads
everything anew) after every change."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from perf_mcp import Monitor

T0 = 1_800_000_000.0  # an hour's start
WINDOWS = ("5m", "1h", "24h")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def record(monitor: Monitor, rng: random.Random, since: float, until: float, n: int) -> None:
    """``n`` requests spread over [since, until), a few of them failing, and some runs."""
    for i in range(n):
        ts = since + (until - since) * i / n
        name = f"/api/items{rng.randrange(12)}/{{id}}"
        status = rng.choice((200, 200, 200, 201, 302, 404, 500))
        monitor.record_request(name, rng.choice(("GET", "POST")), status,
                               rng.lognormvariate(3, 1), 100, 2000, ts)  # fmt: skip
    for i in range(n // 10):
        ts = since + (until - since) * i / (n // 10)
        monitor.record_agent_run(
            agent_name=f"agent{rng.randrange(2)}",
            duration_ms=rng.lognormvariate(6, 1),
            success=rng.random() < 0.9,
            end_time=ts,
            input_tokens=rng.randrange(1000),
            output_tokens=rng.randrange(500),
            cost_usd=rng.randrange(100) / 1000,
        )
        tool = f"tool{rng.randrange(3)}"
        monitor.record_tool_call(tool, rng.lognormvariate(4, 1), rng.random() < 0.8,
                                 timestamp=ts, result_chars=rng.randrange(90_000))  # fmt: skip


def answers(monitor: Monitor) -> dict[str, Any]:
    """Every window's summary, as plain data without the time it was made."""
    return {
        window: _rounded(
            monitor.get_performance_summary(window).model_dump(exclude={"generated_at"})
        )
        for window in WINDOWS
    }


def _rounded(value: Any) -> Any:
    """Floats to 9 significant digits: the engines add a window's rows in their own order."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def story(location: str) -> list[dict[str, Any]]:
    """A reader's summaries through a series of writes (its own and another writer's, new
    series among them), each checked against a fresh reader's."""
    rng, clock = random.Random(7), Clock(T0 + 2 * 3600 + 1234.5)
    seen = []
    with (
        Monitor(location, clock=clock, start_flusher=False) as reader,
        Monitor(location, clock=clock, start_flusher=False, series_budget=20) as writer,
    ):
        reader.mark_deploy("v1")
        steps = [  # who writes, and when the records were made: seconds before now
            (writer, 2 * 3600, 0, 600),  # hours, minutes and 10 s rows
            (writer, 20, 0, 40),  # recent rows only
            (reader, 100, 40, 30),  # settled rows change (late data)
            (writer, 5, 0, 5),
        ]
        for who, since, until, n in steps:
            # then recent rows, the plan unchanged: only those endpoints are merged again
            for by, ago in ((who, (since, until, n)), (writer, (20, 0, 20))):
                record(by, rng, clock.now - ago[0], clock.now - ago[1], ago[2])
                by.flush()
                reader.flush()  # what the head held: a fresh reader sees it too
                seen.append(answers(reader))
                with Monitor(location, clock=clock, start_flusher=False) as fresh:
                    assert answers(fresh) == seen[-1]
            record(reader, rng, clock.now - 3, clock.now, 3)  # in memory: the head adds it
            seen.append(answers(reader))
            clock.now += 45  # recent rows settle, the plans move on
    return seen


def test_the_summary_is_the_same_on_both_engines(db_path: Path, postgres_url: str) -> None:
    on_sqlite = story(str(db_path))
    assert on_sqlite[0]["1h"]["folded_series"]  # the story covers folded names...
    assert on_sqlite[0]["24h"]["deploys"]  # ...deploys, runs, calls and large results
    assert on_sqlite[0]["24h"]["agents"]["runs"]
    assert on_sqlite[0]["24h"]["large_results"]
    assert story(postgres_url) == on_sqlite
