"""The state a server lives on: the Monitor, resource sampler, alert manager and webhook."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import anyio
import anyio.to_thread
from mcp.server.mcpserver.exceptions import ToolError

from perf_mcp.alerting import AlertManager, WebhookNotifier, monitor_history, monitor_source
from perf_mcp.alerting.slo_source import with_slo_history, with_slos
from perf_mcp.config import Settings
from perf_mcp.monitor import Monitor
from perf_mcp.otlp.stats import IngestStats
from perf_mcp.resources import ResourceReader, ResourceSampler
from perf_mcp.server.notifications import ClientNotifier
from perf_mcp.storage import StoreError

logger = logging.getLogger(__name__)


class Runtime:
    """The Monitor a server works on, and the state that lives as long as the server.

    The lifespan opens it; with several connections in one process (the in-process test
    client) the first opens the Monitor and the last closes it. The resource sampler and
    the alert manager run in the lifespan of the connection that found them stopped.
    """

    def __init__(
        self,
        monitor: Monitor | None,
        db_path: str | os.PathLike[str] | None,
        flush_interval_s: float | None,
        settings: Settings | None,
    ) -> None:
        self._owned = monitor is None
        self._monitor = monitor
        self._db_path = db_path
        self._flush_interval_s = flush_interval_s
        self.settings = settings or (monitor.settings if monitor is not None else Settings())
        self._users = 0
        self._lock = anyio.Lock()
        self.started_at = time.time()
        self.sampler: ResourceSampler | None = None
        self.alerts: AlertManager | None = None
        self.webhook: WebhookNotifier | None = None
        self.clients = ClientNotifier()
        self.otlp = IngestStats()  # what POST /v1/traces took in and could not use
        self._background_runs = False

    @property
    def monitor(self) -> Monitor:
        if self._monitor is None:
            raise ToolError("the server is not running: its lifespan has not started")
        return self._monitor

    @property
    def alert_manager(self) -> AlertManager:
        if self.alerts is None:
            raise ToolError("the server is not running: its lifespan has not started")
        return self.alerts

    async def open(self) -> None:
        """Open the Monitor (when this runtime owns it) for one more user."""
        async with self._lock:
            if self._monitor is None:
                self._monitor = await anyio.to_thread.run_sync(
                    functools.partial(
                        Monitor,
                        self._db_path,
                        flush_interval_s=self._flush_interval_s,
                        settings=self.settings,
                    )
                )
                logger.info("perf-mcp store: %s", self._monitor.db_path)
            if self.alerts is None:
                await self._build_background(self._monitor)
            self._users += 1

    async def _build_background(self, monitor: Monitor) -> None:
        settings = self.settings
        on_server = monitor.db_path == ":memory:" or "://" in monitor.db_path  # not a file here
        disks = [] if on_server else [os.path.dirname(monitor.db_path)]
        reader = ResourceReader(pids=settings.watch_pids, disk_paths=[*disks, *settings.disk_paths])
        self.sampler = ResourceSampler(
            lambda sample: monitor.add_resource_sample(
                sample.timestamp, sample.model_dump_json(exclude_none=True)
            ),
            interval_s=settings.sample_interval_s,
            reader=reader,
        )
        alerts = await anyio.to_thread.run_sync(
            lambda: AlertManager(
                with_slos(monitor_source(monitor, self.sampler), monitor),
                store=monitor.alert_store,
                interval_s=settings.alert_interval_s,
                history=with_slo_history(monitor_history(monitor), monitor),
            )
        )
        alerts.subscribe(self.clients.alerts_changed, all_servers=True)
        if settings.webhook_url:
            allow = settings.allow_private_webhook
            self.webhook = WebhookNotifier(settings.webhook_url, allow_private=allow)
            alerts.subscribe(self.webhook, timeout_s=self.webhook.budget_s)
        self.alerts = alerts

    @asynccontextmanager
    async def background(self) -> AsyncIterator[None]:
        """Sample resources and evaluate alerts while this lifespan lasts, unless another
        connection's lifespan already does."""
        sampler, alerts = self.sampler, self.alerts
        if sampler is None or alerts is None or self._background_runs:
            yield
            return
        self._background_runs = True  # before the first await: lifespans may start together
        try:
            async with sampler, alerts:
                yield
        finally:
            self._background_runs = False

    async def release(self) -> None:
        """Flush for a leaving user; close the Monitor when the last one leaves."""
        with anyio.CancelScope(shield=True):
            async with self._lock:
                self._users = max(0, self._users - 1)
                monitor = self._monitor
                if monitor is None:
                    return
                if self._owned and self._users == 0:
                    self._monitor = None
                    self.sampler = self.alerts = self.webhook = None
                    await anyio.to_thread.run_sync(monitor.close)
                else:  # a store that fails keeps the records for the next flush (health says why)
                    with suppress(StoreError):
                        await anyio.to_thread.run_sync(monitor.flush)
