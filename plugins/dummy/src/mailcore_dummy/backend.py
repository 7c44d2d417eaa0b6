"""The dummy backend: counts messages as sent and discards them."""

from __future__ import annotations

from collections.abc import Sequence

from mailcore import BaseEmailBackend, EmailMessage, SendResult

__all__ = ["DummyBackend"]


class DummyBackend(BaseEmailBackend):
    """Does nothing with the messages, but still refuses bad headers."""

    name = "dummy"

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        for message in messages:
            message.message()
            message.result = SendResult("sent")
        return len(messages)
