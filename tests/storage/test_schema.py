"""Opening a store: refusing files that are not ours (untouched), migrating old schemas,
processes opening a new file at once, and stores this process cannot write (read-only)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from perf_mcp import Monitor, StoreError
from perf_mcp.core.window import TierRange
from perf_mcp.storage import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, FlushBatch, Storage


def test_refuses_a_database_of_another_application(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(StoreError, match="another application"):
        Monitor(db_path)
    assert db_path.read_bytes() == before


@pytest.mark.parametrize("url", ["postgresql://perf@db/perf", "mysql+pymysql://x/y", "s3://b/k"])
def test_refuses_a_database_url_instead_of_making_a_folder_named_after_it(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match=r"database URL; perf-mcp keeps its data in a SQLite file"):
        Storage(url)
    assert list(tmp_path.iterdir()) == []


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
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM folded_names").fetchone()[0] == 0
    conn.close()


def test_a_version_5_store_keeps_its_runs_as_reported_costs_without_result_sizes(
    db_path: Path,
) -> None:
    """Schema 6 adds cache writes, estimated costs and tool result sizes; rows written before
    count every cost as reported and no result as measured, and new rows add to them."""
    t0 = 1_800_000_000
    conn = sqlite3.connect(db_path)
    for script in MIGRATIONS[:5]:
        conn.executescript(script)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 5")
    conn.execute("INSERT INTO series (id, kind, name, method) VALUES (1, 'agent', 'old', '')")
    conn.execute(
        "INSERT INTO run_buckets VALUES (3600, ?, 1, 7, 2, 0, 30.0, 10.0, 20.0, x'', "
        "100, 50, 0, 0.5, 0, '{}', '{}')",
        (t0,),
    )
    conn.execute(
        "INSERT INTO agent_runs (ts, agent_name, duration_ms, success, input_tokens, "
        "output_tokens, cache_read_tokens, cost_usd, tool_calls) "
        "VALUES (?, 'old', 10.0, 1, 100, 50, 0, 0.5, 0)",
        (t0,),
    )
    conn.commit()
    conn.close()
    with Storage(db_path, clock=lambda: t0 + 60) as storage:
        [old] = storage.run_series("agent", [TierRange(3600, t0, t0 + 3600)], name="old")
        assert (old.acc.count, old.acc.cost_usd, old.acc.estimated_cost_usd) == (2, 0.5, 0.0)
        assert (old.acc.cache_write_tokens, old.acc.result_hist) == (0, None)
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT cost_source, price_date FROM agent_runs").fetchall() == [
        ("reported", None)
    ]
    conn.close()


def fill(path: Path) -> None:
    with Monitor(path, start_flusher=False) as monitor:
        for ms in (5.0, 7.0, 9.0):
            monitor.record_request("/kept", "GET", 200, ms)


def refuse_writes_to(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process see ``path`` as not writable (the tests run as root, for whom file
    modes do not stop writes): what os.access says of a file its user may not write."""
    real_access = os.access

    def access(target: Any, mode: int, **kwargs: Any) -> bool:
        if mode & os.W_OK and Path(target) == path:
            return False
        return real_access(target, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)


def test_a_store_this_process_cannot_write_opens_read_only(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(db_path)
    before = db_path.read_bytes()
    refuse_writes_to(db_path, monkeypatch)
    with Monitor(db_path, start_flusher=False) as monitor:
        (row,) = monitor.get_endpoint_stats().endpoints
        assert (row.endpoint, row.count, row.max_ms) == ("/kept", 3, 9.0)
        storage = monitor.storage
        assert storage.read_only == "this process may not write the file"
        for write in (
            lambda: storage.write(
                FlushBatch(tool_calls=[(1.0, "t", None, 1.0, True, None, None, None)])
            ),
            lambda: storage.add_resource_sample(1.0, "{}"),
            lambda: storage.bump_alert_version(),
        ):
            with pytest.raises(StoreError, match=r"read-only: this process may not write"):
                write()
        for record in (  # the record methods say so at the call
            lambda: monitor.record_request("/kept", "GET", 200, 1.0),
            lambda: monitor.record_agent_run(agent_name="a", duration_ms=1.0),
            lambda: monitor.record_tool_call("t", 1.0),
        ):
            with pytest.raises(StoreError, match=r"read-only: this process may not write"):
                record()
        assert monitor.get_performance_summary().requests.count == 3
    assert db_path.read_bytes() == before


def test_a_read_only_store_of_an_older_schema_says_how_to_upgrade_it(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(db_path)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 3")
    conn.close()
    refuse_writes_to(db_path, monkeypatch)
    with pytest.raises(StoreError, match="open it once with write access to upgrade it"):
        Storage(db_path)


READER = textwrap.dedent(
    """
    import json, sys
    from perf_mcp.storage import FlushBatch, Storage, StoreError
    from perf_mcp.core.window import TierRange

    with Storage(sys.argv[1]) as store:
        series = store.request_series([TierRange(3600, 0, 4_000_000_000)])
        try:
            store.write(FlushBatch(tool_calls=[(1.0, "t", None, 1.0, True, None, None, None)]))
            error = None
        except StoreError as exc:
            error = str(exc)
        print(json.dumps({"counts": [s.acc.count for s in series], "error": error}))
    """
)


def test_a_store_on_a_read_only_file_system_is_read(tmp_path: Path) -> None:
    """A real read-only mount (a private mount namespace of a child process), where even root
    cannot write and SQLite cannot make its -shm file."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("needs unshare(1) and mount(8)")
    store_dir = tmp_path / "ro"
    fill(store_dir / "perf.db")
    script = (
        'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && '
        'exec "$2" -c "$3" "$1/perf.db"'
    )
    child = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
        + [str(store_dir), sys.executable, READER],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    if child.returncode != 0 and "mount" in child.stderr and "perf_mcp" not in child.stderr:
        pytest.skip(f"cannot make a read-only mount here: {child.stderr.strip()}")
    assert child.returncode == 0, child.stderr
    answer = json.loads(child.stdout)
    assert answer["counts"] == [3]
    assert "read-only: this process may not write the file" in answer["error"]


def test_a_version_5_store_keeps_its_overrides_and_learns_who_changes_them(
    db_path: Path,
) -> None:
    """Schema 6 adds who set a threshold; overrides set before it read as by an unknown."""
    conn = sqlite3.connect(db_path)
    for step in MIGRATIONS[:5]:
        conn.executescript(step)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 5")
    conn.execute(
        "INSERT INTO threshold_overrides VALUES ('tool_error_rate', '', 0.2, NULL, NULL, 1)"
    )
    conn.commit()
    conn.close()

    with Storage(db_path) as storage:
        (old,) = storage.load_overrides()
        storage.save_override(old.model_copy(update={"warning": 0.3, "changed_by": "full token"}))
        (new,) = storage.load_overrides()
    assert (old.rule, old.warning, old.changed_by) == ("tool_error_rate", 0.2, None)
    assert (new.warning, new.changed_by) == (0.3, "full token")
