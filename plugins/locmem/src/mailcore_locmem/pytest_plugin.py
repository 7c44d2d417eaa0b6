"""pytest plugin (entry point ``pytest11``): the ``mailoutbox`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import mailcore
from mailcore import EmailMessage
from mailcore.testing import redirect_backends
from mailcore_locmem.backend import LocmemBackend

__all__ = ["mailoutbox"]


@pytest.fixture
def mailoutbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[EmailMessage]]:
    """Keep every message of the test in an empty ``mailcore.outbox`` and yield it.

    Whatever backend the code asks for (the configured one, ``get_connection("smtp")``,
    an import path, a backend class made directly, a connection passed in), that backend
    is created as usual, options checked, but delivers to the outbox instead of its
    transport and connects nowhere (:func:`mailcore.testing.redirect_backends`). The
    settings are not changed; the outbox is restored afterwards.
    """
    outbox: list[EmailMessage] = []
    monkeypatch.setattr(mailcore, "outbox", outbox, raising=False)
    with redirect_backends(LocmemBackend):
        yield outbox
