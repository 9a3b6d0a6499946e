"""Which target a Monitor writes to: a url (given, or PERF_MCP_URL without a store path)
pushes; a store path writes the store; both at once is refused."""

from __future__ import annotations

import subprocess
import sys

import pytest

from perf_mcp import InvalidInputError, Monitor
from perf_mcp.config import Settings


def test_perf_mcp_url_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERF_MCP_URL", "not a url")
    with pytest.raises(InvalidInputError, match="got 'not a url'"):
        Monitor(start_flusher=False)


def test_a_store_path_wins_over_the_environment_url() -> None:
    settings = Settings(url="http://127.0.0.1:1")
    with Monitor(":memory:", settings=settings, start_flusher=False) as monitor:
        monitor.record_request("/a", "GET", 200, 1.0)
        assert monitor.get_endpoint_stats().endpoints[0].count == 1
    with pytest.raises(InvalidInputError, match="db_path or url, not both"):
        Monitor(":memory:", url="http://127.0.0.1:1", start_flusher=False)


def test_a_monitor_with_a_store_loads_nothing_of_the_push() -> None:
    script = (
        "import sys; from perf_mcp import Monitor\n"
        "with Monitor(':memory:') as m:\n"
        "    m.record_request('/a', 'GET', 200, 1.0)\n"
        "print(sorted(n for n in sys.modules if n.startswith(('opentelemetry', 'httpx'))"
        " or n == 'perf_mcp.recording.push'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
