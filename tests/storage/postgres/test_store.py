"""The PostgreSQL store as its users meet it: through the Monitor, with a password kept out
of what it shows, and a clear message when the server cannot be reached."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_mcp import Monitor
from perf_mcp.storage import StoreError, open_storage, without_password

pytest.importorskip("psycopg")


def test_a_monitor_on_postgresql_records_and_answers(postgres_url: str) -> None:
    with Monitor(postgres_url, flush_interval_s=3600) as writer:
        for ms in (10.0, 20.0, 30.0):
            writer.record_request("/users/42", "GET", 200, ms)
        writer.record_request("/users/7", "GET", 503, 40.0)
        writer.flush()
    with Monitor(postgres_url, flush_interval_s=3600) as reader:  # another process's view
        (stats,) = reader.get_endpoint_stats().endpoints
        assert (stats.endpoint, stats.count, stats.error_count) == ("/users/{id}", 4, 1)
        assert reader.store_size_bytes() > 0
        assert reader.db_path == postgres_url


def test_the_password_is_not_shown() -> None:
    assert without_password("postgresql://perf:s3cret@db:5432/perf") == (
        "postgresql://perf:***@db:5432/perf"
    )
    assert without_password("postgresql://perf@db/perf") == "postgresql://perf@db/perf"


def test_a_server_that_cannot_be_reached_is_named_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://perf:s3cret@/perf?host={tmp_path}"  # no server listens there
    with pytest.raises(StoreError, match="cannot be reached") as raised:
        open_storage(url, busy_timeout_s=0.5)
    assert "s3cret" not in str(raised.value)


def test_a_change_inside_a_change_stays_in_the_outer_transaction(postgres_url: str) -> None:
    """No table part nests changes today; one that does must not commit half of them."""
    with open_storage(postgres_url) as store:

        def marker_then_failure() -> None:
            with store._writing():  # what a table part's write method opens
                store.add_deploy_marker(1.0, "inner", None)  # its own, nested
                raise RuntimeError("the outer change is undone, the inner one with it")

        with pytest.raises(RuntimeError, match="undone"):
            marker_then_failure()
        assert store.deploy_markers(0) == []
