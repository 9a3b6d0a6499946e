"""Each series' data since a start, for counters that never go down between scrapes.

A scrape reads only the recent rows: whole hours that ended more than an hour ago are
*sealed*, read once and kept merged in memory (one accumulator per series, so memory is
bounded by the series budget); a scrape merges them with the rows since the seal, which only
grow. A record that lands in a sealed hour later (a timestamp given hours in the past) is
answered by the MCP tools but not added here, so the counters stay monotonic.

>>> from perf_mcp import Monitor
>>> with Monitor(":memory:") as monitor:
...     since = SinceStart(monitor.series_between, start=time.time())
...     monitor.record_tool_call("search", 12.0)
...     monitor.flush()
...     [(name, acc.count) for name, _, acc in since.totals("tool")]
[('search', 1)]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from perf_mcp.core.window import BUCKET_S, HOUR_S, bucket_start
from perf_mcp.storage import SeriesAgg

Kind = Literal["request", "agent", "tool", "model"]
KINDS: tuple[Kind, ...] = ("request", "agent", "tool", "model")
SeriesReader = Callable[[Kind, float, float], list[SeriesAgg]]
# (name, method, accumulator: RequestAcc for requests, RunAcc for the others)
Total = tuple[str, str, Any]


class SinceStart:
    """Each series' merged data since the 10 s bucket holding ``start``.

    ``read`` is a Monitor's ``series_between``; the caller flushes before ``totals``.
    """

    def __init__(
        self, read: SeriesReader, start: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.read = read
        self.clock = clock
        self.sealed_until = float(bucket_start(start))
        self.sealed: dict[Kind, dict[int, Total]] = {kind: {} for kind in KINDS}
        self._lock = threading.Lock()

    def totals(self, kind: Kind) -> list[Total]:
        """The kind's series since the start, each merged from the sealed and recent rows."""
        with self._lock:
            now = self.clock()
            self._seal(bucket_start(now, HOUR_S) - HOUR_S)
            sealed = self.sealed[kind]
            recent = {s.series_id: s for s in self.read(kind, self.sealed_until, now + BUCKET_S)}
            answer = []
            for sid in sealed.keys() | recent.keys():
                name, method, acc = sealed.get(sid) or _total(recent[sid])
                if sid in recent and sid in sealed:
                    acc = _merged(acc, recent[sid].acc)
                answer.append((name, method, acc))
            return sorted(answer, key=lambda total: (total[0], total[1]))

    def _seal(self, edge: int) -> None:
        """Fold the rows before ``edge`` into the sealed totals, once."""
        if edge <= self.sealed_until:
            return
        for kind in KINDS:
            sealed = self.sealed[kind]
            for s in self.read(kind, self.sealed_until, edge):
                kept = sealed.get(s.series_id)
                sealed[s.series_id] = (
                    _total(s) if kept is None else (s.name, s.method, _merged(kept[2], s.acc))
                )
        self.sealed_until = edge


def _total(s: SeriesAgg) -> Total:
    return s.name, s.method, s.acc


def _merged(a: Any, b: Any) -> Any:
    """A new accumulator holding both ``a``'s and ``b``'s samples (neither is changed)."""
    both = type(a)()
    both.merge(a)
    both.merge(b)
    return both
