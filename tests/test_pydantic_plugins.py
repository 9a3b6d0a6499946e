"""logfire's pydantic plugin stays out of an app's import of perf_mcp unless it is wanted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.e2e.mcp_process import REPO

AFTER_IMPORT = """
import json, os, sys
import {module}
before = "logfire" in sys.modules
import pydantic

class AppModel(pydantic.BaseModel):
    x: int

print(json.dumps({{
    "logfire_on_import": before,
    "logfire_on_app_model": "logfire" in sys.modules,
    "env_left": os.environ.get("PYDANTIC_DISABLE_PLUGINS"),
}}))
"""


def run(module: str, **env: str) -> dict[str, object]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYDANTIC_", "LOGFIRE_"))}
    result = subprocess.run(
        [sys.executable, "-c", AFTER_IMPORT.format(module=module)],
        capture_output=True,
        text=True,
        env={**base, "PYTHONPATH": str(REPO), **env},
        cwd=REPO,
        check=True,
        timeout=60,
    )
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


@pytest.mark.parametrize("module", ["perf_mcp", "perf_mcp.integrations"])
def test_import_does_not_load_logfire_and_the_apps_models_keep_their_plugins(module: str) -> None:
    assert run(module) == {
        "logfire_on_import": False,
        "logfire_on_app_model": True,  # the app's first model loads plugins as it always did
        "env_left": None,
    }


def test_the_plugin_loads_when_recording_is_asked_for() -> None:
    answer = run("perf_mcp", LOGFIRE_PYDANTIC_PLUGIN_RECORD="all")
    assert answer["logfire_on_import"] is True


def test_a_users_own_plugin_switch_is_left_alone() -> None:
    answer = run("perf_mcp", PYDANTIC_DISABLE_PLUGINS="some-other-plugin")
    assert answer["env_left"] == "some-other-plugin"
    assert answer["logfire_on_import"] is True  # only the named plugin is off, as the user said
