"""Shared fixtures: every test starts with clean settings, environment and outbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import mailcore

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run each test in an empty working directory with no MAILCORE_* variables set.

    No ``mailcore.toml`` or ``.env`` is found unless the test writes one; settings are
    re-read from scratch before and after the test; ``mailcore.outbox`` is removed.
    """
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    for name in list(os.environ):
        if name.upper().startswith("MAILCORE_"):
            monkeypatch.delenv(name)
    mailcore.configure()
    yield workdir
    monkeypatch.undo()
    if hasattr(mailcore, "outbox"):
        del mailcore.outbox
    mailcore.configure()
