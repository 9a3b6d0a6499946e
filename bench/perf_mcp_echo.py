"""`perf-mcp` with an echo tool added: the floor bench/mcp_latency.py times the summary against.

Runs ``perf_mcp.cli.main`` as the console script does (same arguments, same listening socket,
same uvicorn), with ``build_server`` wrapped to add one tool that returns its text: protocol
cost only, on the same server, transport and process. With PERF_MCP_BENCH_PROFILE=FILE the
server runs under cProfile and writes FILE when it stops.

    python bench/perf_mcp_echo.py serve --transport http --port 8766 --db /tmp/bench.db
"""

from __future__ import annotations

import cProfile
import os
import sys
from typing import Any

from perf_mcp.pydantic_plugins import idle_plugins_skipped

PROFILE_ENV = "PERF_MCP_BENCH_PROFILE"

with idle_plugins_skipped():  # as the CLI imports them: the models built without plugins
    from mcp.types import ToolAnnotations

    import perf_mcp.server
    from perf_mcp.cli import main

build_server = perf_mcp.server.build_server


def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


def build_server_with_echo(*args: Any, **kwargs: Any) -> Any:
    """perf-mcp's server, plus echo."""
    server = build_server(*args, **kwargs)
    server.add_tool(echo, annotations=ToolAnnotations(read_only_hint=True))
    return server


if __name__ == "__main__":
    perf_mcp.server.build_server = build_server_with_echo  # the CLI imports it when serving
    sys.argv[0] = "perf-mcp"
    profile = os.environ.get(PROFILE_ENV)
    if not profile:
        sys.exit(main())
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        code = main()
    finally:
        profiler.disable()
        profiler.dump_stats(profile)
    sys.exit(code)
