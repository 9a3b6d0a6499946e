"""The code stays lint-clean, formatted and strictly typed (the same checks a reviewer runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "perf_mcp", "tests", "bench"],
        ["ruff", "format", "--check", "perf_mcp", "tests", "bench"],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_static_checks_pass(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


MAX_MODULE_LINES = 450  # each behaviour has a small home


def test_no_module_is_a_house_of_its_own() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in (ROOT / "perf_mcp").rglob("*.py")
    }
    assert {path: n for path, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_the_package_is_pure_python() -> None:
    compiled = [p for p in (ROOT / "perf_mcp").rglob("*") if p.suffix in (".c", ".so", ".pyd")]
    assert compiled == []
    assert not (ROOT / "setup.py").exists()
