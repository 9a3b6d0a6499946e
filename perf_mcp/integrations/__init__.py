"""Ways for an app or an agent to report without calling a tool by hand.

```python
from perf_mcp.integrations import PerformanceMiddleware, monitor_agent, monitor_tool
```

Everything writes to the monitor passed in, else to :func:`default_monitor`: one ``Monitor()``
per process on ``$PERF_MCP_DB`` (or the user data directory), the file the MCP server reads.
"""

from __future__ import annotations

import atexit
import threading
from typing import TYPE_CHECKING

from perf_mcp.integrations.asgi import PerformanceMiddleware, in_flight_requests
from perf_mcp.integrations.decorators import (
    AgentRun,
    ToolCall,
    current_run,
    monitor_agent,
    monitor_tool,
)

if TYPE_CHECKING:
    from perf_mcp.monitor import Monitor

__all__ = [
    "AgentRun",
    "PerformanceMiddleware",
    "ToolCall",
    "current_run",
    "default_monitor",
    "in_flight_requests",
    "monitor_agent",
    "monitor_tool",
    "set_default_monitor",
]

_default: Monitor | None = None
_default_lock = threading.Lock()


def default_monitor() -> Monitor:
    """The process-wide monitor, opened on first use and closed (flushed) at exit."""
    global _default
    monitor = _default
    if monitor is None:
        with _default_lock:
            if _default is None:
                from perf_mcp.monitor import Monitor

                _default = Monitor()
                atexit.register(_default.close)
            monitor = _default
    return monitor


def set_default_monitor(monitor: Monitor | None) -> Monitor | None:
    """Make ``monitor`` the default (None: open a fresh one on next use); returns the old one."""
    global _default
    with _default_lock:
        previous, _default = _default, monitor
    return previous
