"""The dummy backend: counts messages as sent and discards them."""

from __future__ import annotations

from collections.abc import Iterable

from mailcore import BaseEmailBackend, EmailMessage, SendResult, URLScheme

__all__ = ["DummyBackend"]


def _connect() -> bool:
    return False  # nothing to open


def _discard(messages: list[EmailMessage]) -> int:
    for message in messages:
        message.result = SendResult("sent")
    return len(messages)


#: ``dummy://``: a URL without host, port or path.
URL_SCHEMES = {"dummy": URLScheme()}


class DummyBackend(BaseEmailBackend):
    """Does nothing with the messages, but still refuses a batch holding a bad one."""

    name = "dummy"
    url_schemes = URL_SCHEMES

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        return self.deliver_batch(messages, _connect, _discard)

    async def aopen(self) -> bool:
        """Nothing to open (no worker thread either)."""
        return False

    async def aclose(self) -> None:
        """Nothing to close."""

    async def asend_messages(self, messages: Iterable[EmailMessage]) -> int:
        """:meth:`send_messages` on the event loop: it does memory work only."""
        return self.send_messages(messages)
