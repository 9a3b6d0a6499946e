"""perf-mcp: performance monitoring for web apps and AI agents, served over MCP.

>>> from perf_mcp import Monitor
>>> with Monitor(":memory:") as monitor:
...     monitor.record_request("/search", "GET", 200, 87.0)
"""

# The one place the version is written (pyproject reads it at build time). It comes before
# the imports so that any module of the package can import it.
__version__ = "0.1.0"

from perf_mcp.pydantic_plugins import idle_plugins_skipped

with idle_plugins_skipped():
    from perf_mcp.core.models import InvalidInputError
    from perf_mcp.monitor import Monitor
    from perf_mcp.storage import StoreError

__all__ = ["InvalidInputError", "Monitor", "StoreError", "__version__"]
