"""Keep a pydantic plugin that would do nothing from costing perf_mcp's start-up.

logfire, a dependency, registers a pydantic plugin; pydantic loads every registered plugin when
the first model is built, and loading logfire's imports all of logfire (about 230 ms here),
although it records nothing unless asked to. perf_mcp builds models as it is imported, so in an
app that had not built one yet, ``import perf_mcp`` paid for that load.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

DISABLE = "PYDANTIC_DISABLE_PLUGINS"  # pydantic's documented switch


def _wanted() -> bool:
    """Whether a plugin could be wanted: logfire's recording is asked for
    (LOGFIRE_PYDANTIC_PLUGIN_RECORD other than "off"), logfire is already imported (the plugin
    then costs little and the app may have configured it), or PYDANTIC_DISABLE_PLUGINS is set
    (the user decides)."""
    asked = os.environ.get("LOGFIRE_PYDANTIC_PLUGIN_RECORD", "off") != "off"
    return asked or "logfire" in sys.modules or DISABLE in os.environ


@contextmanager
def idle_plugins_skipped() -> Iterator[None]:
    """Build the models made inside without pydantic plugins, unless one could be wanted.

    "__all__" is the one value pydantic does not cache, so models built after the block load
    plugins as usual (an app that imports perf_mcp keeps its own models' plugins).
    """
    if _wanted():
        yield
        return
    os.environ[DISABLE] = "__all__"
    try:
        yield
    finally:
        os.environ.pop(DISABLE, None)


def skip_idle_plugins_in_this_process() -> None:
    """For ``perf-mcp serve``, whose process builds only perf-mcp's and the SDK's models:
    no pydantic plugins in it at all, unless one could be wanted."""
    if not _wanted():
        os.environ[DISABLE] = "__all__"
