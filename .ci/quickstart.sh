#!/usr/bin/env bash
# The README's first quick-start command, as a newcomer runs it: a fresh virtual environment,
# `pip install . && perf-mcp serve --transport http` on the default store, then a real MCP
# client (from the test environment, $PYTHON) lists the tools and asks for the summary, and
# SIGTERM stops the server cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

command=$(sed -n '/^## Quick start/,/^## /p' README.md | grep -m1 '^pip install \. &&')
echo "== $command (in a fresh virtual environment)"
python3 -m venv "$WORK/venv"
(
    . "$WORK/venv/bin/activate"
    export HOME="$WORK/home"  # a newcomer's empty data directory
    eval "$command" >"$WORK/server.out" 2>"$WORK/server.err"
) &
SERVER_PID=$!

"$PYTHON" - "$WORK" <<'PY'
import sys, time
from pathlib import Path

import anyio
from mcp import Client

work = Path(sys.argv[1])


async def main() -> None:
    deadline = time.monotonic() + 300  # pip install of the package and its dependencies
    while True:
        try:
            async with Client("http://127.0.0.1:8765/mcp") as client:
                tools = [t.name for t in (await client.list_tools()).tools]
                result = await client.call_tool("get_performance_summary", {"window": "5m"})
                break
        except Exception:
            if time.monotonic() > deadline:
                print((work / "server.err").read_text()[-3000:])
                raise
            await anyio.sleep(1)
    assert "get_performance_summary" in tools, tools
    assert not result.is_error, result
    print(f"== quick start serves {len(tools)} tools; summary answered")


anyio.run(main)
PY
pkill -TERM -f "$WORK/venv/bin/perf-mcp serve" || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
grep -q "perf-mcp" "$WORK/server.out" "$WORK/server.err" && echo "== server said: $(head -n1 "$WORK/server.err")"
ls "$WORK/home/.local/share/perf-mcp/perf.db" >/dev/null && echo "== default store created"
