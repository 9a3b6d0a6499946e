"""The SLO table: replace by name, delete, shared between connections, and the migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from perf_mcp.core.alerts.slo import make_slo
from perf_mcp.storage import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, Storage


def test_slos_are_replaced_by_name_deleted_and_seen_by_other_connections(db_path: Path) -> None:
    first = make_slo(kind="availability", scope="all", objective=0.99, now=1.0, name="a")
    second = first.model_copy(update={"objective": 0.999, "updated_at": 2.0})
    with Storage(db_path) as storage, Storage(db_path) as other:
        assert storage.save_slo(first) is False
        assert storage.save_slo(second) is True
        assert other.load_slos() == [second]
        assert other.delete_slo("a")
        assert not storage.delete_slo("a")
        assert storage.load_slos() == []


def test_a_version_5_store_gains_the_slo_table_and_keeps_its_data(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    for script in MIGRATIONS[:5]:
        conn.executescript(script)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 5")
    conn.execute("INSERT INTO deploy_markers (ts, version) VALUES (1.0, 'v1')")
    conn.commit()
    conn.close()
    with Storage(db_path) as storage:
        assert [d.version for d in storage.deploy_markers(0)] == ["v1"]
        assert storage.load_slos() == []
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
