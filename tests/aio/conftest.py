"""Async tests run with anyio's pytest plugin, on asyncio only (mailcore's async API is
asyncio code: worker threads through the running loop's executor)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
