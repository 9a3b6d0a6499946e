"""The resource reader against psutil's own readings, and with psutil faults injected."""

from __future__ import annotations

import time
from collections import namedtuple
from pathlib import Path
from typing import Any

import psutil

from perf_mcp.resources import ResourceReader
from tests.resources.psutil_fakes import denying_psutil, fake_psutil, own

MiB = 1 << 20


def test_readings_match_psutil(tmp_path: Path) -> None:
    reader = ResourceReader(disk_paths=[tmp_path])
    reader.prime()
    time.sleep(0.2)  # CPU % and rates are measured over the time between two readings
    sample = reader.read()

    memory = psutil.virtual_memory()
    assert sample.memory_total_bytes == memory.total
    assert sample.memory_available_bytes is not None
    assert abs(sample.memory_available_bytes - memory.available) < 256 * MiB
    assert sample.memory_percent is not None
    assert abs(sample.memory_percent - memory.percent) < 5
    assert sample.cpu_count == psutil.cpu_count()
    assert sample.cpu_percent is not None
    assert 0 <= sample.cpu_percent <= 100
    assert sample.cpu_per_core is not None
    assert len(sample.cpu_per_core) == psutil.cpu_count()
    assert sample.process_count is not None
    assert abs(sample.process_count - len(psutil.pids())) <= 20
    swap = psutil.swap_memory()
    assert sample.swap_total_bytes == swap.total
    if swap.total == 0:
        assert sample.swap_percent is None
        assert sample.unavailable["swap_percent"] == "no swap configured"

    [disk] = sample.disks
    usage = psutil.disk_usage(str(tmp_path))
    assert (disk.path, disk.total_bytes) == (str(tmp_path), usage.total)
    assert disk.used_bytes is not None
    assert abs(disk.used_bytes - usage.used) < 512 * MiB

    loads = psutil.getloadavg()
    assert sample.load_1 is not None
    assert abs(sample.load_1 - loads[0]) < 1.0
    for name in ("disk_read_bytes_per_s", "net_recv_bytes_per_s", "net_sent_bytes_per_s"):
        value = getattr(sample, name)
        assert (value is not None and value >= 0) or name in sample.unavailable

    me, process = own(sample), psutil.Process()
    assert me.name == process.name()
    assert me.rss_bytes is not None
    assert abs(me.rss_bytes - process.memory_info().rss) < 32 * MiB
    assert me.threads == process.num_threads()
    assert me.open_files == len(process.open_files())
    assert me.cpu_percent is not None
    assert me.cpu_percent >= 0
    assert me.unavailable == {}


def test_data_directory_not_created_yet_reports_its_filesystem(tmp_path: Path) -> None:
    missing = tmp_path / "not" / "yet"
    [disk] = ResourceReader(disk_paths=[missing]).read().disks
    assert disk.path == str(missing)
    assert disk.total_bytes == psutil.disk_usage(str(tmp_path)).total


def test_first_reading_without_priming_reports_cpu_unavailable_not_zero() -> None:
    sample = ResourceReader().read()
    assert sample.cpu_percent is None
    assert sample.unavailable["cpu_percent"] == "first reading: CPU % needs two readings"
    assert own(sample).cpu_percent is None
    assert "cpu_percent" in own(sample).unavailable
    assert sample.disk_read_bytes_per_s is None
    assert sample.unavailable["net_sent_bytes_per_s"] == "first reading: rates need two readings"


def test_io_rates_are_bytes_per_second_between_readings() -> None:
    disk = namedtuple("disk", "read_bytes write_bytes")
    net = namedtuple("net", "bytes_sent bytes_recv")
    disks = iter([disk(1000, 0), disk(6000, 2000), disk(100, 2000)])
    nets = iter([net(0, 0), net(300, 900), net(600, 1800)])
    clock = iter([10.0, 12.0, 14.0])
    reader = ResourceReader(
        psutil_module=fake_psutil(
            disk_io_counters=lambda: next(disks), net_io_counters=lambda: next(nets)
        ),
        monotonic=lambda: next(clock),
    )
    reader.prime()
    sample = reader.read()
    assert (sample.disk_read_bytes_per_s, sample.disk_write_bytes_per_s) == (2500, 1000)
    assert (sample.net_sent_bytes_per_s, sample.net_recv_bytes_per_s) == (150, 450)
    reset = reader.read()  # a disk counter went backwards: no rate rather than a negative one
    assert reset.disk_read_bytes_per_s is None
    assert "backwards" in reset.unavailable["disk_read_bytes_per_s"]
    assert reset.disk_write_bytes_per_s == 0
    assert reset.net_recv_bytes_per_s == 450


# ---------------------------------------------------------------- faults


def test_access_denied_for_a_process_is_reported_and_the_rest_is_read(
    other_process: int,
) -> None:
    reader = ResourceReader(pids=[other_process], psutil_module=denying_psutil(other_process))
    reader.prime()
    sample = reader.read()
    denied = sample.processes[1]
    assert denied.pid == other_process
    assert (denied.rss_bytes, denied.cpu_percent, denied.threads, denied.open_files) == (
        None,
        None,
        None,
        None,
    )
    assert set(denied.unavailable) == {"name", "rss_bytes", "cpu_percent", "threads", "open_files"}
    assert all(reason.startswith("AccessDenied") for reason in denied.unavailable.values())
    assert own(sample).rss_bytes is not None
    assert sample.memory_percent is not None


def test_process_that_does_not_exist_is_unavailable() -> None:
    gone_pid = max(psutil.pids()) + 100_000
    sample = ResourceReader(pids=[gone_pid]).read()
    missing = sample.processes[1]
    assert missing.pid == gone_pid
    assert missing.rss_bytes is None
    assert missing.unavailable["process"].startswith("NoSuchProcess")


def test_readings_the_platform_lacks_are_unavailable_not_zero() -> None:
    def denied() -> Any:
        raise PermissionError(13, "Permission denied", "/proc/net/dev")

    reader = ResourceReader(
        psutil_module=fake_psutil(
            getloadavg=None, disk_io_counters=lambda: None, net_io_counters=denied
        )
    )
    reader.prime()
    sample = reader.read()
    assert (sample.load_1, sample.load_5, sample.load_15) == (None, None, None)
    assert sample.unavailable["load_15"] == "not available on this platform"
    assert sample.disk_write_bytes_per_s is None
    assert sample.unavailable["disk_write_bytes_per_s"] == "no disk I/O counters on this system"
    assert sample.unavailable["net_recv_bytes_per_s"].startswith("PermissionError")
    assert sample.memory_total_bytes == psutil.virtual_memory().total


# ---------------------------------------------------------------- the background task
