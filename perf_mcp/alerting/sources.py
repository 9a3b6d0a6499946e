"""Where the alert manager's values come from: the Monitor's query API, now and in the past.

``monitor_source`` observes every rule over the last window (what ``evaluate_once`` feeds the
state machine); ``monitor_history`` gives a rule's value at each step of the stored history
(what a ``set_threshold`` dry run replays). Both use only the Monitor's public queries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from perf_mcp.core.alerts import OVERALL, SYSTEM, get_rule
from perf_mcp.core.models import WINDOW_SECONDS, EndpointSort, Window
from perf_mcp.core.stats import rate

if TYPE_CHECKING:
    from perf_mcp.monitor import Monitor
    from perf_mcp.resources import ResourceSampler

HISTORY_HOURS = 24.0
HISTORY_STEP_S = 60
HISTORY_SUBJECTS = 20


class Observation(NamedTuple):
    """One observed value of one rule for one subject (None: no data)."""

    rule: str
    subject: str
    value: float | None
    samples: int


class Observed(NamedTuple):
    """What a source saw: the values, and the rules whose subject lists were cut short.

    A firing alert whose subject is missing is resolved for lack of data, unless its rule
    is in ``partial`` (the subject may simply not have made the list).
    """

    observations: list[Observation]
    partial: frozenset[str] = frozenset()


HistoryPoint = tuple[float, float | None, int]  # (time, value, samples), as replay() takes
ObservationSource = Callable[[], Observed]
HistorySource = Callable[[str, str | None], Mapping[str, Sequence[HistoryPoint]]]
"""(rule, subject or None for every subject) -> points by subject, for a dry run."""


# ---------------------------------------------------------------- now


def monitor_source(
    monitor: Monitor,
    sampler: ResourceSampler | None = None,
    *,
    window: Window = "5m",
    limit: int = 500,
    max_sample_age_s: float | None = None,
    clock: Callable[[], float] = time.time,
) -> ObservationSource:
    """Observe the rules through the Monitor's query API and the sampler's latest reading.

    Blocking (SQLite queries): the manager calls it in a worker thread.
    """

    def observe() -> Observed:
        summary = monitor.get_performance_summary(window)
        endpoints = monitor.get_endpoint_stats(window=window, limit=limit)
        endpoint_rows = {(e.method, e.endpoint): e for e in endpoints.endpoints}
        if endpoints.truncated:  # the slowest may not be the most failing: ask for both
            for sort in _EXTRA_SORTS:
                more = monitor.get_endpoint_stats(window=window, limit=limit, sort_by=sort)
                endpoint_rows.update({(e.method, e.endpoint): e for e in more.endpoints})
        agents = monitor.get_agent_stats(window=window, limit=limit)
        tools = monitor.get_tool_stats(window=window, limit=limit)
        latest = sampler.latest if sampler is not None else None
        if latest is not None and sampler is not None:
            max_age = max_sample_age_s or 3 * sampler.interval_s + 5
            if clock() - latest.timestamp > max_age:
                latest = None  # a sampler that stopped is no evidence about now

        found: list[Observation] = []
        totals = summary.requests
        for rule, value in _request_values(totals.p95_ms, totals.p99_ms, totals.error_rate):
            found.append(Observation(rule, OVERALL, value, totals.count))
        for e in endpoint_rows.values():
            subject = f"{e.method} {e.endpoint}"
            for rule, value in _request_values(e.p95_ms, e.p99_ms, e.error_rate):
                found.append(Observation(rule, subject, value, e.count))
        per_hour = 3600 / WINDOW_SECONDS[window]
        for a in agents.agents:
            found.append(Observation("agent_error_rate", a.agent_name, a.error_rate, a.runs))
            found.append(Observation("agent_avg_time_ms", a.agent_name, a.mean_ms, a.runs))
            cost = a.cost_usd * per_hour
            found.append(Observation("agent_cost_usd_per_hour", a.agent_name, cost, a.runs))
        for t in tools.tools:
            found.append(Observation("tool_error_rate", t.tool_name, t.error_rate, t.calls))
        cpu = latest.cpu_percent if latest else None
        memory = latest.memory_percent if latest else None
        found.append(Observation("cpu_usage_percent", SYSTEM, cpu, int(cpu is not None)))
        found.append(Observation("memory_usage_percent", SYSTEM, memory, int(memory is not None)))
        partial = set()
        if endpoints.truncated:
            partial |= {"response_time_p95_ms", "response_time_p99_ms", "error_rate_5min"}
        if agents.truncated:
            partial |= {"agent_error_rate", "agent_avg_time_ms", "agent_cost_usd_per_hour"}
        if tools.truncated:
            partial.add("tool_error_rate")
        return Observed(found, frozenset(partial))

    return observe


_EXTRA_SORTS: tuple[EndpointSort, ...] = ("error_rate", "p99_ms")


def _request_values(
    p95: float | None, p99: float | None, error_rate: float | None
) -> list[tuple[str, float | None]]:
    return [
        ("response_time_p95_ms", p95),
        ("response_time_p99_ms", p99),
        ("error_rate_5min", error_rate),
    ]


# ---------------------------------------------------------------- the stored past


def monitor_history(
    monitor: Monitor,
    *,
    hours: float = HISTORY_HOURS,
    step_s: int = HISTORY_STEP_S,
    window_s: int = 300,
    max_subjects: int = HISTORY_SUBJECTS,
    clock: Callable[[], float] = time.time,
) -> HistorySource:
    """A rule's value over the stored history, as the manager would have seen it: every
    ``step_s`` over the last ``hours``, each point over the ``window_s`` before it.

    Request, agent and tool rules read ``Monitor.series_between``; cpu and memory rules read
    the stored resource samples. A rule-wide dry run (subject None) replays ``overall`` and
    the ``max_subjects`` busiest subjects. Blocking: call it in a worker thread.
    """

    def history(rule: str, subject: str | None) -> dict[str, list[HistoryPoint]]:
        spec = get_rule(rule)
        end = int(clock()) // step_s * step_s
        start = end - int(hours * 3600)
        if spec.sample_kind == "samples":
            return {SYSTEM: _resource_history(monitor, rule, start, int(hours * 3600 / step_s))}
        monitor.flush()
        times = range(start + window_s, end + 1, step_s)
        if spec.sample_kind == "requests":
            wanted = _request_subjects(monitor, subject, max_subjects)
            points: dict[str, list[HistoryPoint]] = {key: [] for key, _, _ in wanted}
            for t in times:
                for key, value, count in _request_step(monitor, rule, t - window_s, t, wanted):
                    points[key].append((float(t), value, count))
            return points
        kind: Literal["agent", "tool"] = "tool" if spec.sample_kind == "calls" else "agent"
        names = _run_subjects(monitor, kind, subject, max_subjects)
        runs: dict[str, list[HistoryPoint]] = {name: [] for name in names}
        for t in times:
            found = {
                s.name: s.acc for s in monitor.series_between(kind, t - window_s, t, name=subject)
            }
            for name, series in runs.items():
                acc = found.get(name)
                count = acc.count if acc is not None else 0
                if acc is None:
                    value = None
                elif rule == "agent_avg_time_ms":
                    value = rate(acc.sum_ms, count)
                elif rule == "agent_cost_usd_per_hour":
                    value = acc.cost_usd * 3600 / window_s
                else:
                    value = rate(acc.failures, count)
                series.append((float(t), value, count))
        return runs

    return history


# A request subject of a dry run: its key, and the (endpoint, method) series it merges
# (endpoint None: the all-endpoint total; method None: every method of the endpoint).
_RequestSubject = tuple[str, str | None, str | None]


def _request_subjects(
    monitor: Monitor, subject: str | None, max_subjects: int
) -> list[_RequestSubject]:
    if subject == OVERALL:
        return [(OVERALL, None, None)]
    if subject is not None:
        method, _, path = subject.partition(" ")
        if path.startswith("/"):
            return [(subject, path, method)]
        return [(subject, subject, None)]  # a path: every method of it
    busiest = monitor.get_endpoint_stats(window="24h", sort_by="count", limit=max_subjects)
    return [(OVERALL, None, None)] + [
        (f"{e.method} {e.endpoint}", e.endpoint, e.method) for e in busiest.endpoints
    ]


def _request_step(
    monitor: Monitor, rule: str, start: float, end: float, wanted: Sequence[_RequestSubject]
) -> Iterable[tuple[str, float | None, int]]:
    """Each wanted subject's value over [start, end)."""
    # One subject: ask for its series only; the overall total alone: no endpoint series.
    name, method = (wanted[0][1], wanted[0][2]) if len(wanted) == 1 else (None, None)
    by_endpoint = any(endpoint is not None for _, endpoint, _ in wanted)
    endpoints = (
        monitor.series_between("request", start, end, name=name, method=method)
        if by_endpoint
        else []
    )
    for key, endpoint, method in wanted:
        if endpoint is None:
            series = monitor.series_between("request", start, end, totals=True)
        else:
            series = [
                s
                for s in endpoints
                if s.name == endpoint and (method is None or s.method == method)
            ]
        yield key, *_request_value(rule, [s.acc for s in series])


def _request_value(rule: str, accs: Sequence[Any]) -> tuple[float | None, int]:
    """(value, request count) of a request rule over some merged request accumulators."""
    count = sum(acc.count for acc in accs)
    if not count:
        return None, 0
    if rule == "error_rate_5min":
        return rate(sum(acc.status[5] for acc in accs), count), count
    merged = accs[0].hist
    for acc in accs[1:]:
        merged.merge(acc.hist)
    return merged.quantile(0.95 if rule == "response_time_p95_ms" else 0.99), count


def _run_subjects(
    monitor: Monitor, kind: Literal["agent", "tool"], subject: str | None, max_subjects: int
) -> list[str]:
    if subject is not None:
        return [subject]
    if kind == "tool":
        tools = monitor.get_tool_stats(window="24h", sort_by="calls", limit=max_subjects)
        return [t.tool_name for t in tools.tools]
    agents = monitor.get_agent_stats(window="24h", sort_by="runs", limit=max_subjects)
    return [a.agent_name for a in agents.agents]


def _resource_history(monitor: Monitor, rule: str, since: float, limit: int) -> list[HistoryPoint]:
    from perf_mcp.resources import ResourceSample

    field = "cpu_percent" if rule == "cpu_usage_percent" else "memory_percent"
    points: list[HistoryPoint] = []
    for raw in monitor.resource_samples(since, limit)[0]:
        sample = ResourceSample.model_validate_json(raw)
        value = getattr(sample, field)
        points.append((sample.timestamp, value, int(value is not None)))
    return points
