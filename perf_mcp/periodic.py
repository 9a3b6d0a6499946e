"""Periodic: the background loop the resource sampler and the alert manager share."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

import anyio
import anyio.abc

from perf_mcp.core.models import InvalidInputError


class Periodic:
    """Runs ``tick()`` every ``interval_s`` seconds in its own task group, inside ``async with``.

    The first tick comes ``first_after_s`` after entering; a slow tick shortens the next
    pause rather than shifting the schedule. Subclasses implement ``tick`` and may extend
    ``_started``/``_stopped`` for what must happen around the loop.
    """

    def __init__(
        self,
        interval_s: float,
        *,
        what: str,
        min_interval_s: float,
        first_after_s: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if not (isinstance(interval_s, int | float) and math.isfinite(interval_s)) or (
            interval_s < min_interval_s
        ):
            raise InvalidInputError(
                f"{what} interval must be at least {min_interval_s:g} s, got {interval_s!r}"
            )
        self.interval_s = float(interval_s)
        self.first_after_s = min(max(0.0, first_after_s), self.interval_s)
        self._sleep = sleep
        self._task_group: anyio.abc.TaskGroup | None = None

    async def tick(self) -> object:
        """One round of the loop's work."""
        raise NotImplementedError

    @property
    def running(self) -> bool:
        """True between entering and leaving the context."""
        return self._task_group is not None

    async def _started(self) -> None:
        """Runs on entering, before the first tick is scheduled."""

    async def _stopped(self) -> None:
        """Runs on leaving, after the loop was cancelled (even if leaving failed)."""

    async def __aenter__(self) -> Self:
        await self._started()
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        task_group.start_soon(self._run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        task_group, self._task_group = self._task_group, None
        assert task_group is not None
        task_group.cancel_scope.cancel()
        try:
            return await task_group.__aexit__(exc_type, exc, tb)
        finally:
            await self._stopped()

    async def _run(self) -> None:
        if self.first_after_s:
            await self._sleep(self.first_after_s)
        while True:
            started = anyio.current_time()
            await self.tick()
            await self._sleep(max(0.0, self.interval_s - (anyio.current_time() - started)))
