"""perf-mcp dashboard: the page and the API over a store another process writes, read-only."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from perf_mcp import Monitor


def test_the_dashboard_serves_the_store_and_refuses_changes(db_path: Path) -> None:
    with Monitor(db_path) as monitor:
        for status in (200, 200, 503):
            monitor.record_request("/orders/17", "GET", status, 25.0)
    process = subprocess.Popen(
        [sys.executable, "-m", "perf_mcp.cli", "dashboard", "--db", str(db_path), "--port", "0",
         "--no-browser"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/)", first)
        assert found, first
        url = found.group(1)
        deadline = time.monotonic() + 20
        while True:
            try:
                page = httpx.get(url)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.1)
        endpoints = httpx.get(f"{url}api/v1/endpoints?window=1h").json()
        refused = httpx.post(f"{url}api/v1/alerts/1/acknowledge", json={})
        foreign = httpx.get(f"{url}api/v1/summary", headers={"Host": "evil.example"})
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        process.stderr.close()

    assert "read-only" in first
    assert page.status_code == 200
    assert "<title>perf-mcp dashboard</title>" in page.text
    assert [(e["endpoint"], e["count"], e["error_count"]) for e in endpoints["endpoints"]] == [
        ("/orders/{id}", 3, 1)
    ]
    assert refused.status_code == 403
    assert "read-only" in refused.json()["detail"]
    assert foreign.status_code == 421
    assert process.returncode == 0
