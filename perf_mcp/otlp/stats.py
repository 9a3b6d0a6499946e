"""What the OTLP receiver took in since start, and what it could not use, for health_check."""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING

from perf_mcp.core.alerts import ComponentHealth

if TYPE_CHECKING:  # the mapping imports protobuf; health needs only these counters
    from perf_mcp.otlp.mapping import Outcome

# Why a span was not recorded. IGNORED: not a kind perf-mcp maps (nothing lost).
# The rest are REJECTED: a kind perf-mcp maps, but unusable (answered as partial success).
NOT_MAPPED = "not an HTTP server, agent, tool or MCP tools/call span"
MODEL_CALL_ALONE = "model call without its invoke_agent span in the same export"
OTHER_MCP = "MCP span of a method other than tools/call"
RECORDED_HERE = "run or tool call this server recorded itself (its own telemetry, sent back)"
# Metric data points: the same split.
METRIC_NOT_MAPPED = "metric perf-mcp does not map"
MODEL_METRIC = "GenAI duration of a model call (perf-mcp keeps agent runs and tool calls)"
BASELINE = "first cumulative point of a stream older than the server: kept as its baseline"
TOKENS_ALONE = "token usage without an invoke_agent duration of the same attributes"
IGNORED = frozenset(
    {
        NOT_MAPPED,
        MODEL_CALL_ALONE,
        OTHER_MCP,
        RECORDED_HERE,
        METRIC_NOT_MAPPED,
        MODEL_METRIC,
        BASELINE,
    }
)
NOT_HISTOGRAM = "duration metric that is not a histogram"
NOT_COUNTER = "token usage counter that is not a monotonic sum"
UNKNOWN_UNIT = "duration metric in a unit other than s or ms"
TOO_MANY_SAMPLES = "histogram point past 1,000,000 samples in one export (export more often)"
NO_STATUS = "HTTP server span without a status code"
NO_ROUTE = "HTTP server span without a route or path"
NO_AGENT = "invoke_agent span without gen_ai.agent.name"
NO_TOOL = "tool span without gen_ai.tool.name"
NO_END = "span that ends before it starts"
INVALID = {
    "request": "HTTP server span or point with a value perf-mcp refuses",
    "agent_run": "invoke_agent span or point with a value perf-mcp refuses",
    "tool_call": "tool span or point with a value perf-mcp refuses",
}


MAX_EXAMPLE = 300  # characters of the last refusal kept


class IngestStats:
    """Counters of the OTLP receiver, behind one lock (exports are recorded in threads).

    >>> stats = IngestStats()
    >>> stats.refuse(415, "Content-Type 'text/plain' is not OTLP")
    >>> stats.health().status
    'degraded'
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.exports = 0
        self.spans = 0
        self.points = 0
        self.recorded: Counter[str] = Counter()
        self.unused: Counter[str] = Counter()
        self.refused: Counter[int] = Counter()  # whole exports, by HTTP status
        self.last_problem: str | None = None

    def add(self, outcome: Outcome) -> None:
        with self._lock:
            self.exports += 1
            self.spans += outcome.spans
            self.points += outcome.points
            self.recorded.update(outcome.recorded)
            self.unused.update(outcome.unused)
            if outcome.example:
                self.last_problem = outcome.example[:MAX_EXAMPLE]

    def refuse(self, status: int, reason: str) -> None:
        with self._lock:
            self.refused[status] += 1
            self.last_problem = f"HTTP {status}: {reason}"[:MAX_EXAMPLE]

    def health(self) -> ComponentHealth | None:
        """The receiver's component: None until it got anything; degraded once it refused an
        export or a span it should have used (ignored kinds of span are only counted)."""
        with self._lock:
            if not self.exports and not self.refused:
                return None
            recorded = ", ".join(f"{n:,} {kind}s" for kind, n in sorted(self.recorded.items()))
            points = f", {self.points:,} metric points" if self.points else ""
            parts = [
                f"{self.exports:,} exports, {self.spans:,} spans{points} received; "
                f"recorded: {recorded or 'nothing'}"
            ]
            rejected = {r: n for r, n in self.unused.items() if r not in IGNORED}
            ignored = {r: n for r, n in self.unused.items() if r in IGNORED}
            if ignored:
                parts.append("ignored: " + _by_reason(ignored))
            if rejected:
                parts.append("rejected: " + _by_reason(rejected))
            if self.refused:
                codes = ", ".join(f"{n:,} with {code}" for code, n in sorted(self.refused.items()))
                parts.append(f"exports refused whole: {codes}")
            problem = bool(rejected or self.refused)
            if problem and self.last_problem:
                parts.append(f"last: {self.last_problem}")
        return ComponentHealth(
            name="otlp", status="degraded" if problem else "ok", detail="; ".join(parts)
        )


def _by_reason(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {reason}" for reason, n in sorted(counts.items()))
