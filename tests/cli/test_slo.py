"""perf-mcp slo set | list | delete, run as a person would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perf_mcp.cli import main


def test_an_slo_is_set_listed_and_deleted(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", str(db_path)]
    assert (
        main(
            ["slo", "set", "availability", "0.999", "--endpoint", "POST /pay", "--name", "pay", *db]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["slo"]["subject"] == "POST /pay"
    assert main(["slo", "set", "latency", "0.99", "--threshold-ms", "300", "--dry-run", *db]) == 0
    assert json.loads(capsys.readouterr().out)["dry_run"] is True
    assert main(["slo", "list", *db]) == 0
    assert capsys.readouterr().out.startswith(
        "pay: 99.9000% over 30 d, 0 events, 0 bad, budget left 100.0%"
    )
    assert main(["slo", "delete", "pay", *db]) == 0
    assert capsys.readouterr().out == "deleted SLO pay\n"
    assert main(["slo", "list", "--json", *db]) == 0
    assert json.loads(capsys.readouterr().out)["slos"] == []


def test_a_bad_slo_fails_with_the_reason(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slo", "set", "availability", "2", "--db", str(db_path)]) == 2
    assert "objective: must be a fraction strictly between 0 and 1" in capsys.readouterr().err
    assert main(["slo", "delete", "nope", "--db", str(db_path)]) == 2
    assert "no SLO named 'nope'" in capsys.readouterr().err
