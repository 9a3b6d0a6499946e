"""compare_windows over generated histories (fake clock, fixed seeds) whose answer is known."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from perf_mcp import Monitor
from perf_mcp.core.stats import nearest_rank

T0 = 1_800_000_000.0  # a multiple of an hour
HOUR = 3600.0
Latency = Callable[[random.Random], float]


class History:
    """A store filled through a Monitor whose clock the test moves (never back: records
    carry their own times)."""

    def __init__(self, path: Path) -> None:
        self.now = T0
        self.monitor = Monitor(path, clock=lambda: self.now, start_flusher=False)
        self.rng = random.Random(7)
        self.recorded: dict[str, list[float]] = {}

    def requests(
        self, endpoint: str, start: float, end: float, every_s: float, latency: Latency
    ) -> None:
        """One request every ``every_s`` seconds over [start, end), keeping what was recorded."""
        kept = self.recorded.setdefault(endpoint, [])
        ts = start
        while ts < end:
            self.now = max(self.now, ts)
            ms = latency(self.rng)
            status = 500 if self.rng.random() < 0.005 else 200
            self.monitor.record_request(endpoint, "GET", status, ms, timestamp=ts)
            kept.append(ms)
            ts += every_s
        self.monitor.flush()

    def runs(self, agent: str, start: float, end: float, every_s: float, tokens: int) -> None:
        ts = start
        while ts < end:
            self.now = max(self.now, ts)
            self.monitor.record_agent_run(
                agent_name=agent,
                start_time=ts - self.rng.lognormvariate(0, 0.3),
                end_time=ts,
                input_tokens=tokens,
                output_tokens=tokens // 4,
                cost_usd=tokens * 1e-6,
                tool_calls=[{"tool_name": "sql", "duration_ms": self.rng.uniform(5, 15)}],
            )
            ts += every_s
        self.monitor.flush()


def usual(rng: random.Random) -> float:
    return rng.lognormvariate(4.0, 0.4)  # a median of 55 ms


def tripled(rng: random.Random) -> float:
    return 3 * usual(rng)


def p95(values: list[float]) -> float:
    return sorted(values)[nearest_rank(len(values), 0.95)]


@pytest.fixture
def history(db_path: Path) -> Iterator[History]:
    made = History(db_path)
    yield made
    made.monitor.close()


def test_a_regression_after_a_deploy_comes_first_with_its_ratio(history: History) -> None:
    deploy_at = T0 + 2 * HOUR
    end = deploy_at + HOUR
    for endpoint in ("/search", "/users/{id}"):  # unchanged
        history.requests(endpoint, T0, end, 1.0, usual)
    history.requests("/rare", T0, end, 400.0, lambda rng: rng.uniform(1, 5000))  # noise
    history.requests("/checkout", T0, deploy_at, 2.0, usual)
    history.now = deploy_at
    history.monitor.mark_deploy("v2", "new payment client")
    history.requests("/checkout", deploy_at, end, 2.0, tripled)
    history.now = end

    answer = history.monitor.compare_windows("1h", "deploy")

    assert answer.deploy is not None
    assert answer.deploy.version == "v2"
    assert (answer.start, answer.baseline_start, answer.baseline_end) == (
        deploy_at,
        deploy_at - HOUR,
        deploy_at,
    )
    assert [c.name for c in answer.changes] == ["GET /checkout"]
    (checkout,) = answer.changes
    before, after = history.recorded["/checkout"][1800:3600], history.recorded["/checkout"][3600:]
    change = {c.metric: c for c in checkout.changes}["p95_ms"]
    assert change.ratio == pytest.approx(p95(after) / p95(before), rel=0.012)
    assert change.ratio == pytest.approx(3.0, rel=0.15)
    assert (checkout.count_before, checkout.count_after) == (1800, 1800)
    assert "rate_per_s" not in {c.metric for c in checkout.changes}
    summary = history.monitor.get_performance_summary("1h")
    assert [(d.version, d.note) for d in summary.deploys] == [("v2", "new payment client")]


def test_previous_window_24h_and_7d_baselines_find_what_changed(history: History) -> None:
    week_ago, day_ago, now = T0, T0 + 6 * 24 * HOUR, T0 + 7 * 24 * HOUR
    history.requests("/report", week_ago - HOUR, week_ago, 5.0, usual)
    history.requests("/report", day_ago - HOUR, day_ago, 5.0, tripled)
    history.requests("/report", now - 2 * HOUR, now - HOUR, 5.0, usual)
    history.requests("/report", now - HOUR, now, 5.0, tripled)
    history.runs("bot", now - 2 * HOUR, now - HOUR, 30.0, 1000)
    history.runs("bot", now - HOUR, now, 30.0, 4000)
    history.now = now

    def p95_ratio(baseline: str) -> float | None:
        answer = history.monitor.compare_windows("1h", baseline)  # type: ignore[arg-type]
        found = {c.name: c for c in answer.changes}
        if "GET /report" not in found:
            return None
        return {c.metric: c.ratio for c in found["GET /report"].changes}["p95_ms"]

    assert p95_ratio("previous") == pytest.approx(3.0, rel=0.15)
    assert p95_ratio("7d") == pytest.approx(3.0, rel=0.15)
    assert p95_ratio("24h") is None  # slow a day ago too
    agent = {c.name: c for c in history.monitor.compare_windows("1h").changes}["bot"]
    usage = {c.metric: c.ratio for c in agent.changes}
    assert usage["tokens_per_run"] == pytest.approx(4.0)
    assert usage["cost_per_run_usd"] == 4.0


def test_resources_are_compared_side_by_side(history: History) -> None:
    now = T0 + 2 * HOUR
    for i in range(120):
        ts = T0 + i * 60
        cpu = 20.0 if ts < T0 + HOUR else 80.0
        history.monitor.add_resource_sample(ts, json.dumps({"cpu_percent": cpu}))
    history.now = now
    answer = history.monitor.compare_windows("1h")
    cpu, memory = answer.resources
    assert (cpu.metric, cpu.before, cpu.after) == ("cpu_percent", 20.0, 80.0)
    assert (memory.before, memory.after, cpu.samples_before, cpu.samples_after) == (
        None,
        None,
        60,
        60,
    )


def test_a_deploy_baseline_without_a_marker_and_a_bad_baseline_say_what_to_do(
    monitor: Monitor,
) -> None:
    with pytest.raises(ValueError, match=r"needs a deploy marker.*mark_deploy"):
        monitor.compare_windows("1h", "deploy")
    with pytest.raises(ValueError, match="baseline must be one of previous, 24h, 7d, deploy"):
        monitor.compare_windows("1h", "yesterday")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit must be an integer from 1 to 500"):
        monitor.compare_windows("1h", limit=0)
