"""perf-mcp mark-deploy and perf-mcp summary --baseline, run as a person would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perf_mcp.cli import main


def test_a_marked_deploy_is_listed_and_compared_against(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mark-deploy", "v2.3.1", "--note", "new index", "--db", str(db_path)]) == 0
    assert "marked deploy v2.3.1" in capsys.readouterr().out
    assert main(["summary", "--json", "--db", str(db_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [(d["version"], d["note"]) for d in summary["deploys"]] == [("v2.3.1", "new index")]
    assert main(["summary", "--baseline", "deploy", "--json", "--db", str(db_path)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["baseline"], answer["deploy"]["version"]) == ("deploy", "v2.3.1")
    assert main(["summary", "--baseline", "previous", "--db", str(db_path)]) == 0
    assert "nothing changed past the gates" in capsys.readouterr().out


def test_a_comparison_without_a_marker_fails_with_the_reason(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["summary", "--baseline", "deploy", "--db", str(db_path)]) == 2
    assert "needs a deploy marker" in capsys.readouterr().err
    assert main(["mark-deploy", " ", "--db", str(db_path)]) == 2
    assert "version must be a non-blank string" in capsys.readouterr().err
