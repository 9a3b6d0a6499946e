"""The peer for bench/startup.py and bench/mcp_load.py: a minimal server on the same SDK, one
echo tool. stdio by default; `--port N` serves streamable HTTP at http://127.0.0.1:N/mcp
with uvicorn, as `perf-mcp serve --transport http` does."""

import sys

from mcp.server import MCPServer

server = MCPServer("echo", log_level="WARNING")  # as perf-mcp serve logs by default


@server.tool()
def echo(text: str) -> str:
    """Return the text."""
    return text


if __name__ == "__main__":
    if sys.argv[1:2] == ["--port"]:
        import uvicorn

        app = server.streamable_http_app(host="127.0.0.1")
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
    else:
        server.run()
