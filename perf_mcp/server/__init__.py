"""The MCP server: tools, resources and prompts over a Monitor. The only package that imports mcp.

Every tool is a thin adapter over the Monitor method of the same name. Build one with
``build_server()`` and run it with ``perf-mcp serve`` (see ``perf_mcp.cli``), or connect to it
in-process::

    from mcp import Client
    from perf_mcp.server import build_server

    async with Client(build_server(db_path=":memory:")) as client:
        result = await client.call_tool("get_performance_summary", {"window": "5m"})

Where things live: ``app`` wires everything to a ``runtime.Runtime`` (the Monitor, sampler,
alert manager and webhook); ``record_tools`` and ``query_tools`` are the tools, ``health``
is health_check, ``prompts`` the prompts and completion, ``notifications`` what clients hear.
"""

from perf_mcp.server.app import build_server
from perf_mcp.server.runtime import Runtime

__all__ = ["Runtime", "build_server"]
