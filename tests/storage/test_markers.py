"""Deploy markers: stored for every process on the file, read newest first, kept by a migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from perf_mcp import Monitor, StoreError
from perf_mcp.storage import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, Storage

T0 = 1_800_000_000.0


def test_markers_are_read_newest_first_within_the_span(db_path: Path) -> None:
    with Storage(db_path) as storage:
        for i, at in enumerate((T0, T0 + 10, T0 + 20)):
            storage.add_deploy_marker(at, f"v{i}", None if i else "first")
        assert [d.version for d in storage.deploy_markers(T0)] == ["v2", "v1", "v0"]
        assert [d.version for d in storage.deploy_markers(T0 + 5, T0 + 20)] == ["v1"]
        assert [d.version for d in storage.deploy_markers(T0, limit=1)] == ["v2"]
        last = storage.last_deploy_marker(T0 + 15)
        assert last is not None
        assert (last.version, last.at) == ("v1", T0 + 10)
        assert storage.last_deploy_marker(T0 - 1) is None
    with Storage(db_path) as other:  # another process sees them
        assert other.deploy_markers(T0)[-1].note == "first"


def test_a_version_4_store_gains_the_marker_table_and_keeps_its_data(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    for script in MIGRATIONS[:4]:
        conn.executescript(script)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO series (kind, name, method) VALUES ('request', '/old', 'GET')")
    conn.commit()
    conn.close()
    with Storage(db_path) as storage:
        assert storage.known_names("request") == ["/old"]
        storage.add_deploy_marker(T0, "v5", None)
        assert [d.version for d in storage.deploy_markers(0)] == ["v5"]
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_a_bad_version_or_note_is_refused_and_stores_nothing(monitor: Monitor) -> None:
    with pytest.raises(ValueError, match="version must be a non-blank string"):
        monitor.mark_deploy("")
    with pytest.raises(ValueError, match="note must be a non-blank string of at most 500"):
        monitor.mark_deploy("v1", "x" * 501)
    assert monitor.storage.deploy_markers(0) == []


def test_a_read_only_store_refuses_a_marker(db_path: Path) -> None:
    Storage(db_path).close()
    with Storage(db_path) as storage:
        storage.read_only = "a test says so"
        with pytest.raises(StoreError, match="read-only"):
            storage.add_deploy_marker(T0, "v1", None)
