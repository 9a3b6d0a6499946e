"""Blocking psutil reads: one ``ResourceReader.read()`` per sample.

A reading psutil cannot give (not on this platform, or for lack of permission) is ``None``
with the reason in ``unavailable``: never a crash, never a made-up 0.

>>> reader = ResourceReader()
>>> sample = reader.read()
>>> 0 <= sample.memory_percent <= 100
True
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from operator import attrgetter, itemgetter
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil

from perf_mcp.resources.models import DiskUsage, ProcessUsage, ResourceSample

# psutil counts CPU time in clock ticks (10 ms on Linux): over a shorter span a busy CPU
# reads as 0 %, so a reading waits until the counters were last read at least this long ago.
MIN_CPU_SPAN_S = 0.25


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

    ``psutil_module`` is the real psutil unless a test passes a module with faults in it;
    ``monotonic`` and ``sleep`` are the real clock unless a test passes a fake one.
    """

    def __init__(
        self,
        *,
        pids: Iterable[int] = (),
        disk_paths: Iterable[str | os.PathLike[str]] = (),
        psutil_module: ModuleType = psutil,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ps = psutil_module
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        own = os.getpid()
        self.pids: list[int] = [own, *(p for p in dict.fromkeys(pids) if p != own)]
        self.disk_paths: list[str] = [os.fspath(p) for p in dict.fromkeys(disk_paths)]
        self._processes: dict[int, Any] = {}
        self._primed_cpu: set[int] = set()
        self._cpu_count: int | None = None
        self._last_io: tuple[float, Any, Any] | None = None
        self._cpu_read_at: float | None = None  # monotonic time the CPU counters were read

    def prime(self) -> None:
        """Start the CPU % and I/O rate counters, so the first sample has real values."""
        now = self._monotonic()
        self._system_cpu_percent(now)
        for pid in self.pids:
            process = self._process(pid, {})
            try:
                if process is not None:
                    self._process_cpu(process, pid, {})
            except _UNAVAILABLE:  # the sample reports it; priming is best effort
                continue
        self._io_rates(now, {}, {})

    def read(self) -> ResourceSample:
        """Take one sample (blocking: call it from a worker thread)."""
        gone: dict[str, str] = {}
        now = self._monotonic()
        if self._cpu_read_at is not None and now - self._cpu_read_at < MIN_CPU_SPAN_S:
            self._sleep(MIN_CPU_SPAN_S - (now - self._cpu_read_at))
            now = self._monotonic()
        fields: dict[str, Any] = {"timestamp": self._clock()}
        cpu = self._system_cpu_percent(now)
        if cpu is None:
            gone["cpu_percent"] = gone["cpu_per_core"] = "first reading: CPU % needs two readings"
        else:
            fields["cpu_percent"], fields["cpu_per_core"] = cpu
        if self._cpu_count is None:  # the number of logical CPUs does not change
            self._try(fields, gone, "cpu_count", lambda: self._ps.cpu_count())
            self._cpu_count = fields.get("cpu_count")
        else:
            fields["cpu_count"] = self._cpu_count
        self._group(fields, gone, "virtual_memory", _MEMORY)
        self._group(fields, gone, "swap_memory", _SWAP)
        if fields.get("swap_total_bytes") == 0:  # 0% of nothing is not a reading
            del fields["swap_percent"]
            gone["swap_percent"] = "no swap configured"
        fields["disks"] = [self._disk(path) for path in self.disk_paths]
        self._io_rates(now, fields, gone)
        self._group(fields, gone, "getloadavg", _LOAD)
        self._try(fields, gone, "process_count", lambda: len(self._ps.pids()))
        fields["processes"] = [self._process_usage(pid) for pid in self.pids]
        return ResourceSample(**fields, unavailable=gone)

    # ------------------------------------------------------------ system

    def _system_cpu_percent(self, now: float) -> tuple[float, list[float]] | None:
        """(system CPU %, per-core %): the system figure is the mean of the cores'."""
        try:
            per_core = [float(v) for v in self._ps.cpu_percent(interval=None, percpu=True)]
        except _UNAVAILABLE:
            return None
        primed, self._cpu_read_at = self._cpu_read_at is not None, now
        if not primed or not per_core:  # psutil's first answer is a meaningless 0
            return None
        return sum(per_core) / len(per_core), per_core

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

    def _io_rates(self, now: float, fields: dict[str, Any], gone: dict[str, str]) -> None:
        """Disk and network bytes per second since the previous reading (at monotonic ``now``)."""
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

    def _group(
        self, fields: dict[str, Any], gone: dict[str, str], call: str, parts: _Parts
    ) -> None:
        """Several fields from one psutil call: all of them, or the reason for each."""
        try:
            result = getattr(self._ps, call)()
        except _UNAVAILABLE as exc:
            gone.update(dict.fromkeys(parts, _reason(exc)))
            return
        fields.update((name, part(result)) for name, part in parts.items())

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


_Parts = dict[str, Callable[[Any], Any]]  # field name -> how to take it from the call's result
_MEMORY: _Parts = {
    "memory_total_bytes": attrgetter("total"),
    "memory_available_bytes": attrgetter("available"),
    "memory_percent": attrgetter("percent"),
}
_SWAP: _Parts = {
    "swap_total_bytes": attrgetter("total"),
    "swap_used_bytes": attrgetter("used"),
    "swap_percent": attrgetter("percent"),
}
_LOAD: _Parts = {"load_1": itemgetter(0), "load_5": itemgetter(1), "load_15": itemgetter(2)}
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
