"""A writer whose PostgreSQL server goes away: its writes and reads fail at once saying why,
nothing half-written stays, and once the server is back the same store writes again and
counts every flush once."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_mcp.core.series import RequestAcc
from perf_mcp.core.window import TierRange
from perf_mcp.storage import FlushBatch, StoreError, open_storage
from tests.pg_server import running_server

T0 = 1_800_000_000


def one_request() -> FlushBatch:
    acc = RequestAcc()
    acc.add_samples([(T0, "", "", 200, 5.0, None, None)])
    return FlushBatch(requests={T0: {("/a", "GET"): acc}})


def test_a_server_restart_costs_the_flushes_made_while_it_was_down_and_no_more(
    postgres_binaries: Path,
) -> None:
    with running_server(postgres_binaries) as server:  # its own: this test stops it
        url = server.database("postgres")
        with open_storage(url, clock=lambda: T0 + 5) as store:
            store.write(one_request())
            server.stop()
            with pytest.raises(StoreError, match="cannot be reached; nothing of this change"):
                store.write(one_request())
            with pytest.raises(StoreError, match=r"could not read .* cannot be reached"):
                store.request_series([TierRange(10, T0, T0 + 10)])
            server.start()
            store.write(one_request())  # the failed flush's batch, given again by the flusher
            (series,) = store.request_series([TierRange(10, T0, T0 + 10)])
    assert series.acc.count == 2
