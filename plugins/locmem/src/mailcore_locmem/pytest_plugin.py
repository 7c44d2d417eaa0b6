"""pytest plugin (entry point ``pytest11``): the ``mailoutbox`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import mailcore
from mailcore import EmailMessage

__all__ = ["mailoutbox"]


@pytest.fixture
def mailoutbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[EmailMessage]]:
    """Send every message of the test to an empty ``mailcore.outbox`` and yield it.

    The configured backend is replaced by locmem for the test only; the outbox and the
    settings are restored afterwards.
    """
    monkeypatch.setenv("MAILCORE_BACKEND", "locmem")
    outbox: list[EmailMessage] = []
    monkeypatch.setattr(mailcore, "outbox", outbox, raising=False)
    mailcore.configure()
    try:
        yield outbox
    finally:
        monkeypatch.undo()
        mailcore.configure()
