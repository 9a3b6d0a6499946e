"""A million distinct endpoint names through the Python API: every record counted once, the
folded ones exactly, memory and the file bounded, whether or not the store can be written."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_mcp import Monitor
from tests.recording.cardinality import (
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
