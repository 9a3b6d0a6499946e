"""Opening a store: refusing files that are not ours (untouched), migrating old schemas,
and processes opening a new file at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from perf_mcp import Monitor, StoreError
from perf_mcp.storage import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, Storage


def test_refuses_a_database_of_another_application(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(StoreError, match="another application"):
        Monitor(db_path)
    assert db_path.read_bytes() == before


def test_refuses_a_file_that_is_not_sqlite(db_path: Path) -> None:
    db_path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StoreError, match="not a perf-mcp database"):
        Monitor(db_path)
    assert db_path.read_text().startswith("these are my notes")


def test_refuses_a_newer_schema(db_path: Path) -> None:
    Storage(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this perf-mcp"):
        Monitor(db_path)


def test_migrates_a_version_1_store_keeping_its_data(db_path: Path) -> None:
    """A store written by schema 1 (before alerts and resource samples) opens and upgrades."""
    conn = sqlite3.connect(db_path)
    conn.executescript(MIGRATIONS[0])
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO series (kind, name, method) VALUES ('request', '/old', 'GET')")
    conn.commit()
    conn.close()

    with Storage(db_path) as storage:
        assert storage.known_names("request") == ["/old"]
        storage.add_resource_sample(1_800_000_000.0, '{"cpu_percent": 12.5}')
        assert storage.resource_samples(since=0) == ['{"cpu_percent": 12.5}']
        assert storage.load_overrides() == []
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_processes_opening_a_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    """The first open of a file switches it to WAL: racing openers wait instead of failing."""
    opener = "import sys\nfrom perf_mcp import Monitor\nMonitor(sys.argv[1]).close()"
    for trial in range(5):
        path = tmp_path / f"new-{trial}.db"
        openers = [
            subprocess.Popen([sys.executable, "-c", opener, str(path)], stderr=subprocess.PIPE)
            for _ in range(4)
        ]
        errors = [p.communicate(timeout=60)[1].decode() for p in openers]
        assert [p.returncode for p in openers] == [0, 0, 0, 0], errors


def test_a_version_3_store_trades_its_folded_names_for_a_bounded_sample(db_path: Path) -> None:
    """Schema 3 kept every folded name forever; the upgrade drops them (their counts are the
    __other__ rows, which stay) and keeps a sample from then on."""
    conn = sqlite3.connect(db_path)
    for script in MIGRATIONS[:3]:
        conn.executescript(script)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 3")
    conn.executemany(
        "INSERT INTO folded_names VALUES ('request', ?)", [(f"GET /x{i}",) for i in range(5000)]
    )
    conn.commit()
    conn.close()
    with Storage(db_path) as storage:
        assert storage.folded_names("request") == []
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    assert conn.execute("SELECT count(*) FROM folded_names").fetchone()[0] == 0
    conn.close()
