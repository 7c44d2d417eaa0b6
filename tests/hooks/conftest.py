"""Every hook a test registers in code is unregistered after it; ``server`` is a real
SMTP server on 127.0.0.1 recording what it receives."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailcore import hooks
from tests.support.smtp_servers import RecordingSMTPServer


@pytest.fixture(autouse=True)
def registered_hooks_removed() -> Iterator[None]:
    yield
    for registered in list(hooks._registered.values()):
        for hook in list(registered):
            hooks.remove(hook)


@pytest.fixture
def server() -> Iterator[RecordingSMTPServer]:
    with RecordingSMTPServer() as running:
        yield running
