"""A second live process for the readers and samplers that watch more than their own."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest


@pytest.fixture
def other_process() -> Iterator[int]:
    """A PID of a live process that is not this one."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait(timeout=10)
