"""Series accumulators (one per series per time bucket) and the series registry with its budget."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from operator import itemgetter
from typing import Any

from perf_mcp.core.pricing import ESTIMATED, UNPRICED
from perf_mcp.core.sketch import LogHistogram, position
from perf_mcp.core.validation import RequestSample

OTHER = "__other__"
TOTAL = "*"  # the name of each kind's all-series total
LABEL_BUDGET = 50  # distinct error types / tool names kept per accumulator
_DURATION = itemgetter(4)  # of a request sample


class _Timed:
    """What every accumulator has: a latency histogram (carrying count, min and max) and a sum."""

    __slots__ = ("hist", "sum_ms")

    def __init__(self) -> None:
        self.hist = LogHistogram()
        self.sum_ms = 0.0

    @property
    def count(self) -> int:
        return self.hist.count

    @property
    def min_ms(self) -> float:
        return self.hist.min

    @property
    def max_ms(self) -> float:
        return self.hist.max


class RequestAcc(_Timed):
    """Requests of one endpoint+method in one bucket. ``status[c]`` counts class c (1-5)xx.

    The histogram carries the count, min and max, so the record path updates each once.
    """

    __slots__ = (
        "req_bytes",
        "req_n",
        "resp_bytes",
        "resp_n",
        "slowest_status",
        "slowest_ts",
        "status",
    )

    def __init__(self) -> None:
        super().__init__()
        self.status = [0, 0, 0, 0, 0, 0]
        self.req_bytes = 0
        self.req_n = 0
        self.resp_bytes = 0
        self.resp_n = 0
        self.slowest_ts = 0.0
        self.slowest_status = 0

    def add_samples(self, samples: Sequence[RequestSample]) -> None:
        """Count checked request samples (perf_mcp.core.validation's tuples), all at once."""
        durations = [s[4] for s in samples]
        slowest = max(samples, key=_DURATION)
        if slowest[4] > self.hist.max:
            self.slowest_ts, self.slowest_status = slowest[0], slowest[3]
        self.hist.add_checked(durations)
        self.sum_ms += sum(durations)
        status = self.status
        for code, n in Counter([s[3] for s in samples]).items():
            status[code // 100] += n
        sizes = [s[5] for s in samples if s[5] is not None]
        if sizes:
            self.req_bytes += sum(sizes)
            self.req_n += len(sizes)
        sizes = [s[6] for s in samples if s[6] is not None]
        if sizes:
            self.resp_bytes += sum(sizes)
            self.resp_n += len(sizes)

    def merge(self, other: RequestAcc) -> None:
        """Add ``other``'s samples to this accumulator."""
        self.status = [a + b for a, b in zip(self.status, other.status, strict=True)]
        self.sum_ms += other.sum_ms
        if other.max_ms > self.max_ms:
            self.slowest_ts = other.slowest_ts
            self.slowest_status = other.slowest_status
        self.req_bytes += other.req_bytes
        self.req_n += other.req_n
        self.resp_bytes += other.resp_bytes
        self.resp_n += other.resp_n
        self.hist.merge(other.hist)

    def copy(self) -> RequestAcc:
        """An independent accumulator with the same samples."""
        copy = RequestAcc()
        copy.hist = self.hist.copy()
        copy.sum_ms = self.sum_ms
        copy.status = list(self.status)
        copy.req_bytes, copy.req_n = self.req_bytes, self.req_n
        copy.resp_bytes, copy.resp_n = self.resp_bytes, self.resp_n
        copy.slowest_ts, copy.slowest_status = self.slowest_ts, self.slowest_status
        return copy

    def since(self, earlier: RequestAcc) -> RequestAcc:
        """The samples added after ``earlier``, a copy of this accumulator taken before.

        Its min, max and slowest request are this accumulator's: they bound the added ones,
        so merging it into anything that holds ``earlier`` gives what holds this.
        """
        added = RequestAcc()
        added.status = [a - b for a, b in zip(self.status, earlier.status, strict=True)]
        added.sum_ms = self.sum_ms - earlier.sum_ms
        added.req_bytes = self.req_bytes - earlier.req_bytes
        added.req_n = self.req_n - earlier.req_n
        added.resp_bytes = self.resp_bytes - earlier.resp_bytes
        added.resp_n = self.resp_n - earlier.resp_n
        added.slowest_ts, added.slowest_status = self.slowest_ts, self.slowest_status
        hist, before = added.hist, earlier.hist.bins
        for pos, n in self.hist.bins.items():
            if n != before.get(pos, 0):
                hist.bins[pos] = n - before.get(pos, 0)
        hist.count = self.count - earlier.count
        hist.min, hist.max = self.hist.min, self.hist.max
        return added

    def status_classes(self) -> dict[str, int]:
        """Responses by status class ("2xx", ...), the classes seen only."""
        return {f"{c}xx": self.status[c] for c in range(1, 6) if self.status[c]}


class RunAcc(_Timed):
    """Agent runs (per agent or per model) or tool calls (per tool) in one bucket.

    ``cost_usd`` is every run's cost, reported or estimated; ``estimated_cost_usd`` is the
    part perf-mcp estimated (perf_mcp.core.pricing) for ``estimated_runs`` runs, and
    ``unpriced_runs`` reported tokens but no cost for a model without a known price. A tool's
    ``result_hist`` holds the sizes (characters) of the results it was told, if any.
    """

    __slots__ = (
        "cache_read_tokens",
        "cache_write_tokens",
        "cost_usd",
        "errors",
        "estimated_cost_usd",
        "estimated_runs",
        "failures",
        "input_tokens",
        "output_tokens",
        "result_chars",
        "result_hist",
        "tool_calls",
        "tools",
        "unpriced_runs",
    )

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0
        self.errors: dict[str, int] = {}
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_read_tokens = 0
        self.cache_write_tokens = 0
        self.cost_usd = 0.0
        self.estimated_cost_usd = 0.0
        self.estimated_runs = 0
        self.unpriced_runs = 0
        self.tool_calls = 0
        self.tools: dict[str, int] = {}
        self.result_chars = 0  # summed over result_hist.count results
        self.result_hist: LogHistogram | None = None  # None: no result size told

    def add(self, duration_ms: float, error_type: str | None, failed: bool) -> None:
        """Count one run or call."""
        self.sum_ms += duration_ms
        hist = self.hist  # the caller checked the duration: skip LogHistogram.add's checks
        pos = position(duration_ms)
        hist.bins[pos] = hist.bins.get(pos, 0) + 1
        hist.count += 1
        if duration_ms < hist.min:
            hist.min = duration_ms
        if duration_ms > hist.max:
            hist.max = duration_ms
        if failed:
            self.failures += 1
            add_label(self.errors, error_type or "unknown")

    def add_result(self, chars: int) -> None:
        """Count the size of one call's result, in characters."""
        if self.result_hist is None:
            self.result_hist = LogHistogram()
        self.result_hist.add(float(chars))
        self.result_chars += chars

    def add_run(
        self,
        duration_ms: float,
        error_type: str | None,
        failed: bool,
        tokens: tuple[int, int, int, int],
        cost_usd: float,
        cost_source: int,
        tools: Sequence[str],
    ) -> None:
        """Count one checked agent run and what it used: ``tokens`` are (input, output,
        cache read, cache write), ``cost_source`` says where ``cost_usd`` came from (a
        perf_mcp.core.pricing constant)."""
        self.add(duration_ms, error_type, failed)
        if cost_usd or tools or any(tokens):
            self.input_tokens += tokens[0]
            self.output_tokens += tokens[1]
            self.cache_read_tokens += tokens[2]
            self.cache_write_tokens += tokens[3]
            self.cost_usd += cost_usd
            if cost_source == ESTIMATED:
                self.estimated_cost_usd += cost_usd
                self.estimated_runs += 1
            elif cost_source == UNPRICED:
                self.unpriced_runs += 1
            self.tool_calls += len(tools)
            for tool in tools:
                add_label(self.tools, tool)

    def usage(self) -> dict[str, Any]:
        """Tokens and cost, as the answers name them."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cost_usd": self.cost_usd,
            "estimated_cost_usd": self.estimated_cost_usd,
            "estimated_runs": self.estimated_runs,
            "unpriced_runs": self.unpriced_runs,
        }

    def merge(self, other: RunAcc) -> None:
        """Add ``other``'s samples to this accumulator."""
        self.failures += other.failures
        self.sum_ms += other.sum_ms
        self.hist.merge(other.hist)
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.cost_usd += other.cost_usd
        self.estimated_cost_usd += other.estimated_cost_usd
        self.estimated_runs += other.estimated_runs
        self.unpriced_runs += other.unpriced_runs
        self.tool_calls += other.tool_calls
        for label, n in other.errors.items():
            add_label(self.errors, label, n)
        for label, n in other.tools.items():
            add_label(self.tools, label, n)
        if other.result_hist is not None:
            if self.result_hist is None:
                self.result_hist = LogHistogram()
            self.result_hist.merge(other.result_hist)
            self.result_chars += other.result_chars


def add_label(counts: dict[str, int], label: str, n: int = 1) -> None:
    """Count ``label``, folding new labels into OTHER once LABEL_BUDGET are known."""
    if label not in counts and len(counts) >= LABEL_BUDGET:
        label = OTHER
    counts[label] = counts.get(label, 0) + n


class SeriesRegistry:
    """Admits series names up to a budget; later names fold into one OTHER series.

    It remembers the admitted names only: the folded ones are counted by the OTHER series'
    records, so memory stays bounded however many distinct names come.

    >>> r = SeriesRegistry(budget=1)
    >>> r.admit("/a"), r.admit("/b"), r.admit("/a")
    (True, False, True)
    """

    def __init__(self, budget: int = 2000) -> None:
        if budget < 1:
            raise ValueError(f"series budget must be at least 1, got {budget}")
        self.budget = budget
        self.known: set[Hashable] = set()

    def admit(self, name: Hashable) -> bool:
        """Whether ``name`` gets a series of its own (False: record it under OTHER)."""
        if name in self.known:
            return True
        if len(self.known) < self.budget:
            self.known.add(name)
            return True
        return False
