"""psutil with faults in it (the real module with parts replaced), and a sample's own process."""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import psutil

from perf_mcp.resources import ProcessUsage, ResourceSample


def fake_psutil(**overrides: Any) -> ModuleType:
    """The real psutil module with some of its functions replaced."""
    module = ModuleType("psutil")
    module.__dict__.update({k: v for k, v in vars(psutil).items() if not k.startswith("__")})
    for name, value in overrides.items():
        if value is None:
            delattr(module, name)
        else:
            setattr(module, name, value)
    return module


class DeniedProcess:
    """A live process whose every reading psutil refuses, as for another user's process."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._real = psutil.Process(pid)

    def oneshot(self) -> Any:
        return self._real.oneshot()

    def _deny(self, *args: Any, **kwargs: Any) -> Any:
        raise psutil.AccessDenied(self.pid, "sleeper")

    name = memory_info = cpu_percent = num_threads = open_files = _deny


def denying_psutil(pid: int) -> ModuleType:
    real = psutil.Process

    def process(wanted: int | None = None) -> Any:
        return DeniedProcess(pid) if wanted == pid else real(wanted)

    return fake_psutil(Process=process)


def own(sample: ResourceSample) -> ProcessUsage:
    """This process's reading: always the first in a sample."""
    assert sample.processes[0].pid == os.getpid()
    return sample.processes[0]
