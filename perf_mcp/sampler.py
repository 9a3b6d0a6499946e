"""The psutil resource sampler: system and process readings, taken in a worker thread.

A reading psutil cannot give (not on this platform, or for lack of permission) is ``None``
with the reason in ``unavailable``: never a crash, never a made-up 0.

>>> reader = ResourceReader()
>>> sample = reader.read()
>>> 0 <= sample.memory_percent <= 100
True

In a server's lifespan, every ``interval_s`` seconds, each sample to a sink::

    async with ResourceSampler(sink=store.add_resource_sample, interval_s=30) as sampler:
        ...
        sampler.latest  # the newest ResourceSample, for alerting and health
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import anyio.abc
import psutil
from pydantic import BaseModel, ConfigDict, Field

from perf_mcp.periodic import Periodic

DEFAULT_INTERVAL_S = 30.0
MIN_INTERVAL_S = 1.0

logger = logging.getLogger(__name__)

Sink = Callable[["ResourceSample"], None]


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


class DiskUsage(_Answer):
    """Space on the filesystem holding ``path``."""

    path: str
    total_bytes: int | None = None
    used_bytes: int | None = None
    free_bytes: int | None = None
    percent: float | None = None
    unavailable: str | None = Field(default=None, description="Why the numbers are missing.")


class ProcessUsage(_Answer):
    """One process: this server, or a PID the user named."""

    pid: int
    name: str | None = None
    rss_bytes: int | None = None
    cpu_percent: float | None = Field(default=None, description="100 = one core busy.")
    threads: int | None = None
    open_files: int | None = None
    unavailable: dict[str, str] = Field(
        default_factory=dict, description="Field name -> why it is missing."
    )


class ResourceSample(_Answer):
    """One reading of the machine and of the watched processes."""

    timestamp: float = Field(description="Unix seconds.")
    cpu_percent: float | None = Field(
        default=None, description="System CPU, 0..100: the mean of cpu_per_core."
    )
    cpu_per_core: list[float] | None = None
    cpu_count: int | None = None
    memory_total_bytes: int | None = None
    memory_available_bytes: int | None = None
    memory_percent: float | None = None
    swap_total_bytes: int | None = None
    swap_used_bytes: int | None = None
    swap_percent: float | None = None
    disks: list[DiskUsage] = []
    disk_read_bytes_per_s: float | None = None
    disk_write_bytes_per_s: float | None = None
    net_sent_bytes_per_s: float | None = None
    net_recv_bytes_per_s: float | None = None
    load_1: float | None = None
    load_5: float | None = None
    load_15: float | None = None
    process_count: int | None = None
    processes: list[ProcessUsage] = Field(
        default=[], description="This process first, then the PIDs asked for."
    )
    unavailable: dict[str, str] = Field(
        default_factory=dict, description="Field name -> why psutil could not give it."
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, AttributeError | NotImplementedError):
        return "not available on this platform"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# What a psutil call may raise for a reading it cannot give: psutil.Error covers AccessDenied,
# NoSuchProcess and ZombieProcess; OSError covers /proc and sysfs oddities in containers.
_UNAVAILABLE = (psutil.Error, OSError, NotImplementedError, AttributeError, RuntimeError)


class ResourceReader:
    """Blocking psutil reads, one ``read()`` per sample; keeps what rates and CPU % need.

    ``psutil_module`` is the real psutil unless a test passes a module with faults in it.
    """

    def __init__(
        self,
        *,
        pids: Iterable[int] = (),
        disk_paths: Iterable[str | os.PathLike[str]] = (),
        psutil_module: ModuleType = psutil,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ps = psutil_module
        self._clock = clock
        self._monotonic = monotonic
        own = os.getpid()
        self.pids: list[int] = [own, *(p for p in dict.fromkeys(pids) if p != own)]
        self.disk_paths: list[str] = [os.fspath(p) for p in dict.fromkeys(disk_paths)]
        self._processes: dict[int, Any] = {}
        self._primed_cpu: set[int] = set()
        self._cpu_count: int | None = None
        self._last_io: tuple[float, Any, Any] | None = None
        self._cpu_primed = False

    def prime(self) -> None:
        """Start the CPU % and I/O rate counters, so the first sample has real values."""
        self._system_cpu_percent()
        for pid in self.pids:
            process = self._process(pid, {})
            try:
                if process is not None:
                    self._process_cpu(process, pid, {})
            except _UNAVAILABLE:  # the sample reports it; priming is best effort
                continue
        self._io_rates({}, {})

    def read(self) -> ResourceSample:
        """Take one sample (blocking: call it from a worker thread)."""
        gone: dict[str, str] = {}
        fields: dict[str, Any] = {"timestamp": self._clock()}
        cpu = self._system_cpu_percent()
        if cpu is None:
            gone["cpu_percent"] = gone["cpu_per_core"] = "first reading: CPU % needs two readings"
        else:
            fields["cpu_percent"], fields["cpu_per_core"] = cpu
        if self._cpu_count is None:  # the number of logical CPUs does not change
            self._try(fields, gone, "cpu_count", lambda: self._ps.cpu_count())
            self._cpu_count = fields.get("cpu_count")
        else:
            fields["cpu_count"] = self._cpu_count
        self._memory(fields, gone)
        self._swap(fields, gone)
        fields["disks"] = [self._disk(path) for path in self.disk_paths]
        self._io_rates(fields, gone)
        self._load(fields, gone)
        self._try(fields, gone, "process_count", lambda: len(self._ps.pids()))
        fields["processes"] = [self._process_usage(pid) for pid in self.pids]
        return ResourceSample(**fields, unavailable=gone)

    # ------------------------------------------------------------ system

    def _system_cpu_percent(self) -> tuple[float, list[float]] | None:
        """(system CPU %, per-core %): the system figure is the mean of the cores'."""
        try:
            per_core = [float(v) for v in self._ps.cpu_percent(interval=None, percpu=True)]
        except _UNAVAILABLE:
            return None
        if not self._cpu_primed or not per_core:  # psutil's first answer is a meaningless 0
            self._cpu_primed = True
            return None
        return sum(per_core) / len(per_core), per_core

    def _memory(self, fields: dict[str, Any], gone: dict[str, str]) -> None:
        names = ("memory_total_bytes", "memory_available_bytes", "memory_percent")
        try:
            mem = self._ps.virtual_memory()
        except _UNAVAILABLE as exc:
            gone.update(dict.fromkeys(names, _reason(exc)))
            return
        fields.update(zip(names, (mem.total, mem.available, float(mem.percent)), strict=True))

    def _swap(self, fields: dict[str, Any], gone: dict[str, str]) -> None:
        names = ("swap_total_bytes", "swap_used_bytes", "swap_percent")
        try:
            swap = self._ps.swap_memory()
        except _UNAVAILABLE as exc:
            gone.update(dict.fromkeys(names, _reason(exc)))
            return
        fields["swap_total_bytes"], fields["swap_used_bytes"] = swap.total, swap.used
        if swap.total > 0:
            fields["swap_percent"] = float(swap.percent)
        else:  # 0% of nothing is not a reading
            gone["swap_percent"] = "no swap configured"

    def _disk(self, path: str) -> DiskUsage:
        try:
            usage = self._ps.disk_usage(_existing_ancestor(path))
        except _UNAVAILABLE as exc:
            return DiskUsage(path=path, unavailable=_reason(exc))
        return DiskUsage(
            path=path,
            total_bytes=usage.total,
            used_bytes=usage.used,
            free_bytes=usage.free,
            percent=float(usage.percent),
        )

    def _io_rates(self, fields: dict[str, Any], gone: dict[str, str]) -> None:
        """Disk and network bytes per second since the previous reading."""
        now = self._monotonic()
        disk = self._counters(self._ps.disk_io_counters, "disk I/O")
        net = self._counters(self._ps.net_io_counters, "network I/O")
        previous, self._last_io = self._last_io, (now, disk, net)
        elapsed = now - previous[0] if previous is not None else 0.0
        for current, before, rates in (
            (disk, previous[1] if previous else None, _DISK_RATES),
            (net, previous[2] if previous else None, _NET_RATES),
        ):
            for name, attr in rates:
                rate = _rate(current, before, elapsed, attr)
                if isinstance(rate, str):
                    gone[name] = rate
                else:
                    fields[name] = rate

    def _counters(self, read: Callable[[], Any], what: str) -> Any:
        """Cumulative I/O counters, or the reason there are none."""
        try:
            counters = read()
        except _UNAVAILABLE as exc:
            return _reason(exc)
        return counters if counters is not None else f"no {what} counters on this system"

    def _load(self, fields: dict[str, Any], gone: dict[str, str]) -> None:
        names = ("load_1", "load_5", "load_15")
        try:
            loads = self._ps.getloadavg()
        except _UNAVAILABLE as exc:
            gone.update(dict.fromkeys(names, _reason(exc)))
            return
        fields.update(zip(names, (float(v) for v in loads), strict=True))

    def _try(
        self, fields: dict[str, Any], gone: dict[str, str], name: str, read: Callable[[], Any]
    ) -> None:
        try:
            value = read()
        except _UNAVAILABLE as exc:
            gone[name] = _reason(exc)
            return
        if value is None:
            gone[name] = "psutil could not tell on this platform"
        else:
            fields[name] = value

    # ------------------------------------------------------------ processes

    def _process(self, pid: int, gone: dict[str, str]) -> Any:
        process = self._processes.get(pid)
        if process is None:
            try:
                process = self._ps.Process(pid)
            except _UNAVAILABLE as exc:
                gone["process"] = _reason(exc)
                return None
            self._processes[pid] = process
        return process

    def _process_cpu(self, process: Any, pid: int, gone: dict[str, str]) -> float | None:
        value = float(process.cpu_percent(interval=None))
        if pid not in self._primed_cpu:  # the first call only starts the counter
            self._primed_cpu.add(pid)
            gone["cpu_percent"] = "first reading: CPU % needs two readings"
            return None
        return value

    def _process_usage(self, pid: int) -> ProcessUsage:
        gone: dict[str, str] = {}
        process = self._process(pid, gone)
        if process is None:
            return ProcessUsage(pid=pid, unavailable=gone)
        fields: dict[str, Any] = {}
        reads: dict[str, Callable[[], Any]] = {
            "name": process.name,
            "rss_bytes": lambda: process.memory_info().rss,
            "cpu_percent": lambda: self._process_cpu(process, pid, gone),
            "threads": process.num_threads,
            "open_files": lambda: len(process.open_files()),
        }
        with process.oneshot():  # one /proc read for all of them
            for name, read in reads.items():
                try:
                    value = read()
                except _UNAVAILABLE as exc:
                    gone[name] = _reason(exc)
                    if isinstance(exc, psutil.NoSuchProcess):
                        self._forget(pid)
                    continue
                if value is not None:
                    fields[name] = value
        return ProcessUsage(pid=pid, **fields, unavailable=gone)

    def _forget(self, pid: int) -> None:
        """Drop a process that ended, so a later reading retries (the PID may come back)."""
        self._processes.pop(pid, None)
        self._primed_cpu.discard(pid)


_DISK_RATES = (("disk_read_bytes_per_s", "read_bytes"), ("disk_write_bytes_per_s", "write_bytes"))
_NET_RATES = (("net_sent_bytes_per_s", "bytes_sent"), ("net_recv_bytes_per_s", "bytes_recv"))


def _rate(current: Any, before: Any, elapsed: float, attr: str) -> float | str:
    """Bytes per second between two counter readings, or why there is no rate."""
    if isinstance(current, str):
        return current
    if before is None or isinstance(before, str):
        return "first reading: rates need two readings"
    delta = getattr(current, attr) - getattr(before, attr)
    if elapsed <= 0 or delta < 0:
        return "counters went backwards (reset or wrapped)"
    return float(delta / elapsed)


def _existing_ancestor(path: str) -> str:
    """The nearest existing directory: the data directory may not be created yet."""
    current = Path(path).expanduser().absolute()
    for candidate in (current, *current.parents):
        if candidate.exists():
            return str(candidate)
    return str(current)


# ---------------------------------------------------------------- the background task


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


# ---------------------------------------------------------------- summaries


class MetricStats(_Answer):
    """One metric over a window of samples."""

    last: float
    min: float
    mean: float
    max: float
    p95: float
    samples: int


class ResourceSummary(_Answer):
    """The latest sample plus min/mean/max/p95 of each numeric metric over the window."""

    samples: int = Field(description="Samples the stats rest on.")
    latest: ResourceSample | None
    stats: dict[str, MetricStats] = Field(
        description="Metric name -> stats; process_* metrics are this server's own process."
    )
    first_at: float | None = Field(default=None, description="The oldest sample, Unix seconds.")
    last_at: float | None = Field(default=None, description="The newest sample, Unix seconds.")
    window: str | None = None
    interval_s: float | None = Field(
        default=None, description="Seconds between samples; None when no sampler runs here."
    )
    spread: bool = Field(
        default=False,
        description="True when the window held more samples than were read: "
        "the stats rest on samples spread evenly over it.",
    )
    note: str = ""


SUMMARY_METRICS: tuple[str, ...] = (
    "cpu_percent",
    "memory_percent",
    "swap_percent",
    "load_1",
    "disk_read_bytes_per_s",
    "disk_write_bytes_per_s",
    "net_sent_bytes_per_s",
    "net_recv_bytes_per_s",
    "process_cpu_percent",
    "process_rss_bytes",
)


def summarize(samples: Sequence[ResourceSample], pid: int | None = None) -> ResourceSummary:
    """Summarize samples (any order) for ``get_resource_usage``: unavailable values are skipped.

    ``process_*`` metrics come from the process ``pid`` (default: each sample's first, the
    process that took it), so samples several servers stored in one file do not mix.
    """
    ordered = sorted(samples, key=lambda s: s.timestamp)
    series: dict[str, list[float]] = {name: [] for name in SUMMARY_METRICS}
    for sample in ordered:
        own = _process(sample, pid)
        values: dict[str, float | int | None] = {
            name: getattr(sample, name)
            for name in SUMMARY_METRICS
            if not name.startswith("process_")
        }
        values["process_cpu_percent"] = own.cpu_percent if own else None
        values["process_rss_bytes"] = own.rss_bytes if own else None
        for name, value in values.items():
            if value is not None:
                series[name].append(float(value))
    stats = {name: _stats(values) for name, values in series.items() if values}
    return ResourceSummary(
        samples=len(ordered),
        latest=ordered[-1] if ordered else None,
        stats=stats,
        first_at=ordered[0].timestamp if ordered else None,
        last_at=ordered[-1].timestamp if ordered else None,
    )


def _process(sample: ResourceSample, pid: int | None) -> ProcessUsage | None:
    if pid is None:
        return sample.processes[0] if sample.processes else None
    return next((p for p in sample.processes if p.pid == pid), None)


def _stats(values: list[float]) -> MetricStats:
    ordered = sorted(values)
    rank = max(0, math.ceil(0.95 * len(ordered)) - 1)  # nearest-rank p95
    return MetricStats(
        last=values[-1],
        min=ordered[0],
        mean=sum(values) / len(values),
        max=ordered[-1],
        p95=ordered[rank],
        samples=len(values),
    )
