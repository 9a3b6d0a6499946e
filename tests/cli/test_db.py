"""perf-mcp db check, run as an operator would."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_mcp import Monitor
from perf_mcp.cli import main


def test_the_check_shows_version_access_and_rows_per_table_and_tier(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Monitor(db_path, start_flusher=False) as monitor:
        monitor.record_request("/a", "GET", 200, 5.0)
    assert main(["db", "check", "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert f"store {db_path}: schema version" in out
    assert "writable" in out
    rows = {line[:32].strip(): line[32:45].strip() for line in out.splitlines()[2:]}
    assert rows["request_buckets"] == "6"  # the endpoint and the total, in 3 tiers
    assert rows["request_buckets, tier 3600 s"] == "2"


def test_migrate_brings_the_schema_up_to_date_and_prints_its_version(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from perf_mcp.storage import SCHEMA_VERSION

    assert main(["db", "migrate", "--db", str(db_path)]) == 0
    assert (
        capsys.readouterr().out == f"store {db_path}: schema version {SCHEMA_VERSION}, writable\n"
    )


@pytest.mark.parametrize(
    "command", [["db", "check"], ["summary"], ["mark-deploy", "v1"]], ids=lambda c: c[0]
)
def test_a_server_that_cannot_be_reached_fails_with_the_reason_and_no_password(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://perf:s3cret@/perf?host={tmp_path}"  # no server listens there
    assert main([*command, "--db", url]) == 2
    err = capsys.readouterr().err
    assert "cannot be reached" in err
    assert "s3cret" not in err
