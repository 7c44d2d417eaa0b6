"""The locmem backend: each sent message is copied into ``mailcore.outbox``."""

from __future__ import annotations

import copy
from collections.abc import Iterable

import mailcore
from mailcore import BaseEmailBackend, EmailMessage, SendResult, URLScheme

__all__ = ["LocmemBackend"]


def _connect() -> bool:
    return False  # nothing to open


#: ``locmem://``: a URL without host, port or path.
URL_SCHEMES = {"locmem": URLScheme()}


class LocmemBackend(BaseEmailBackend):
    """Stores a copy of each message in ``mailcore.outbox`` (created on first send).

    The copy is taken at send time, so later changes to a message leave the outbox as it
    was; its ``result.message_id_header`` is the Message-ID the send reported (the copy
    makes a new one each time it is serialized, as any message does). Every message of
    a batch is checked as for a real send before any is stored: a bad header raises
    ``BadHeaderError`` and the outbox gets nothing of the batch. Each stored copy's
    ``sent_using`` is the alias of the mailer it was sent with (``None`` without one).
    """

    name = "locmem"
    url_schemes = URL_SCHEMES

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        return self.deliver_batch(messages, _connect, self._store)

    async def aopen(self) -> bool:
        """Nothing to open (no worker thread either)."""
        return False

    async def aclose(self) -> None:
        """Nothing to close."""

    async def asend_messages(self, messages: Iterable[EmailMessage]) -> int:
        """:meth:`send_messages` on the event loop: it does memory work only."""
        return self.send_messages(messages)

    def _store(self, messages: list[EmailMessage]) -> int:
        if not hasattr(mailcore, "outbox"):
            mailcore.outbox = []
        for message in messages:
            header = self.prepared(message).message_id
            message.result = SendResult("sent", message_id_header=header, mailer=self.alias)
            stored = copy.deepcopy(message)  # its result says which Message-ID
            stored.sent_using = self.alias  # type: ignore[attr-defined]
            mailcore.outbox.append(stored)
        return len(messages)
