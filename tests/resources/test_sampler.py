"""The background sampler: its schedule, its sink, and psutil faults on the way."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import pytest

from perf_mcp.core.models import InvalidInputError
from perf_mcp.resources import ResourceSample, ResourceSampler
from tests.resources.psutil_fakes import denying_psutil, own
from tests.step_sleep import StepSleep


@pytest.mark.anyio
async def test_sampler_carries_on_when_psutil_denies_access(other_process: int) -> None:
    samples: list[ResourceSample] = []
    sleep = StepSleep(stop_after=4)
    sampler = ResourceSampler(
        samples.append,
        interval_s=1,
        pids=[other_process],
        psutil_module=denying_psutil(other_process),
        sleep=sleep,
    )
    async with sampler:
        with anyio.fail_after(20):
            await sleep.done.wait()
    assert len(samples) == 3
    assert sampler.errors == 0
    for sample in samples:
        assert sample.processes[1].rss_bytes is None
        assert sample.processes[1].unavailable["rss_bytes"].startswith("AccessDenied")
        assert own(sample).rss_bytes is not None
        assert sample.cpu_percent is not None


def test_interval_below_one_second_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"at least 1 s, got 0\.5"):
        ResourceSampler(interval_s=0.5)


@pytest.mark.anyio
async def test_sampler_hands_samples_to_the_sink_on_its_interval() -> None:
    samples: list[ResourceSample] = []
    sleep = StepSleep(stop_after=3)
    sampler = ResourceSampler(samples.append, interval_s=30, sleep=sleep)
    assert not sampler.running
    async with sampler:
        assert sampler.running
        with anyio.fail_after(20):
            await sleep.done.wait()
    assert not sampler.running
    assert len(samples) == sampler.samples_taken == 2
    assert sampler.latest is samples[-1]
    assert sleep.calls[0] == 1.0  # the first sample comes soon after start, primed
    assert all(29 < s <= 30 for s in sleep.calls[1:])
    assert samples[0].cpu_percent is not None  # primed at start: a real reading, not 0


@pytest.mark.anyio
async def test_a_failing_sink_is_logged_and_sampling_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def sink(sample: ResourceSample) -> None:
        raise RuntimeError("database is locked")

    sleep = StepSleep(stop_after=4)
    async with ResourceSampler(sink, interval_s=5, sleep=sleep) as sampler:
        with anyio.fail_after(20):
            await sleep.done.wait()
    assert (sampler.samples_taken, sampler.errors) == (3, 3)
    assert sampler.last_error == (
        "storing a resource sample failed: RuntimeError: database is locked"
    )
    assert "storing a resource sample failed" in caplog.text


# ---------------------------------------------------------------- summaries


# ---------------------------------------------------------------- the first reading is real


@contextmanager
def busy_thread(seconds: float = 20.0) -> Iterator[None]:
    """A thread that keeps one core busy until the block ends (or ``seconds`` pass)."""
    stop = threading.Event()

    def spin() -> None:
        deadline = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < deadline:
            pass

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=seconds)


def assert_cpu_was_busy(sample: ResourceSample) -> None:
    """The system and this process were busy: a real CPU reading, not psutil's unprimed 0."""
    process_cpu = own(sample).cpu_percent
    assert sample.cpu_percent is not None
    assert sample.cpu_percent > 0
    assert process_cpu is not None
    assert process_cpu > 0


@pytest.mark.anyio
async def test_first_scheduled_reading_of_a_fresh_sampler_under_load_is_not_zero() -> None:
    samples: list[ResourceSample] = []
    sleep = StepSleep(stop_after=2)  # the first tick comes at once after start
    with busy_thread():
        async with ResourceSampler(samples.append, interval_s=30, sleep=sleep):
            with anyio.fail_after(20):
                await sleep.done.wait()
    assert_cpu_was_busy(samples[0])


@pytest.mark.anyio
async def test_a_reading_asked_for_right_after_start_under_load_is_not_zero() -> None:
    samples: list[ResourceSample] = []
    with busy_thread():
        async with ResourceSampler(samples.append, interval_s=30) as sampler:
            with anyio.fail_after(20):
                await sampler.sample_once()  # what get_resource_usage does on a fresh server
    assert_cpu_was_busy(samples[0])
