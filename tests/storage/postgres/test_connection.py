"""The table parts' statements in psycopg's form: parameters, and SQLite's INSERT OR ...
as ON CONFLICT on the table's key; what cannot be bridged is refused, naming the fix."""

from __future__ import annotations

import pytest

pytest.importorskip("psycopg")

from perf_mcp.storage.postgres.connection import to_postgres


def test_parameters_are_numbered_as_postgresql_numbers_them() -> None:
    sql = "SELECT id FROM t WHERE (n - 1) % ? = 0 AND name = ?"
    assert to_postgres(sql, True) == "SELECT id FROM t WHERE (n - 1) % $1 = 0 AND name = $2"


def test_insert_or_replace_updates_every_column_but_the_key() -> None:
    sql = to_postgres(
        "INSERT OR REPLACE INTO folded_names (kind, name, seen_at) VALUES (?, ?, ?)", True
    )
    assert sql == (
        "INSERT INTO folded_names (kind, name, seen_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (kind, name) DO UPDATE SET seen_at = EXCLUDED.seen_at"
    )


def test_insert_or_ignore_does_nothing_on_any_conflict() -> None:
    sql = to_postgres("INSERT OR IGNORE INTO series (kind, name, method) VALUES (?, ?, ?)", True)
    assert sql.endswith("VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")


@pytest.mark.parametrize(
    ("sql", "fix"),
    [
        ("INSERT OR REPLACE INTO alert_states VALUES (?, ?, ?)", "column list"),
        ("INSERT OR REPLACE INTO unknown_table (a) VALUES (?)", "KEYS"),
        ("SELECT * FROM t WHERE a = ?1 OR b = ?1", "numbered parameters"),
    ],
)
def test_a_statement_postgresql_cannot_run_as_written_is_refused(sql: str, fix: str) -> None:
    with pytest.raises(ValueError, match=fix):
        to_postgres(sql, True)
