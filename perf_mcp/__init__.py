"""perf-mcp: performance monitoring for web apps and AI agents, served over MCP.

>>> from perf_mcp import Monitor
>>> with Monitor(":memory:") as monitor:
...     monitor.record_request("/search", "GET", 200, 87.0)
"""

from importlib.metadata import PackageNotFoundError, version

from perf_mcp.core.models import InvalidInputError
from perf_mcp.monitor import Monitor
from perf_mcp.storage import StoreError

try:
    __version__ = version("perf-mcp")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = ["InvalidInputError", "Monitor", "StoreError", "__version__"]
