"""Many processes writing one PostgreSQL store at once: each keeps its own rows, nothing is
lost or counted twice, and one server at a time holds the alert lease."""

from __future__ import annotations

import subprocess
import sys

import pytest

from perf_mcp.core.window import TierRange
from perf_mcp.storage import open_storage

psycopg = pytest.importorskip("psycopg")

T0 = 1_800_000_000
WRITER = """
import sys
from perf_mcp.core.series import RequestAcc
from perf_mcp.storage import FlushBatch, open_storage

url, flushes, endpoints = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
T0 = 1_800_000_000
with open_storage(url, clock=lambda: T0 + 5.0) as store:
    held, _ = store.claim_alert_lease(60.0)
    for flush in range(flushes):
        batch = {}
        for e in reversed(range(endpoints)) if flush % 2 else range(endpoints):
            acc = batch[(f"/e{e}", "GET")] = RequestAcc()
            acc.add_samples([(T0 + flush % 10, "", "", 200, 1.0 + e, None, None)])
        store.write(FlushBatch(requests={T0 + 10 * (flush % 6): batch}))
print(int(held))
"""


def test_writers_in_several_processes_add_up_exactly(postgres_url: str) -> None:
    processes, flushes, endpoints = 4, 30, 50
    open_storage(postgres_url).close()  # the schema, before the writers race for it
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, postgres_url, str(flushes), str(endpoints)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    held = [int(w.communicate(timeout=120)[0]) for w in writers]
    assert [w.returncode for w in writers] == [0] * processes
    assert sum(held) == 1  # the lease: one holder while it is live
    with open_storage(postgres_url) as store:
        for tier in (10, 60, 3600):
            series = store.request_series([TierRange(tier, T0, T0 + 3600)])
            assert len(series) == endpoints
            assert {s.acc.count for s in series} == {processes * flushes}
    with psycopg.connect(postgres_url) as conn:
        (sources,) = conn.execute("SELECT count(DISTINCT source) FROM request_buckets").fetchone()
        (names,) = conn.execute("SELECT count(*) FROM series").fetchone()
    assert (sources, names) == (processes, endpoints)
