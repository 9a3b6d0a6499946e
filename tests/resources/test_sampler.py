"""The background sampler: its schedule, its sink, and psutil faults on the way."""

from __future__ import annotations

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
