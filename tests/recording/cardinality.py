"""What the cardinality tests share: a store that can be made unwritable, and the checks of a run.

A run records many distinct endpoint names through a Monitor whose flusher runs at its normal
interval; afterwards the store must hold every record exactly once, the records past the series
budget counted exactly under __other__, while memory and the file stayed bounded.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

from perf_mcp import Monitor
from perf_mcp.core.series import TOTAL
from perf_mcp.storage import FlushBatch, Storage, StoreError
from perf_mcp.storage.folded import FOLDED_NAMES_KEPT

MAX_RSS_GROWTH = 100 * 2**20
# The store holds the same whatever the number of names: the budget's series and __other__
# with their rows in each tier for the run's minutes, the newest FOLDED_NAMES_KEPT folded names
# per kind, and the WAL, which SQLite checkpoints at 1,000 pages (~4 MiB) but does not shrink.
# Measured: 1.9-2.8 MiB. One row per folded name, as before, adds ~84 MiB at 1M names.
MAX_STORE_BYTES = 16 * 2**20
FLUSH_WAIT_S = 60.0  # a stuck flusher fails the test instead of hanging it


def endpoint(i: int) -> str:
    """The i-th distinct endpoint (no segment reads as an id, so no two share a name)."""
    return f"/load/n{i}"


class FlakyStore:
    """Wraps a Storage's write: counts the requests each flush brings and, while ``full``,
    refuses the flush as a full disk does (the fault)."""

    def __init__(self, storage: Storage) -> None:
        self._write = storage.write
        self.full = False
        self.written = 0  # requests the store took
        self.refused = 0  # requests in the last flush the store refused (0: it took it)

    def __call__(self, batch: FlushBatch) -> None:
        requests = sum(
            acc.count
            for rows in batch.requests.values()
            for key, acc in rows.items()
            if key[0] != TOTAL
        )
        if self.full:
            self.refused = requests
            raise StoreError("could not write: the disk is full; nothing of this change was stored")
        self._write(batch)
        self.written += requests
        self.refused = 0

    def wait_until_flushed(self, recorded: int) -> None:
        """Wait until a flush brought the store every request recorded so far (a refused one
        is put back whole, so it brings what the store has not taken)."""
        deadline = time.monotonic() + FLUSH_WAIT_S
        while self.written + self.refused < recorded:
            assert time.monotonic() < deadline, "the flusher stopped flushing"
            time.sleep(0.01)


@dataclass
class Peak:
    """The largest growth of this process's resident memory since it was made."""

    process: psutil.Process = field(default_factory=psutil.Process)
    start: int = 0
    growth: int = 0

    def __post_init__(self) -> None:
        gc.collect()
        self.start = self.process.memory_info().rss

    def sample(self) -> None:
        self.growth = max(self.growth, self.process.memory_info().rss - self.start)


def record_in_chunks(
    record: Callable[[int, int], None],
    names: int,
    chunk: int,
    store: FlakyStore,
    peak: Peak,
    full_chunks: range = range(0),
) -> None:
    """Record names [0, names) ``chunk`` at a time through ``record(first, end)``, the store
    refusing flushes during ``full_chunks``; after each chunk the flusher must bring everything
    to the store, so the record buffer never overflows."""
    for n, first in enumerate(range(0, names, chunk)):
        store.full = n in full_chunks
        end = min(first + chunk, names)
        record(first, end)
        peak.sample()
        store.wait_until_flushed(end)
        peak.sample()


def check_counted_once(monitor: Monitor, names: int, peak: Peak) -> None:
    """Every record is in the store once; those past the budget are counted under __other__,
    exactly, and a sample of the newest of their names is kept; memory and file stayed bounded."""
    monitor.flush()
    peak.sample()
    budget = monitor.settings.series_budget
    assert monitor.drops == {"samples": 0, "rejected": 0, "raw": 0, "buckets": 0}
    now = time.time()
    series = monitor.series_between("request", now - 3600, now + 60)
    assert sum(s.acc.count for s in series) == names
    assert len(series) == budget + 1  # the __other__ series holds the rest
    assert monitor.get_endpoint_stats(window="1h").folded_series == names - budget
    assert monitor.get_performance_summary("1h").folded_series == {"request": names - budget}
    sample = monitor.storage.folded_names("request", limit=names)
    assert len(sample) == FOLDED_NAMES_KEPT
    assert f"GET {endpoint(names - 1)}" in sample  # the newest folded name
    peak.sample()
    assert peak.growth < MAX_RSS_GROWTH, f"RSS grew {peak.growth / 2**20:.0f} MiB"
    size = monitor.store_size_bytes()
    print(f"{names:,} names: RSS +{peak.growth / 2**20:.1f} MiB, store {size / 2**20:.2f} MiB")
    assert size < MAX_STORE_BYTES, f"the store takes {size / 2**20:.1f} MiB"
