"""The storage contract, on both engines: every test runs on a SQLite file and on a
PostgreSQL database (``location``), through ``open_storage`` as the Monitor opens its store.
The bucket rows' own tests (test_buckets.py) run on both engines too."""

from __future__ import annotations

import json

import pytest

from perf_mcp.core.alerts import AlertEvent, AlertRecord, ThresholdOverride
from perf_mcp.core.series import OTHER
from perf_mcp.storage import FlushBatch, StoreError, open_storage
from perf_mcp.storage.folded import FOLDED_NAMES_KEPT
from perf_mcp.storage.store import EXPIRE_EVERY_S
from tests.storage.test_buckets import T0, hour, request_delta, run_delta

RULE = "response_time_p95_ms"

# ---------------------------------------------------------------- buckets and series


def test_two_writers_at_once_each_keep_their_rows(location: str) -> None:
    with (
        open_storage(location, clock=lambda: T0 + 5) as one,
        open_storage(location, clock=lambda: T0 + 5) as two,
    ):
        for _ in range(3):
            one.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(2.0)}}))
            two.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(4.0, 6.0)}}))
        (series,) = one.request_series(hour(10))
        counts = two.request_counts(hour(3600), [series.series_id])
    assert (series.acc.count, series.acc.sum_ms) == (9, 36.0)
    assert counts == {series.series_id: (9, 0, 36.0)}


def test_series_are_found_by_kind_name_and_method(location: str) -> None:
    batch = FlushBatch(
        requests={T0: {("/a", "GET"): request_delta(1.0), ("/a", "POST"): request_delta(2.0)}},
        runs={T0: {("tool", "search"): run_delta(3.0), ("agent", "planner"): run_delta(4.0)}},
    )
    with open_storage(location, clock=lambda: T0 + 5) as store:
        store.write(batch)
        store.write(batch)  # the same series again: no new rows in the series table
        assert store.known_names("request") == ["/a"]
        assert store.known_names("tool") == ["search"]
        assert sorted(store.series_ids("request", name="/a").values()) == [
            ("/a", "GET"),
            ("/a", "POST"),
        ]
        assert list(store.series_ids("request", method="POST").values()) == [("/a", "POST")]
        rows = store.rows_over_time(
            "request_buckets", "count", hour(10), store.series_ids("request")
        )
    assert sorted((ts, count) for ts, count, _ in rows) == [(T0, 2), (T0, 2)]


def test_an_empty_plan_reads_nothing(location: str) -> None:
    with open_storage(location, clock=lambda: T0 + 5) as store:
        store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(1.0)}}))
        assert store.request_series([]) == []


def test_rows_older_than_their_tier_keeps_are_deleted(location: str) -> None:
    now = [T0 + 5.0]
    retention = {10: 3600.0, 60: 86400.0, 3600: 7 * 86400.0}
    with open_storage(location, clock=lambda: now[0], retention_s=retention) as store:
        store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(1.0)}}))
        now[0] = T0 + 2 * 3600.0 + EXPIRE_EVERY_S
        store.write(
            FlushBatch(requests={int(now[0]) // 10 * 10: {("/b", "GET"): request_delta(1.0)}})
        )
        assert store.request_series(hour(10)) == []  # gone from the 10 s tier
        assert [s.name for s in store.request_series(hour(60))] == ["/a"]  # kept in the others


# ---------------------------------------------------------------- raw records, markers, folded


def test_the_slowest_requests_are_kept_newest_first_up_to_the_limit(location: str) -> None:
    with open_storage(location, clock=lambda: T0 + 5, raw_records=3) as store:
        for i in range(5):
            store.write(FlushBatch(requests={T0: {(f"/e{i}", "GET"): request_delta(10.0 + i)}}))
        store.write(FlushBatch(agent_runs=[
            (T0 + 1.0, "a", 5.0, True, None, "m", "p", 1, 2, 0, 0, 0.1, 0, "r1", None,
             "reported", None, None)
        ], tool_calls=[(T0 + 1.0, "search", "a", 2.0, False, "Timeout", "c1", None)]))  # fmt: skip
        slow = store.slowest_requests(T0, 10)
    assert [(s.endpoint, s.duration_ms) for s in slow] == [
        ("/e4", 14.0),
        ("/e3", 13.0),
        ("/e2", 12.0),
    ]


def test_deploy_markers_are_read_newest_first_by_every_process(location: str) -> None:
    with open_storage(location) as store:
        for i, at in enumerate((T0, T0 + 10, T0 + 20)):
            store.add_deploy_marker(at, f"v{i}", None if i else "first")
        assert [d.version for d in store.deploy_markers(T0)] == ["v2", "v1", "v0"]
        assert [d.version for d in store.deploy_markers(T0 + 5, T0 + 20)] == ["v1"]
        last = store.last_deploy_marker(T0 + 15)
        assert last is not None
        assert (last.version, last.at) == ("v1", T0 + 10)
    with open_storage(location) as other:
        assert other.deploy_markers(T0)[-1].note == "first"


def test_folded_counts_are_exact_and_the_name_sample_bounded(location: str) -> None:
    now = [T0 + 5.0]
    with open_storage(location, clock=lambda: now[0]) as store:
        for flush in range(3):
            now[0] = T0 + 5.0 + flush
            names = [("request", f"GET /f{flush}-{i}") for i in range(FOLDED_NAMES_KEPT)]
            acc = request_delta(1.0, 2.0)
            store.write(FlushBatch(requests={T0: {(OTHER, "GET"): acc}}, folded=names))
        assert store.folded_counts() == {"request": 6}
        assert store.folded_counts(since=T0 + 100) == {}
        newest = store.folded_names("request", limit=2 * FOLDED_NAMES_KEPT)
    assert sorted(newest) == sorted(f"GET /f2-{i}" for i in range(FOLDED_NAMES_KEPT))


# ---------------------------------------------------------------- what readers watch


def test_the_data_version_moves_when_any_writer_writes(location: str) -> None:
    with (
        open_storage(location, clock=lambda: T0 + 5) as reader,
        open_storage(location, clock=lambda: T0 + 5) as writer,
    ):
        before = reader.data_version()
        assert reader.data_version() == before
        writer.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(1.0)}}))
        after_flush = reader.data_version()
        writer.add_deploy_marker(T0, "v1", None)
        assert len({before, after_flush, reader.data_version()}) == 3


def test_a_read_only_store_refuses_writes_and_keeps_nothing(location: str) -> None:
    with open_storage(location, clock=lambda: T0 + 5) as store:
        store.read_only = "a test says so"
        with pytest.raises(StoreError, match="read-only"):
            store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(1.0)}}))
        store.read_only = None
        assert store.request_series(hour(10)) == []


# ---------------------------------------------------------------- alerts and resources


def test_overrides_alerts_and_events_are_shared(location: str) -> None:
    override = ThresholdOverride(rule=RULE, subject="/a", warning=100.0, updated_at=T0)
    alert = AlertRecord(
        id=0, threshold=RULE, subject="/a", severity="warning", state="firing", value=150.0,
        limit=100.0, unit="ms", message="slow", started_at=T0, updated_at=T0,
    )  # fmt: skip
    with open_storage(location) as store:
        store.save_override(override)
        store.save_override(override.model_copy(update={"warning": 120.0}))
        alert_id = store.save_alert(alert)
        store.save_alert(alert.model_copy(update={"id": alert_id, "state": "resolved"}))
        event = AlertEvent(
            kind="fired", rule=RULE, subject="/a", severity="warning", value=150.0,
            threshold=100.0, unit="ms", samples=3, at=T0, notify=True, message="slow",
        )  # fmt: skip
        store.add_alert_events([(alert_id, event)])
    with open_storage(location) as other:
        assert [o.warning for o in other.load_overrides()] == [120.0]
        assert [(a.id, a.state) for a in other.list_alerts(None, T0, 10)] == [
            (alert_id, "resolved")
        ]
        assert other.list_alerts("firing", None, 10) == []
        assert other.delete_override(RULE, "/a")
        assert not other.delete_override(RULE, "/a")
        ((event_id, stored),) = other.alert_events_after(0, 10)
        assert (stored.kind, stored.notify, event_id) == (
            "fired",
            True,
            other.last_alert_event_id(),
        )


def test_one_of_two_servers_holds_the_evaluation_lease(location: str) -> None:
    now = [T0 + 0.0]
    with (
        open_storage(location, clock=lambda: now[0]) as one,
        open_storage(location, clock=lambda: now[0]) as two,
    ):
        assert one.claim_alert_lease(30.0) == (True, 0)
        assert two.claim_alert_lease(30.0) == (False, 0)
        assert one.bump_alert_version() == 1
        now[0] += 31.0  # the holder stopped renewing
        assert two.claim_alert_lease(30.0) == (True, 1)
        two.release_alert_lease()
        assert one.alert_lease()[0] is None


def test_resource_samples_are_spread_and_averaged(location: str) -> None:
    with open_storage(location) as store:
        for i in range(10):
            store.add_resource_sample(T0 + i, json.dumps({"cpu_percent": float(i), "i": i}))
        samples, count = store.resource_samples_spread(T0, 5)
        means, n = store.resource_means(T0, T0 + 4, ("cpu_percent", "memory_percent"))
    assert count == 10
    assert [json.loads(s)["i"] for s in samples] == [1, 3, 5, 7, 9]
    assert (means, n) == ({"cpu_percent": 1.5, "memory_percent": None}, 4)


# ---------------------------------------------------------------- what an operator checks


def test_table_sizes_count_rows_per_table_and_tier(location: str) -> None:
    with open_storage(location, clock=lambda: T0 + 5) as store:
        store.write(FlushBatch(requests={T0: {("/a", "GET"): request_delta(1.0)}}))
        sizes = {name: (rows, size) for name, rows, size in store.table_sizes()}
        version = store.schema_version()
    assert sizes["request_buckets"][0] == 3  # one row in each tier
    assert sizes["request_buckets, tier 60 s"][0] == 1
    assert sizes["series"][0] == 1
    assert sizes["deploy_markers"][0] == 0
    assert (sizes["request_buckets"][1] or 0) > 0
    assert version >= 1
