"""A fake sleep for the background loops (perf_mcp.periodic): no waiting, a record of each pause."""

from __future__ import annotations

import anyio
import anyio.lowlevel


class StepSleep:
    """A sleep that returns at once, records what it was asked, and parks after N calls."""

    def __init__(self, stop_after: int) -> None:
        self.calls: list[float] = []
        self.stop_after = stop_after
        self.done = anyio.Event()

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if len(self.calls) >= self.stop_after:
            self.done.set()
            await anyio.sleep_forever()
        await anyio.lowlevel.checkpoint()
