"""The locmem backend: each sent message is copied into ``mailcore.outbox``."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import mailcore
from mailcore import BaseEmailBackend, EmailMessage, SendResult

__all__ = ["LocmemBackend"]


class LocmemBackend(BaseEmailBackend):
    """Stores a copy of each message in ``mailcore.outbox`` (created on first send).

    The copy is taken at send time, so later changes to a message leave the outbox as it
    was. Headers are checked as for a real send: a bad one raises ``BadHeaderError``.
    """

    name = "locmem"

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        if not hasattr(mailcore, "outbox"):
            mailcore.outbox = []
        for index, message in enumerate(messages):
            try:
                message.message()  # refuse bad headers exactly as a real backend would
            except BaseException as exc:
                message.result = SendResult("failed", error=exc)
                for later in messages[index + 1 :]:
                    later.result = SendResult.not_attempted(exc)
                raise
            message.result = SendResult("sent")
            mailcore.outbox.append(copy.deepcopy(message))
        return len(messages)
