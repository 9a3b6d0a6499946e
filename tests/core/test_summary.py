"""The summary's Head: stored parts plus pending records, updated incrementally, always equal
to a summary built at once from everything."""

from __future__ import annotations

import random

from perf_mcp.core import models as m
from perf_mcp.core.series import RequestAcc, RunAcc
from perf_mcp.core.sketch import LogHistogram
from perf_mcp.core.summary import Head, PendingBucket, Row, StoredSummary

NAMES = [(f"/e{i}", "GET") for i in range(12)]


def stored_rows(rng: random.Random) -> dict[tuple[str, str], Row]:
    rows = {}
    for key in NAMES[:8]:  # the rest appear only in memory
        hist = LogHistogram()
        for _ in range(rng.randint(1, 40)):
            hist.add(rng.lognormvariate(3, 1))
        rows[key] = (hist, rng.randint(0, 3), hist.quantile(0.95) or 0.0)
    return rows


def summary_of(
    rows: dict[tuple[str, str], Row],
    total: RequestAcc | None,
    tools: RunAcc | None,
    slowest: list[m.SlowRequest],
) -> StoredSummary:
    return StoredSummary(
        window="5m",
        seconds=300,
        generated_at=0.0,
        requests=total,
        agents=None,
        tools=tools,
        endpoints=rows,
        slowest=slowest,
        folded={},
        large_results=[],
    )


def everything_at_once(stored: StoredSummary, buckets: list[PendingBucket]) -> StoredSummary:
    """The stored parts with every pending record merged in, as a flush would leave them."""
    rows = {key: (LogHistogram(), errors, 0.0) for key, (_, errors, _) in stored.endpoints.items()}
    for key, (hist, _, _) in stored.endpoints.items():
        rows[key][0].merge(hist)
    total = RequestAcc()
    if stored.requests is not None:
        total.merge(stored.requests)
    tools = RunAcc()
    if stored.tools is not None:
        tools.merge(stored.tools)
    slowest = list(stored.slowest)
    for bucket in buckets:
        for key, acc in bucket.requests.items():
            hist, errors, _ = rows.get(key, (LogHistogram(), 0, 0.0))
            hist.merge(acc.hist)
            rows[key] = (hist, errors + acc.status[5], 0.0)
            total.merge(acc)
            slowest.append(
                m.SlowRequest(
                    endpoint=key[0],
                    method=key[1],
                    status_code=acc.slowest_status,
                    duration_ms=acc.max_ms,
                    timestamp=acc.slowest_ts,
                )
            )
        for run in bucket.runs.values():
            tools.merge(run)
    rows = {key: (h, e, h.quantile(0.95) or 0.0) for key, (h, e, _) in rows.items()}
    slowest.sort(key=lambda r: -r.duration_ms)
    return summary_of(rows, total, tools if tools.count else None, slowest[: m.SUMMARY_ROWS])


def test_a_head_updated_step_by_step_equals_one_built_at_once() -> None:
    rng = random.Random(7)
    stored_total = RequestAcc()
    stored_total.add_samples([(1.0, "", "", 200, 12.0, None, None)])
    stored = summary_of(stored_rows(rng), stored_total, None, [])
    head = Head(stored)
    buckets = [PendingBucket(start, {}, {}) for start in (100, 110)]
    for step in range(300):
        bucket = rng.choice(buckets)
        requests = bucket.requests
        assert isinstance(requests, dict)
        if step % 7 == 0:  # the slowest endpoint gets many fast requests: its p95 falls
            slowest = max(head.stored.endpoints, key=lambda k: head.stored.endpoints[k][2])
            acc = requests.setdefault(slowest, RequestAcc())
            for _ in range(30):
                acc.add_samples([(100.0 + step, "", "", 200, 0.5, None, None)])
        elif step % 5 == 0:
            runs = bucket.runs
            assert isinstance(runs, dict)
            runs.setdefault(("tool", "t"), RunAcc()).add(rng.uniform(1, 9), None, False)
        else:
            acc = requests.setdefault(rng.choice(NAMES), RequestAcc())
            status = 503 if rng.random() < 0.2 else 200
            acc.add_samples(
                [(100.0 + step, "", "", status, rng.lognormvariate(3, 1.2), None, None)]
            )
        if step % 3:  # several changes may come between two summaries
            continue
        answer = head.update(head.changes(buckets), now=float(step))
        expected = Head(everything_at_once(stored, buckets)).update(None, now=0.0)
        assert answer.model_dump(exclude={"generated_at"}) == expected.model_dump(
            exclude={"generated_at"}
        ), step
        assert head.changes(buckets) is None  # nothing new since: the same answer again
        assert head.update(None, now=1.0) is answer


def test_a_head_leaves_the_stored_parts_unchanged() -> None:
    rng = random.Random(8)
    stored = summary_of(stored_rows(rng), None, None, [])
    before = {key: (dict(h.bins), e, p) for key, (h, e, p) in stored.endpoints.items()}
    head = Head(stored)
    acc = RequestAcc()
    for _ in range(100):
        acc.add_samples([(5.0, "", "", 500, 999.0, None, None)])
    answer = head.update(head.changes([PendingBucket(0, {NAMES[0]: acc}, {})]), now=5.0)
    assert answer.slowest_endpoints[0].endpoint == NAMES[0][0]
    assert answer.requests.count == 100
    assert {key: (dict(h.bins), e, p) for key, (h, e, p) in stored.endpoints.items()} == before
