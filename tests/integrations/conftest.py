"""The test app in each framework, as a fixture."""

from __future__ import annotations

import pytest

from tests.integrations.asgi_apps import AppFactory, build_fastapi, build_starlette


@pytest.fixture(params=["fastapi", "starlette"])
def make_app(request: pytest.FixtureRequest) -> AppFactory:
    """Builds the test app in each framework: ``make_app(monitor, gate=None, **options)``."""
    return build_fastapi if request.param == "fastapi" else build_starlette
