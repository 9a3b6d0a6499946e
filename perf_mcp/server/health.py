"""health_check: whether the server and each of its parts is well, and why not."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from contextlib import suppress

import anyio.to_thread

from perf_mcp import __version__
from perf_mcp.alerting import AlertManager, WebhookNotifier
from perf_mcp.core.alerts import AlertRecord, Breach, ComponentHealth, HealthLevel, HealthStatus
from perf_mcp.monitor import Monitor
from perf_mcp.recording import pending
from perf_mcp.recording.flusher import FlushFailure
from perf_mcp.resources import ResourceSampler
from perf_mcp.server.runtime import Runtime

STALE_INTERVALS = 3  # background work this many intervals late (plus slack) is stalled
STORE_WARN_BYTES = 1 << 30
FLUSH_WAIT_S = 2.0  # a flush slower than this (a store locked by another process) goes on alone
DROPPED = {  # what Monitor.drops counts, and what its loss means to someone reading the numbers
    "samples": "samples (the record buffer was full: those requests, runs and calls are "
    "missing from every statistic)",
    "rejected": "requests the middleware handed over with a value the check refuses, such as a "
    "status outside 100-599 (the first is logged, naming the field; they are missing from every "
    "statistic)",
    "raw": "single runs and tool calls (more piled up than could wait for the store: they are "
    "missing from the lists of single runs and calls; the statistics still count them)",
    "buckets": "10-second buckets (the store could not be written for too long: everything "
    "recorded in them is missing from the statistics; see the store component)",
}


async def check_health(runtime: Runtime) -> HealthStatus:
    """Each part's state, the crossed thresholds, the verdict."""
    monitor = runtime.monitor
    now = time.time()
    components = [ComponentHealth(name="server", status="ok", detail=f"pid {os.getpid()}")]
    if monitor.flush_failure is None:  # write what waits, so drops and failures are current
        with anyio.move_on_after(FLUSH_WAIT_S), suppress(Exception):  # the flusher keeps why
            await anyio.to_thread.run_sync(monitor.flush, abandon_on_cancel=True)
    store_bytes = await anyio.to_thread.run_sync(monitor.store_size_bytes)
    components.append(store_health(monitor, store_bytes, now))
    components += [
        recording_health(monitor.drops),
        _flusher_health(monitor, now),
        _sampler_health(runtime.sampler, now),
        _alerting_health(runtime.alerts, now),
    ]
    if runtime.webhook is not None:
        components.append(_webhook_health(runtime.webhook))
    if (otlp := runtime.otlp.health()) is not None:
        components.append(otlp)
    active = runtime.alerts.list_alerts("active", limit=100) if runtime.alerts else []
    active.sort(key=lambda a: a.severity != "critical")
    problems: list[tuple[HealthLevel, str]] = [
        ("unhealthy" if c.status == "unhealthy" else "degraded", f"{c.name}: {c.detail}")
        for c in components
        if c.status in ("degraded", "unhealthy")
    ]
    for alert in active:
        acknowledged = alert.state == "acknowledged"
        serious = alert.severity == "critical" and not acknowledged
        ack = " (acknowledged)" if acknowledged else ""
        problems.append(
            ("unhealthy" if serious else "degraded", f"alert {alert.id}{ack}: {alert.message}")
        )
    problems.sort(key=lambda p: p[0] != "unhealthy")
    status: HealthLevel = problems[0][0] if problems else "ok"
    last_flush = monitor.last_flush_at
    return HealthStatus(
        status=status,
        reasons=[reason for _, reason in problems],
        version=__version__,
        uptime_s=round(now - runtime.started_at, 3),
        db_path=monitor.db_path,
        store_bytes=store_bytes,
        last_flush_age_s=round(now - last_flush, 3) if last_flush is not None else None,
        components=components,
        active_alerts=len(active),
        breached=[_breach(alert) for alert in active],
    )


def recording_health(drops: Mapping[str, int]) -> ComponentHealth:
    """Degraded, with the counts, once this process has dropped anything it was given."""
    lost = [f"{drops[kind]:,} {what}" for kind, what in DROPPED.items() if drops.get(kind)]
    if not lost:
        return ComponentHealth(name="recording", status="ok", detail="nothing dropped since start")
    return ComponentHealth(
        name="recording", status="degraded", detail=f"dropped since start: {'; '.join(lost)}"
    )


def store_health(monitor: Monitor, size: int, now: float) -> ComponentHealth:
    """What the flusher found when it last wrote, a read-only store, or a large one."""
    if monitor.storage.read_only is not None:
        return ComponentHealth(
            name="store",
            status="degraded",
            detail=f"read-only: {monitor.storage.read_only}; queries work, nothing new can be "
            "recorded",
        )
    failure = monitor.flush_failure
    if failure is not None:
        return ComponentHealth(
            name="store", status="degraded", detail=_failing(monitor, failure, now)
        )
    mib = f"{size / (1 << 20):,.1f} MiB"
    if size > STORE_WARN_BYTES:
        return ComponentHealth(
            name="store",
            status="degraded",
            detail=f"writable but large ({mib}): shorten the retention "
            "(PERF_MCP_RETENTION_1M_D, PERF_MCP_RETENTION_1H_D)",
        )
    return ComponentHealth(name="store", status="ok", detail=f"writable, {mib}")


def _failing(monitor: Monitor, failure: FlushFailure, now: float) -> str:
    """A failing store in words: why, for how long, what waits and what was dropped."""
    drops = monitor.drops
    dropped = (
        f"; dropped since start: {drops['buckets']:,} 10-second buckets, "
        f"{drops['raw']:,} single runs and calls"
        if drops["buckets"] or drops["raw"]
        else ""
    )
    return (
        f"cannot be written for {max(0.0, now - failure.since):.0f} s "
        f"({failure.failures:,} flushes in a row failed): {failure.error}; waiting in memory "
        f"for it: {failure.waiting_buckets:,} 10-second buckets (the newest "
        f"{pending.MAX_PENDING_BUCKETS:,} are kept) and {failure.waiting_raw:,} single runs "
        f"and calls{dropped}"
    )


def _stale_after(interval_s: float) -> float:
    return STALE_INTERVALS * interval_s + 5


def _flusher_health(monitor: Monitor, now: float) -> ComponentHealth:
    last = monitor.last_flush_at
    age = f"last write {now - last:.1f} s ago" if last is not None else "nothing written yet"
    alive = monitor.flusher_alive
    if alive is None:
        return ComponentHealth(
            name="flusher", status="disabled", detail=f"no background flusher: queries flush; {age}"
        )
    if not alive:
        return ComponentHealth(
            name="flusher",
            status="degraded",
            detail=f"stopped: recorded data is written only when someone queries; {age}",
        )
    return ComponentHealth(
        name="flusher", status="ok", detail=f"every {monitor.flush_interval_s:g} s; {age}"
    )


def _sampler_health(sampler: ResourceSampler | None, now: float) -> ComponentHealth:
    if sampler is None or not sampler.running:
        return ComponentHealth(
            name="sampler", status="degraded", detail="not running: no new resource samples"
        )
    every = f"every {sampler.interval_s:g} s"
    latest = sampler.latest
    since = latest.timestamp if latest is not None else sampler.started_at or now
    age = now - since
    if age > _stale_after(sampler.interval_s) + sampler.first_after_s:
        error = f"; {sampler.last_error}" if sampler.last_error else ""
        what = "last sample" if latest is not None else "started, no sample yet,"
        return ComponentHealth(
            name="sampler", status="degraded", detail=f"{what} {age:.0f} s ago ({every}){error}"
        )
    if latest is None:
        return ComponentHealth(name="sampler", status="ok", detail=f"{every}; first sample soon")
    return ComponentHealth(
        name="sampler",
        status="ok",
        detail=f"{every}; last sample {age:.1f} s ago, {sampler.samples_taken} taken",
    )


def _alerting_health(alerts: AlertManager | None, now: float) -> ComponentHealth:
    if alerts is None or not alerts.running:
        return ComponentHealth(
            name="alerting", status="degraded", detail="not running: nothing new can fire"
        )
    every = f"every {alerts.interval_s:g} s"
    if alerts.leader is False:
        return ComponentHealth(
            name="alerting",
            status="ok",
            detail=f"another perf-mcp server sharing this store evaluates ({every}); "
            "this one follows and takes over if it stops",
        )
    last = alerts.last_evaluated_at
    if last is None or now - last > _stale_after(alerts.interval_s):
        when = f"last evaluation {now - last:.0f} s ago" if last is not None else "no evaluation"
        error = f"; {alerts.last_error}" if alerts.last_error else ""
        if last is None and alerts.last_error is None:
            return ComponentHealth(name="alerting", status="ok", detail=f"{every}; starting")
        return ComponentHealth(
            name="alerting", status="degraded", detail=f"{when} ({every}){error}"
        )
    return ComponentHealth(
        name="alerting", status="ok", detail=f"{every}; last evaluation {now - last:.1f} s ago"
    )


def _webhook_health(hook: WebhookNotifier) -> ComponentHealth:
    if hook.last_failed:
        return ComponentHealth(
            name="webhook",
            status="degraded",
            detail=f"{hook.failures} delivery(ies) failed, last: {hook.last_error} "
            f"({hook.sent} sent)",
        )
    return ComponentHealth(name="webhook", status="ok", detail=f"{hook.sent} sent")


def _breach(alert: AlertRecord) -> Breach:
    return Breach(
        alert_id=alert.id,
        threshold=alert.threshold,
        subject=alert.subject,
        severity=alert.severity,
        value=alert.value,
        limit=alert.limit,
        unit=alert.unit,
        since=alert.started_at,
        acknowledged=alert.state == "acknowledged",
    )


class HealthTool:
    """The health_check tool over one Runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def health_check(self) -> HealthStatus:
        """Is perf-mcp itself well: ok, degraded or unhealthy, and why (crossed thresholds,
        stalled background work, store trouble, dropped data)."""
        return await check_health(self.runtime)
