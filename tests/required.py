"""What a test does when something it needs is not installed: skip, saying what to install,
except under ``CI=true``, where ``.ci/run`` installs it and a missing one is a broken CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(reason: str) -> NoReturn:
    """Skip with ``reason``, or fail with it under CI."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run this test: {reason}")
    pytest.skip(reason)
