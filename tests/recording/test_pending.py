"""Pending: what grows with the number of distinct names stays bounded, and counts stay exact."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from perf_mcp.core import validation as check
from perf_mcp.core.series import OTHER, TOTAL
from perf_mcp.core.validation import AgentRunSample, RequestSample, ToolCallSample
from perf_mcp.recording.pending import ALIAS_CACHE, FOLDED_METHODS, Pending
from perf_mcp.storage.folded import FOLDED_NAMES_KEPT

NOW = 1_800_000_000.0


def fold(
    pending: Pending, requests: Sequence[RequestSample], tools: Sequence[ToolCallSample] = ()
) -> None:
    """Fold checked samples as the flusher does."""
    runs: deque[AgentRunSample] = deque()
    pending.fold(deque(requests), runs, deque(tools))


def request(endpoint: str, method: str = "GET", ts: float = NOW) -> RequestSample:
    return check.request(endpoint, method, 200, 1.0, None, None, ts, NOW)


def tool(name: str) -> ToolCallSample:
    return check.tool_call(name, 1.0, True, None, None, None, None, None, NOW)


def folded_names(pending: Pending, kind: str) -> list[str]:
    batch, _ = pending.take()
    return [name for k, name in batch.folded if k == kind]


def test_the_folded_names_kept_are_the_newest_of_each_kind() -> None:
    pending = Pending(series_budget=1)
    names = 3 * FOLDED_NAMES_KEPT
    fold(pending, [request(f"/n{i}") for i in range(names)], [tool(f"t{i}") for i in range(5)])
    batch, _ = pending.take()
    assert [n for k, n in batch.folded if k == "request"] == [
        f"GET /n{i}" for i in range(names - FOLDED_NAMES_KEPT, names)
    ]
    assert [n for k, n in batch.folded if k == "tool"] == [f"t{i}" for i in range(1, 5)]
    (bucket,) = batch.requests.values()
    assert bucket[(OTHER, "GET")].count == names - 1  # every folded record, counted once
    assert bucket[(TOTAL, "")].count == names


def test_a_failed_flush_puts_its_folded_names_back_as_the_older_ones() -> None:
    pending = Pending(series_budget=1)
    fold(pending, [request(f"/old{i}") for i in range(FOLDED_NAMES_KEPT)])
    batch, buckets = pending.take()
    fold(pending, [request("/new")])
    pending.put_back(buckets, batch)
    kept = folded_names(pending, "request")
    assert len(kept) == FOLDED_NAMES_KEPT
    assert kept[-1] == "GET /new"
    assert "GET /old0" not in kept  # the oldest made room


def test_methods_of_folded_requests_fold_too_past_their_budget() -> None:
    pending = Pending(series_budget=1)
    methods = 10 * FOLDED_METHODS
    fold(pending, [request(f"/n{i}", f"M{i}") for i in range(methods)])
    batch, _ = pending.take()
    (bucket,) = batch.requests.values()
    folded = {key: acc.count for key, acc in bucket.items() if key[0] == OTHER}
    assert len(folded) == FOLDED_METHODS + 1  # one series per method kept, one for the rest
    assert folded[(OTHER, OTHER)] == methods - 1 - FOLDED_METHODS
    assert sum(folded.values()) == methods - 1


def test_the_raw_names_remembered_are_bounded_across_buckets() -> None:
    pending = Pending(series_budget=10)
    buckets = 5
    fold(pending, [request(f"/n{i}", ts=NOW - 10 * (i % buckets)) for i in range(2 * ALIAS_CACHE)])
    remembered = sum(
        len(names) for bucket in pending.buckets.values() for names in bucket.aliases.values()
    )
    assert len(pending.buckets) == buckets
    assert remembered == ALIAS_CACHE
