"""A message serialized in the web process, sent again by a worker exactly as it was."""

from __future__ import annotations

import email
import email.policy
from email.message import Message

from mailcore import EmailMessage, SerializedMessage

__all__ = ["StoredMessage"]


class StoredMessage(EmailMessage):
    """The stored bytes of a message, with the envelope fixed when it was enqueued.

    Every backend sends what :meth:`iter_serialized` gives: here always ``data`` (only its
    line ends follow ``linesep``), never a new rendering, so the Message-ID, the date and
    the MIME boundaries are the ones the web process made.
    """

    def __init__(self, data: bytes, envelope_from: str, recipients: list[str]) -> None:
        super().__init__(from_email=envelope_from, to=recipients)
        self.data = data

    def iter_serialized(
        self,
        linesep: str = "\n",
        *,
        msgid_domain: str | None = None,
        allow_8bit: bool = True,
        chunk_size: int = 65536,
    ) -> SerializedMessage:
        """The stored bytes, line ends as ``linesep`` (they were made 7-bit at enqueue)."""
        return SerializedMessage.from_bytes(self.data, linesep, chunk_size)

    def serialize(
        self, linesep: str = "\n", *, msgid_domain: str | None = None, allow_8bit: bool = True
    ) -> bytes:
        """The stored bytes, line ends as ``linesep``."""
        return self.iter_serialized(linesep).to_bytes()

    def message(self, *, msgid_domain: str | None = None) -> Message:
        """The stored message parsed by the standard library (for inspection)."""
        return email.message_from_bytes(self.data, policy=email.policy.default)
