"""The perf-mcp command line, run as a person runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perf_mcp import Monitor
from tests.e2e.mcp_process import run_cli


@pytest.fixture
def recorded(db_path: Path) -> Path:
    """A store with some traffic in it, written by the library as an app would."""
    with Monitor(db_path, start_flusher=False) as monitor:
        for i in range(30):
            monitor.record_request("/search", "GET", 500 if i < 3 else 200, 20.0 + i)
        monitor.record_request("/users/42", "GET", 200, 900.0)
        monitor.record_agent_run(agent_name="planner", duration_ms=1500, input_tokens=120)
        monitor.record_tool_call("grep", 12.0, success=False, error_type="timeout")
    return db_path


def test_summary_json_has_the_numbers(recorded: Path) -> None:
    result = run_cli("summary", "--db", str(recorded), "--window", "1h", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["window"] == "1h"
    assert summary["requests"]["count"] == 31
    assert summary["requests"]["error_count"] == 3
    assert summary["agents"]["runs"] == 1
    assert summary["tools"]["failures"] == 1


def test_summary_table_is_readable(recorded: Path) -> None:
    result = run_cli("summary", "--db", str(recorded))
    assert result.returncode == 0, result.stderr
    table = result.stdout
    for expected in ("last 5m", "requests", "agent runs", "tool calls", "GET /users/{id}", "31"):
        assert expected in table
    assert "slowest endpoints" in table
    assert "most 5xx errors" in table


def test_summary_of_an_empty_store_says_so(db_path: Path) -> None:
    result = run_cli("summary", "--db", str(db_path))
    assert result.returncode == 0, result.stderr
    assert "no traffic recorded in the last 5m" in result.stdout


def test_summary_of_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database " * 100)
    result = run_cli("summary", "--db", str(notes))
    assert result.returncode == 2
    assert str(notes) in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_window_lists_the_allowed_ones(db_path: Path) -> None:
    result = run_cli("summary", "--db", str(db_path), "--window", "2m")
    assert result.returncode == 2
    assert "'1m', '5m', '15m', '1h', '24h', '7d'" in result.stderr


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("perf-mcp ")


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        ((), ["serve", "summary"]),
        (
            ("serve",),
            ["--transport", "--host", "--port", "--db", "--sample-interval", "--alert-interval"]
            + ["--webhook-url", "--watch-pid", "--disk-path"],
        ),
        (("summary",), ["--window", "--json", "--db"]),
    ],
)
def test_every_command_has_help(command: tuple[str, ...], mentions: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    for flag in mentions:
        assert flag in result.stdout


AT_LEAST_ONE = "Input should be greater than or equal to 1"


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (("--sample-interval", "0.5"), f"--sample-interval: {AT_LEAST_ONE}"),
        (("--alert-interval", "0"), f"--alert-interval: {AT_LEAST_ONE}"),
        (("--webhook-url", "ftp://hooks"), "webhook URL must be http:// or https://"),
    ],
)
def test_serve_refuses_bad_watching_settings(
    db_path: Path, flags: tuple[str, ...], says: str
) -> None:
    result = run_cli("serve", "--db", str(db_path), *flags, timeout=30)
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr
