"""A million distinct endpoint names (and distinct methods) through the Python API: every record
counted once, the folded ones exactly, memory and the file bounded, whether or not the store
can be written."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from perf_mcp import Monitor
from perf_mcp.recording.pending import FOLDED_METHODS
from tests.recording.cardinality import (
    MAX_RSS_GROWTH,
    MAX_STORE_BYTES,
    FlakyStore,
    Peak,
    check_counted_once,
    endpoint,
    record_in_chunks,
)

NAMES = 1_000_000
CHUNK = 100_000  # half the default record buffer: the flusher folds one while the next comes


@pytest.mark.parametrize(
    "full_chunks",
    [range(0), range(3, 7)],
    ids=["store-writable", "store-full-for-400k-names"],
)
def test_a_million_distinct_names_stay_bounded_and_counted_once(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, full_chunks: range
) -> None:
    peak = Peak()
    with Monitor(db_path) as monitor:  # the default flusher, at its normal interval
        store = FlakyStore(monitor.storage)
        monkeypatch.setattr(monitor.storage, "write", store)
        record = monitor.record_request

        def record_names(first: int, end: int) -> None:
            for i in range(first, end):
                record(endpoint(i), "GET", 200, 1.0)

        record_in_chunks(record_names, NAMES, CHUNK, store, peak, full_chunks)
        check_counted_once(monitor, NAMES, peak)


def test_distinct_methods_are_names_too(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = 200_000
    peak = Peak()
    with Monitor(db_path) as monitor:
        store = FlakyStore(monitor.storage)
        monkeypatch.setattr(monitor.storage, "write", store)
        record = monitor.record_request

        def record_names(first: int, end: int) -> None:
            for i in range(first, end):
                record(endpoint(i), f"M{i}", 200, 1.0)

        record_in_chunks(record_names, names, CHUNK, store, peak)
        monitor.flush()
        budget = monitor.settings.series_budget
        now = time.time()
        series = monitor.series_between("request", now - 3600, now + 60)
        assert sum(s.acc.count for s in series) == names
        assert len(series) == budget + FOLDED_METHODS + 1  # the rest share (__other__, __other__)
        assert monitor.get_endpoint_stats(window="1h").folded_series == names - budget
        peak.sample()
        assert peak.growth < MAX_RSS_GROWTH
        assert monitor.store_size_bytes() < MAX_STORE_BYTES
