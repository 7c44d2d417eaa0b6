"""pytest plugin (entry point ``pytest11``): the ``mailoutbox`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import mailcore
from mailcore import EmailMessage
from mailcore.settings import current_configuration

__all__ = ["mailoutbox"]


@pytest.fixture
def mailoutbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[EmailMessage]]:
    """Send every message of the test to an empty ``mailcore.outbox`` and yield it.

    The backend setting becomes locmem for the test only (whatever the environment, the
    TOML file or an earlier ``mailcore.configure()`` say; a ``configure()`` inside the
    test that names no backend keeps it); the rest of the configuration is kept, and the
    configuration, the environment and the outbox are restored afterwards.
    """
    previous = current_configuration()
    monkeypatch.setenv("MAILCORE_BACKEND", "locmem")
    outbox: list[EmailMessage] = []
    monkeypatch.setattr(mailcore, "outbox", outbox, raising=False)
    mailcore.configure(**{**previous, "backend": "locmem"})
    try:
        yield outbox
    finally:
        monkeypatch.undo()
        mailcore.configure(**previous)
