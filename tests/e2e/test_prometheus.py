"""A real Prometheus scrapes a running `perf-mcp serve --transport http` at /metrics.

Prometheus (Debian's `prometheus` package) runs with the README's scrape config, pointed at
the server with the read token; its query API must then answer the same counts as the MCP
tools over a real client, and `histogram_quantile` the same bucket as the tools' p95.
"""

from __future__ import annotations

import itertools
import random
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from perf_mcp.export.prometheus import le_bounds
from tests.e2e.mcp_process import REPO, free_port, http_server
from tests.e2e.test_http_access import FULL, READ, bearer, client, structured
from tests.required import missing
from tests.server.mcp_calls import their_tools

pytestmark = pytest.mark.anyio
README_CONFIG = re.compile(r"<!-- prometheus-scrape-config:.*?-->\n```yaml\n(.*?)```", re.S)
SCRAPE_TIMEOUT_S = 60.0


def prometheus_binary() -> str:
    """The prometheus binary; a skip (a failure on CI, where it must run) when it is missing."""
    found = shutil.which("prometheus")
    if found is None:
        reason = "prometheus not installed: apt-get install -y --no-install-recommends prometheus"
        missing(reason)
    return found


def scrape_config(target: str, token_file: Path) -> str:
    """The README's scrape config, scraping every second at ``target`` with ``token_file``."""
    match = README_CONFIG.search((REPO / "README.md").read_text())
    assert match, "README.md lost its Prometheus scrape config"
    config = match.group(1)
    for old, new in [
        ("scrape_interval: 15s", "scrape_interval: 1s"),
        ("/etc/prometheus/perf-mcp-read-token", str(token_file)),
        ("127.0.0.1:8765", target),
    ]:
        assert old in config
        config = config.replace(old, new)
    return config


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """perf-mcp with a full and a read token: its base URL, and a directory for Prometheus."""
    tmp = tmp_path_factory.mktemp("prometheus")
    extra = ["--token", FULL, "--read-token", READ]
    with http_server(tmp / "perf.db", extra=extra) as (url, _):
        yield url.removesuffix("/mcp"), tmp


@pytest.fixture(scope="module")
def prometheus(server: tuple[str, Path]) -> Iterator[str]:
    """Prometheus scraping the server with the read token; its base URL."""
    binary = prometheus_binary()
    base, tmp = server
    (tmp / "read-token").write_text(READ + "\n")
    config = scrape_config(base.removeprefix("http://"), tmp / "read-token")
    (tmp / "prometheus.yml").write_text(config)
    port = free_port()
    flags = [f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}"]
    flags.append(f"--web.listen-address=127.0.0.1:{port}")
    with (tmp / "prometheus.log").open("w") as log:
        process = subprocess.Popen([binary, *flags], cwd=tmp, stdout=subprocess.DEVNULL, stderr=log)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def query(prom: str, promql: str) -> dict[str, float]:
    """An instant query's answer: each series' value by its labels (sorted, as text)."""
    answer = httpx.get(f"{prom}/api/v1/query", params={"query": promql}, timeout=10).json()
    assert answer["status"] == "success", answer
    return {
        ",".join(
            f"{k}={v}"
            for k, v in sorted(r["metric"].items())
            if k not in ("__name__", "job", "instance")
        ): float(r["value"][1])
        for r in answer["data"]["result"]
    }


async def wait_for_scrape_after(prom: str, moment: float) -> None:
    """Until Prometheus holds a successful scrape of perf-mcp that began after ``moment``."""
    deadline = time.monotonic() + SCRAPE_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            up = query(prom, 'timestamp(up{job="perf-mcp"} == 1)')
        except httpx.TransportError:  # Prometheus still starting
            up = {}
        if up and min(up.values()) > moment:
            return
        await anyio.sleep(0.2)
    raise TimeoutError(f"Prometheus did not scrape /metrics within {SCRAPE_TIMEOUT_S} s")


async def record_known_data(base: str) -> None:
    """Requests, agent runs and tool calls through the record tools, as an app reports them."""
    rng = random.Random(7)
    requests = [
        {
            "endpoint": f"/items/{i}",
            "method": "GET",
            "status_code": 500 if i % 10 == 0 else 404 if i % 7 == 0 else 200,
            "duration_ms": rng.lognormvariate(3.5, 0.8),
        }
        for i in range(300)
    ]
    async with client(f"{base}/mcp", FULL) as writer:
        await structured(writer, "record_requests", {"requests": requests})
        for i in range(6):
            run = {"agent_name": "planner", "duration_ms": 800.0 + 100 * i, "success": i != 5}
            run |= {"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500}
            run |= {"cost_usd": 0.0075, "error_type": None if i != 5 else "Timeout"}
            await structured(writer, "record_agent_run", run)
        for i in range(9):
            call = {"tool_name": "search", "duration_ms": 40.0 + i, "success": i % 3 != 0}
            await structured(writer, "record_tool_call", call)


async def test_metrics_needs_a_token_and_the_read_token_is_enough(
    server: tuple[str, Path],
) -> None:
    base, _ = server
    async with httpx.AsyncClient() as http:
        anonymous = await http.get(f"{base}/metrics")
        reader = await http.get(f"{base}/metrics", headers=bearer(READ))
    assert anonymous.status_code == 401
    assert reader.status_code == 200
    assert reader.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"


async def test_prometheus_answers_the_same_counts_as_the_mcp_tools(
    server: tuple[str, Path], prometheus: str
) -> None:
    (base, _), prom = server, prometheus
    await record_known_data(base)
    async with client(f"{base}/mcp", READ) as reader:
        [endpoint] = (await structured(reader, "get_endpoint_stats", {"window": "1h"}))["endpoints"]
        [agent] = (await structured(reader, "get_agent_stats", {"window": "1h"}))["agents"]
        tools = await structured(reader, "get_tool_stats", {"window": "1h", "limit": 100})
        [tool] = their_tools(tools).values()  # perf-mcp's own calls are tool calls too
    await wait_for_scrape_after(prom, time.time())

    assert endpoint["endpoint"] == "/items/{id}"
    route = 'route="/items/{id}"'
    by_class = query(prom, f"sum by (status_class) (perf_mcp_http_requests_total{{{route}}})")
    assert by_class == {f"status_class={k}": v for k, v in endpoint["status_counts"].items()}
    count = query(prom, f"perf_mcp_http_request_duration_seconds_count{{{route}}}")
    assert list(count.values()) == [endpoint["count"]] == [300]

    runs = query(prom, 'perf_mcp_agent_runs_total{agent="planner"}')
    assert runs == {
        "agent=planner,outcome=success": agent["runs"] - agent["failures"],
        "agent=planner,outcome=failure": agent["failures"],
    }
    tokens = query(prom, 'perf_mcp_agent_tokens_total{agent="planner"}')
    assert tokens["agent=planner,type=input"] == agent["input_tokens"] == 6000
    assert tokens["agent=planner,type=output"] == agent["output_tokens"]
    [cost] = query(prom, 'perf_mcp_agent_cost_usd_total{agent="planner"}').values()
    assert cost == pytest.approx(agent["cost_usd"])
    calls = query(prom, 'sum by (outcome) (perf_mcp_tool_calls_total{tool="search"})')
    assert calls == {
        "outcome=success": tool["calls"] - tool["failures"],
        "outcome=failure": tool["failures"],
    }

    p95 = query(
        prom, f"histogram_quantile(0.95, perf_mcp_http_request_duration_seconds_bucket{{{route}}})"
    )
    lower, upper = le_bucket(endpoint["p95_ms"] / 1000)
    assert lower <= next(iter(p95.values())) <= upper


def le_bucket(seconds: float) -> tuple[float, float]:
    """The (lower, upper] ``le`` bounds around ``seconds``."""
    bounds = [0.0, *(float(le) for le, _ in le_bounds()), float("inf")]
    for lower, upper in itertools.pairwise(bounds):
        if lower < seconds <= upper:
            return lower, upper
    raise AssertionError(f"{seconds} s is outside every bucket")
