"""The dummy backend: counts messages as sent and discards them."""

from __future__ import annotations

from collections.abc import Sequence

from mailcore import BaseEmailBackend, EmailMessage, SendResult

__all__ = ["DummyBackend"]


class DummyBackend(BaseEmailBackend):
    """Does nothing with the messages, but still refuses bad headers."""

    name = "dummy"

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        for index, message in enumerate(messages):
            try:
                message.message()
            except BaseException as exc:
                message.result = SendResult("failed", error=exc)
                for later in messages[index + 1 :]:
                    later.result = SendResult.not_attempted(exc)
                raise
            message.result = SendResult("sent")
        return len(messages)
