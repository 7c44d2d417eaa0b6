"""Fixtures of the command's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def workdir(isolated_settings: Path) -> Path:
    """The empty working directory the test (and the commands it runs) starts in."""
    return isolated_settings
