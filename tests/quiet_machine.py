"""Keep the machine's own alert rules quiet in tests that are about something else.

The test machine's CPU and memory are shared with other work: a busy moment would raise a
cpu_usage_percent alert in the middle of a test about endpoints. Levels of 100% can never
be exceeded, and they are stored, as set_threshold would store them.
"""

from __future__ import annotations

import time
from pathlib import Path

from perf_mcp.core.alerts import ThresholdOverride
from perf_mcp.storage import Storage

MACHINE_RULES = ("cpu_usage_percent", "memory_usage_percent")


def quiet_machine(store: Storage | Path) -> None:
    """Store overrides that keep the cpu and memory rules from firing."""
    storage = store if isinstance(store, Storage) else Storage(store)
    try:
        for rule in MACHINE_RULES:
            storage.save_override(
                ThresholdOverride(rule=rule, warning=100, critical=100, updated_at=time.time())
            )
    finally:
        if storage is not store:
            storage.close()
