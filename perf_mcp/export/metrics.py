"""What /metrics shows: perf-mcp's numbers as Prometheus metric families.

Counters and histograms count since the server started (``SinceStart``) and never go down
while it runs; a restart starts them again, which Prometheus' ``rate()`` and ``increase()``
expect of any restarted process. Requests are counted per route, method and status class,
their durations per route and method (the store keeps one histogram per route and method);
agent runs and tool calls per name and outcome, with tokens and cost. Every label comes from
a stored series, so the number of series is bounded by the store's series budget
(``PERF_MCP_SERIES_BUDGET`` per kind; the names past it are counted under ``__other__``).
Gauges show the latest resource reading and the alerts firing now.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from perf_mcp.export.prometheus import Family, render
from perf_mcp.export.totals import SinceStart, Total

if TYPE_CHECKING:
    from perf_mcp.core.alerts import AlertRecord
    from perf_mcp.resources import ResourceSample

PREFIX = "perf_mcp_"
SEVERITIES = ("warning", "critical")
TOKEN_TYPES = ("input", "output", "cache_read")


def exposition(
    since: SinceStart,
    drops: dict[str, int],
    reading: ResourceSample | None,
    firing: Sequence[AlertRecord],
) -> str:
    """The /metrics text: totals since the start, this process's drops, the latest resource
    reading (None: none yet) and the alerts firing now. The caller flushes first."""
    agents = since.totals("agent")
    families = [
        *request_families(since.totals("request")),
        *run_families("agent", "agent_run", agents),
        *usage_families("agent", agents),
        *usage_families("model", since.totals("model")),
        *run_families("tool", "tool_call", since.totals("tool")),
        alert_family(firing),
        *resource_families(reading),
    ]
    dropped = Family(PREFIX + "dropped_total", "counter", "Records this server process dropped.")
    for what, n in sorted(drops.items()):
        dropped.add({"what": what}, n)
    return render([*families, dropped])


def request_families(totals: Sequence[Total]) -> list[Family]:
    """Requests per route, method and status class; durations per route and method."""
    count = Family(
        PREFIX + "http_requests_total", "counter", "HTTP requests by route, method, status class."
    )
    duration = Family(
        PREFIX + "http_request_duration_seconds", "histogram", "HTTP request duration."
    )
    for route, method, acc in totals:
        labels = {"route": route, "method": method}
        for status_class, n in acc.status_classes().items():
            count.add({**labels, "status_class": status_class}, n)
        duration.add_histogram(labels, acc.hist, acc.sum_ms)
    return [count, duration]


def run_families(label: str, what: str, totals: Sequence[Total]) -> list[Family]:
    """Agent runs or tool calls by outcome, and their durations."""
    noun = what.replace("_", " ") + "s"
    count = Family(f"{PREFIX}{what}s_total", "counter", f"{noun.capitalize()} by outcome.")
    duration = Family(f"{PREFIX}{what}_duration_seconds", "histogram", f"Duration of {noun}.")
    for name, _, acc in totals:
        count.add({label: name, "outcome": "success"}, acc.count - acc.failures)
        count.add({label: name, "outcome": "failure"}, acc.failures)
        duration.add_histogram({label: name}, acc.hist, acc.sum_ms)
    return [count, duration]


def usage_families(label: str, totals: Sequence[Total]) -> list[Family]:
    """Tokens by type and cost in US dollars, per agent or per model."""
    tokens = Family(f"{PREFIX}{label}_tokens_total", "counter", f"Tokens used, per {label}.")
    cost = Family(f"{PREFIX}{label}_cost_usd_total", "counter", f"Cost in USD, per {label}.")
    for name, _, acc in totals:
        usage = acc.usage()
        for kind in TOKEN_TYPES:
            tokens.add({label: name, "type": kind}, usage[f"{kind}_tokens"])
        cost.add({label: name}, float(usage["cost_usd"]))
    return [tokens, cost]


def alert_family(firing: Sequence[AlertRecord]) -> Family:
    """Alerts firing now, by severity (acknowledged ones are not firing)."""
    family = Family(PREFIX + "alerts_firing", "gauge", "Alerts firing now, by severity.")
    for severity in SEVERITIES:
        family.add({"severity": severity}, sum(a.severity == severity for a in firing))
    return family


def resource_families(reading: ResourceSample | None) -> list[Family]:
    """The latest resource reading; a value psutil could not give is left out."""

    def gauge(name: str, help: str, *values: tuple[dict[str, str], float | None]) -> Family:
        family = Family(PREFIX + name, "gauge", help)
        for labels, value in values:
            if value is not None:
                family.add(labels, value)
        return family

    r = reading
    if r is None:
        return []
    cpu = None if r.cpu_percent is None else r.cpu_percent / 100
    disks = [({"path": d.path}, d.total_bytes, d.free_bytes) for d in r.disks]
    procs = [({"pid": str(p.pid)}, p) for p in r.processes]
    return [
        gauge(
            "resources_sampled_timestamp_seconds", "When the reading was taken.", ({}, r.timestamp)
        ),
        gauge("system_cpu_usage_ratio", "System CPU in use, 0..1.", ({}, cpu)),
        gauge("system_memory_total_bytes", "Memory installed.", ({}, r.memory_total_bytes)),
        gauge("system_memory_available_bytes", "Memory available.", ({}, r.memory_available_bytes)),
        gauge("system_swap_used_bytes", "Swap in use.", ({}, r.swap_used_bytes)),
        gauge("system_load1", "Load average over 1 minute.", ({}, r.load_1)),
        gauge("system_load5", "Load average over 5 minutes.", ({}, r.load_5)),
        gauge("system_load15", "Load average over 15 minutes.", ({}, r.load_15)),
        gauge("disk_total_bytes", "Size of the filesystem.", *[(d[0], d[1]) for d in disks]),
        gauge("disk_free_bytes", "Free space on the filesystem.", *[(d[0], d[2]) for d in disks]),
        gauge(
            "process_resident_memory_bytes",
            "Resident memory of a watched process (this server first).",
            *[(labels, p.rss_bytes) for labels, p in procs],
        ),
        gauge(
            "process_cpu_usage_cores",
            "CPU a watched process uses, in cores (1 = one core busy).",
            *[
                (labels, None if p.cpu_percent is None else p.cpu_percent / 100)
                for labels, p in procs
            ],
        ),
        gauge(
            "process_threads",
            "Threads of a watched process.",
            *[(labels, p.threads) for labels, p in procs],
        ),
    ]
