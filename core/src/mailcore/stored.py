"""A message serialized earlier (in a web process, by Django), sent as it is."""

from __future__ import annotations

import email
import email.policy
from email.message import Message

from mailcore._wire.mime import SerializedMessage
from mailcore.message import EmailMessage

__all__ = ["StoredMessage"]


class StoredMessage(EmailMessage):
    """The bytes of a message rendered earlier, with the envelope fixed when they were made.

    Every backend sends what :meth:`iter_serialized` gives: here always ``data`` (only its
    line ends follow ``linesep``), never a new rendering, so the Message-ID, the date and
    the MIME boundaries are the ones the renderer made (a web process enqueueing it for a
    Celery worker, Django's ``message()``). The envelope is the one given, as given:
    :meth:`envelope_from` and :meth:`envelope_recipients` do not parse it again.
    """

    def __init__(self, data: bytes, envelope_from: str, recipients: list[str]) -> None:
        super().__init__(from_email=envelope_from, to=recipients)
        self.data = data
        self._envelope = (envelope_from, list(dict.fromkeys(recipients)))

    def envelope_from(self) -> str:
        """The envelope sender given."""
        return self._envelope[0]

    def envelope_recipients(self) -> list[str]:
        """The envelope recipients given, duplicates removed (first occurrence kept)."""
        return list(self._envelope[1])

    def iter_serialized(
        self,
        linesep: str = "\n",
        *,
        msgid_domain: str | None = None,
        allow_8bit: bool = True,
        chunk_size: int = 65536,
    ) -> SerializedMessage:
        """The stored bytes, line ends as ``linesep``; never re-encoded (the celery backend
        stores them 7-bit)."""
        return SerializedMessage.from_bytes(self.data, linesep, chunk_size)

    def serialize(
        self, linesep: str = "\n", *, msgid_domain: str | None = None, allow_8bit: bool = True
    ) -> bytes:
        """The stored bytes, line ends as ``linesep``."""
        return self.iter_serialized(linesep).to_bytes()

    def message(self, *, msgid_domain: str | None = None) -> Message:
        """The stored message parsed by the standard library (for inspection)."""
        return email.message_from_bytes(self.data, policy=email.policy.default)
