"""The background task: a resource sample every ``interval_s`` seconds, handed to a sink.

In a server's lifespan::

    async with ResourceSampler(sink=store.add_resource_sample, interval_s=30) as sampler:
        ...
        sampler.latest  # the newest ResourceSample, for alerting and health
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from types import ModuleType

import anyio
import psutil

from perf_mcp.periodic import Periodic
from perf_mcp.resources.models import ResourceSample
from perf_mcp.resources.reader import ResourceReader

DEFAULT_INTERVAL_S = 30.0
MIN_INTERVAL_S = 1.0

logger = logging.getLogger(__name__)

Sink = Callable[[ResourceSample], None]


class ResourceSampler(Periodic):
    """Samples every ``interval_s`` seconds in a worker thread and hands samples to ``sink``.

    An async context manager owning a task group (Periodic). The sink runs in the worker thread too
    (it may block: the store writes the sample to SQLite); if it raises, the error is logged
    and sampling goes on.
    """

    def __init__(
        self,
        sink: Sink | None = None,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        first_after_s: float = 1.0,
        reader: ResourceReader | None = None,
        pids: Iterable[int] = (),
        disk_paths: Iterable[str | os.PathLike[str]] = (),
        psutil_module: ModuleType = psutil,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        super().__init__(
            interval_s,
            what="resource sampling",
            min_interval_s=MIN_INTERVAL_S,
            first_after_s=first_after_s,
            sleep=sleep,
        )
        self.reader = reader or ResourceReader(
            pids=pids, disk_paths=disk_paths, psutil_module=psutil_module
        )
        self._sink = sink
        self._reading = threading.Lock()  # the schedule and sample_once() may overlap
        self.latest: ResourceSample | None = None
        self.samples_taken = 0
        self.errors = 0
        self.last_error: str | None = None
        self.started_at: float | None = None

    async def _started(self) -> None:
        await anyio.to_thread.run_sync(self.reader.prime)
        self.started_at = time.time()

    async def sample_once(self) -> ResourceSample | None:
        """Take one sample now in a worker thread and hand it to the sink (None if it failed)."""
        return await anyio.to_thread.run_sync(self._take)

    async def tick(self) -> object:
        return await self.sample_once()

    def _take(self) -> ResourceSample | None:
        with self._reading:
            try:
                sample = self.reader.read()
            except Exception as exc:  # a psutil surprise must not stop sampling
                self._failed(exc, "reading resources failed")
                return None
            self.latest = sample
            self.samples_taken += 1
            if self._sink is not None:
                try:
                    self._sink(sample)
                except Exception as exc:
                    self._failed(exc, "storing a resource sample failed")
            return sample

    def _failed(self, exc: Exception, what: str) -> None:
        self.errors += 1
        self.last_error = f"{what}: {type(exc).__name__}: {exc}"
        logger.warning(what, exc_info=exc)
