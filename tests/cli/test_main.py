"""The perf-mcp entry point: one version, from perf_mcp.__version__."""

from __future__ import annotations

from importlib.metadata import version

import pytest

import perf_mcp
from perf_mcp.cli import main


def test_version_flag_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out == f"perf-mcp {perf_mcp.__version__}\n"


def test_installed_metadata_carries_the_same_version() -> None:
    assert version("perf-mcp") == perf_mcp.__version__
