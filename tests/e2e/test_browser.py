"""The dashboard in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright opens the page of a real ``perf-mcp serve --transport http`` and uses it as a
person would. Screenshots at laptop and phone width, light and dark, go to test-artifacts/.

Skipped when Chromium or Playwright is missing, except under CI=true, where it must run.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import pytest
from mcp import Client
from mcp.client import advertise
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextResourceContents

from tests.e2e.mcp_process import REPO, http_server
from tests.quiet_machine import quiet_machine
from tests.required import missing

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

pytestmark = pytest.mark.anyio

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FAST = ["--alert-interval", "1", "--sample-interval", "1", "--toolsets", "all"]
SIZES = {"laptop": (1366, 768), "phone": (390, 844)}
APP_MIME = "text/html;profile=mcp-app"
WAIT_MS = 20_000  # the page polls every 5 s; a busy 2-core machine needs slack


def requests(endpoint: str, method: str, n: int, ms: float, failing: int = 0) -> list[Any]:
    return [
        {
            "endpoint": endpoint.replace("{i}", str(i)),
            "method": method,
            "status_code": 500 if i < failing else 200,
            "duration_ms": ms + i,
        }
        for i in range(n)
    ]


KNOWN = [
    *requests("/users/{i}", "GET", 30, 12.0),
    *requests("/checkout", "POST", 12, 80.0, failing=3),
    *requests("/search", "GET", 20, 400.0),  # 20: an alert rule's minimum
]


def past_hour(now: float) -> list[Any]:
    """An hour of traffic with a daily-looking swell and a slow spell, for the screenshots."""
    out = []
    for minute in range(1, 58):
        swell = 1 + math.sin(minute / 9)
        for i in range(int(4 + 6 * swell)):
            slow = 25 <= minute <= 32
            out.append(
                {
                    "endpoint": ("/users/7", "/search", "/checkout")[i % 3],
                    "method": "POST" if i % 3 == 2 else "GET",
                    "status_code": 503 if slow and i % 4 == 0 else 200,
                    "duration_ms": (180.0 if slow else 30.0) * (1 + i % 5) * swell,
                    "timestamp": now - minute * 60 + i,
                }
            )
    return out


EXPECTED_COUNTS = {"GET /users/{id}": "30", "POST /checkout": "12", "GET /search": "20"}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium, or a skip that says what to install (never a skip under CI)."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        lacking = "the playwright package (pip install -e '.[test]')"
    else:
        lacking = "" if Path(CHROMIUM).exists() else "Chromium (apt-get install chromium)"
    if lacking:
        missing(f"needs {lacking}")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@asynccontextmanager
async def page_of(
    browser: Browser,
    url: str,
    size: str = "laptop",
    scheme: str = "light",
    expected_error: str = "no error expected",
) -> AsyncIterator[Page]:
    """A fresh tab on ``url``; fails if the page logged an error (but ``expected_error``)."""
    width, height = SIZES[size]
    ctx = await browser.new_context(
        viewport={"width": width, "height": height},
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        await page.goto(url)
        yield page
    finally:
        await ctx.close()
    assert [e for e in errors if expected_error not in e] == [], errors


async def structured(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def table(page: Page) -> dict[str, str]:
    """The endpoints table as {"METHOD /endpoint": request count}, in the page's order."""
    rows = await page.locator("#endpoints tbody tr").all()
    cells = [await row.locator("td").all_inner_texts() for row in rows]
    return {c[0]: c[1] for c in cells}


async def wait_for_table(page: Page, expected: dict[str, str]) -> None:
    """Until the endpoints table shows ``expected`` counts (the page polls, never reloads)."""
    await page.wait_for_function(
        """expected => {
            const rows = [...document.querySelectorAll('#endpoints tbody tr')];
            const seen = Object.fromEntries(
                rows.map(r => [r.cells[0].textContent, r.cells[1].textContent]));
            return Object.entries(expected).every(([k, v]) => seen[k] === v);
        }""",
        arg=expected,
        timeout=WAIT_MS,
    )


async def sort_by_requests(page: Page) -> list[str]:
    """Click the Requests header; the endpoints in the order the page then shows."""
    await page.get_by_role("button", name="Requests", exact=True).click()
    await page.wait_for_selector("#endpoints th button[data-sort=count][aria-pressed=true]")
    await page.wait_for_function(
        "document.querySelector('#endpoints tbody td').textContent === 'GET /users/{id}'",
        timeout=WAIT_MS,
    )
    return list(await table(page))


async def open_detail(page: Page, endpoint: str) -> str:
    """Click the endpoint's row; the detail view's title and stats line once it drew."""
    await page.get_by_role("row", name=endpoint).click()
    await page.locator("#detail").wait_for(state="visible", timeout=WAIT_MS)
    await page.wait_for_selector("#chart-detail[data-drawn=yes]", timeout=WAIT_MS)
    return f"{await page.inner_text('#detail-title')}: {await page.inner_text('#detail-stats')}"


async def acknowledge(page: Page, subject: str) -> int:
    """Wait for the subject's firing alert, click Acknowledge; its id once the page shows
    it acknowledged (and without the button)."""
    item = page.locator("#alerts li", has_text=subject)
    button = item.get_by_role("button", name="Acknowledge")
    await button.wait_for(timeout=WAIT_MS)  # rules are evaluated every second
    await button.click()
    await item.locator(".state-acknowledged").wait_for(timeout=WAIT_MS)
    assert await item.get_by_role("button").count() == 0
    return int(await item.get_attribute("data-alert-id") or 0)


async def screenshots(browser: Browser, url: str, name: str) -> list[Path]:
    """The page at each size, light and dark, full length, under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    shots = []
    for size in SIZES:
        for scheme in ("light", "dark"):
            async with page_of(browser, url, size, scheme) as page:
                await page.wait_for_selector("#chart-rate[data-drawn=yes]", timeout=WAIT_MS)
                shot = ARTIFACTS / f"{name}-{size}-{scheme}.png"
                await page.screenshot(path=str(shot), full_page=True)
                shots.append(shot)
    return shots


async def test_the_dashboard_shows_sorts_details_acknowledges_and_updates_live(
    browser: Browser, db_path: Path
) -> None:
    quiet_machine(db_path)
    slow_search = {"name": "response_time_p95_ms", "value": 100, "subject": "GET /search"}
    with http_server(db_path, extra=FAST) as (mcp_url, _):
        url = mcp_url.removesuffix("mcp")
        async with Client(mcp_url) as client:
            await structured(client, "set_threshold", slow_search)
            await structured(client, "record_requests", {"requests": KNOWN})
            async with page_of(browser, url) as page:
                await wait_for_table(page, EXPECTED_COUNTS)
                by_p95 = list(await table(page))
                rate_line = await page.get_attribute("#chart-rate path.s0", "d")
                by_count = await sort_by_requests(page)
                detail = await open_detail(page, "POST /checkout")
                acknowledged = await acknowledge(page, "GET /search")
                listed = await structured(client, "list_alerts", {"status": "acknowledged"})

                more = requests("/users/{i}", "GET", 5, 12.0)
                await structured(client, "record_requests", {"requests": more})
                await wait_for_table(page, {**EXPECTED_COUNTS, "GET /users/{id}": "35"})

            # Before the pictures: an hour of history, so the charts have lines to draw.
            await structured(client, "record_requests", {"requests": past_hour(time.time())})
            await structured(client, "record_agent_run", RUN)
            shots = await screenshots(browser, url, "dashboard")

    assert by_p95 == ["GET /search", "POST /checkout", "GET /users/{id}"]
    assert (rate_line or "").count("L") >= 1  # a line, not only a dot
    assert by_count == ["GET /users/{id}", "GET /search", "POST /checkout"]
    assert detail.startswith("POST /checkout: 12 requests"), detail
    assert "5xx: 3" in detail
    assert [a["id"] for a in listed["alerts"]] == [acknowledged]
    assert all(shot.stat().st_size > 10_000 for shot in shots)


async def test_with_a_token_the_page_asks_once_and_sends_it_as_a_bearer_header(
    browser: Browser, db_path: Path
) -> None:
    token = "browser-test-token-0123456789abcdef"
    with http_server(db_path, extra=["--token", token]) as (mcp_url, _):
        url = mcp_url.removesuffix("mcp")
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
            Client(streamable_http_client(mcp_url, http_client=http)) as client,
        ):
            await structured(client, "record_requests", {"requests": KNOWN})
        async with page_of(browser, url, expected_error="401") as page:
            sent: list[tuple[str, str | None]] = []
            page.on("request", lambda r: sent.append((r.url, r.headers.get("authorization"))))
            login = page.locator("#login")
            await login.wait_for(state="visible", timeout=WAIT_MS)
            await page.fill("#token", "not-the-token-at-all-0123456789")
            await page.click("#login button[type=submit]")
            await page.locator("#login-refused").wait_for(state="visible", timeout=WAIT_MS)

            await page.fill("#token", token)
            await page.click("#login button[type=submit]")
            await wait_for_table(page, EXPECTED_COUNTS)
            assert await login.is_hidden()

            sent.clear()
            await page.reload()  # the same tab keeps the token: no second question
            await wait_for_table(page, EXPECTED_COUNTS)
            assert await login.is_hidden()
            kept = await page.evaluate("sessionStorage.getItem('perf-mcp-token')")

    api_calls = [(u, auth) for u, auth in sent if "/api/v1/" in u]
    assert api_calls
    assert {auth for _, auth in api_calls} == {f"Bearer {token}"}
    assert not any(token in u for u, _ in sent)  # never in a URL
    assert kept == token


# A minimal MCP Apps host: the page in a sandboxed frame, its JSON-RPC relayed to the server
# through callTool (a real MCP client in the test), app-only tools only, the frame sized to it.
HOST = """<!doctype html><meta charset="utf-8"><body style="margin:0">
<iframe id="app" sandbox="allow-scripts" style="border:0;width:100%;height:400px"></iframe>
<script>
const frame = document.getElementById("app");
const reply = (id, result) => frame.contentWindow.postMessage({ jsonrpc: "2.0", id, result }, "*");
window.addEventListener("message", async (event) => {
  const m = event.data;
  if (event.source !== frame.contentWindow) return;
  if (m.method === "ui/initialize") {
    reply(m.id, { protocolVersion: "2026-01-26", hostInfo: { name: "test-host", version: "1" },
                  hostCapabilities: { serverTools: {} }, hostContext: { displayMode: "inline" } });
  } else if (m.method === "ui/notifications/initialized") {
    document.body.dataset.initialized = "yes";
  } else if (m.method === "ui/notifications/size-changed") {
    frame.style.height = `${m.params.height}px`;
  } else if (m.method === "tools/call") {
    reply(m.id, await window.callTool(m.params.name, m.params.arguments));
  }
});
</script>"""


async def test_the_mcp_app_shows_the_live_dashboard_in_a_host(
    browser: Browser, db_path: Path
) -> None:
    renders_apps = advertise("io.modelcontextprotocol/ui", {"mimeTypes": [APP_MIME]})
    with http_server(db_path, extra=["--toolsets", "all"]) as (mcp_url, _):
        async with Client(mcp_url, extensions=[renders_apps]) as client:
            await structured(client, "record_requests", {"requests": KNOWN})
            tools = {t.name: t for t in (await client.list_tools()).tools}
            uri = tools["show_dashboard"].meta["ui"]["resourceUri"]  # type: ignore[index]
            (resource,) = (await client.read_resource(uri)).contents
            assert isinstance(resource, TextResourceContents)
            assert resource.mime_type == APP_MIME
            shown = await client.call_tool("show_dashboard", {"window": "1h"})

            async def call_tool(name: str, arguments: dict[str, Any]) -> Any:
                if "app" not in (tools[name].meta or {}).get("ui", {}).get("visibility", []):
                    raise PermissionError(f"{name} is not for apps")
                result = await client.call_tool(name, arguments)
                return result.model_dump(mode="json", by_alias=True, exclude_none=True)

            async with page_of(browser, "about:blank") as host:
                await host.expose_function("callTool", call_tool)
                await host.set_content(HOST)
                await host.eval_on_selector(
                    "#app", "(f, html) => { f.srcdoc = html; }", resource.text
                )
                app = host.frame_locator("#app")
                await host.wait_for_selector("body[data-initialized=yes]", timeout=WAIT_MS)
                await app.locator("#chart-rate[data-drawn=yes]").wait_for(timeout=WAIT_MS)
                counts = await app.locator("#endpoints tbody tr td:nth-child(2)").all_inner_texts()

                more = requests("/users/{i}", "GET", 5, 12.0)
                await structured(client, "record_requests", {"requests": more})
                live = app.locator("#endpoints tbody tr", has_text="GET /users/{id}")
                await live.locator("td:nth-child(2)", has_text="35").wait_for(timeout=WAIT_MS)
                height = await host.eval_on_selector("#app", "f => f.offsetHeight")
                # A frame paints only what is in the viewport: make room for all of it.
                await host.set_viewport_size({"width": SIZES["laptop"][0], "height": height})
                ARTIFACTS.mkdir(exist_ok=True)
                await host.screenshot(path=str(ARTIFACTS / "app-laptop-light.png"))

    assert shown.content[0].text.startswith("The person now sees the live perf-mcp dashboard")  # type: ignore[union-attr]
    assert sorted(counts) == ["12", "20", "30"]
    assert height > 1000  # sized to the page, not the frame's first 400 px


RUN = {
    "agent_name": "support-bot",
    "duration_ms": 2300.0,
    "success": True,
    "input_tokens": 1200,
    "output_tokens": 300,
    "cost_usd": 0.0042,
    "tool_calls": [{"tool_name": "search_docs", "duration_ms": 410.0, "success": True}],
}
