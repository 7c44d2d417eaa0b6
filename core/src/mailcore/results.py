"""What a backend reports about each message it was given."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["SendResult"]


@dataclass(slots=True)
class SendResult:
    """The outcome of sending one message, set on ``message.result`` by the backend.

    - ``status``: ``"sent"`` only when the transport accepted the message for at least
      one recipient; ``"unknown"`` when a ``failover`` or ``roundrobin`` backend cannot
      tell (the connection was lost after the content was sent; ``error`` says so);
      ``"queued"`` when a queueing backend (``celery``) stored it for a worker to send
      (``message_id`` is then the task's id); ``"cancelled"`` when a before-send hook
      cancelled it (``mailcore.CancelSend``) or the ``allowed_recipients`` setting left it
      no recipient (``error`` says why; nothing was sent); ``"failed"`` otherwise.
    - ``message_id``: the identifier the transport gave back (an SMTP queue id from the
      final reply, SES's ``MessageId``), or ``None`` when it gave none.
    - ``message_id_header``: the value of the ``Message-ID`` header of the bytes the
      backend sent (``"<...@host>"``); ``None`` when no attempt was made to send them.
    - ``refused``: recipients the transport refused, mapped to its ``(code, text)``.
    - ``cancelled_recipients``: recipients the ``allowed_recipients`` setting dropped,
      mapped to why (the message went to the others, if any).
    - ``error``: the exception that made the message fail (or cancelled it), if any.
    - ``mailer``: the alias of the mailer that sent it (or last tried it), ``None`` for a
      backend made without one (``get_connection("smtp")``).
    """

    status: Literal["sent", "queued", "failed", "unknown", "cancelled"]
    message_id: str | None = None
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    error: BaseException | None = None
    message_id_header: str | None = None
    mailer: str | None = None
    cancelled_recipients: dict[str, str] = field(default_factory=dict)

    @property
    def sent(self) -> bool:
        """True when the transport accepted the message."""
        return self.status == "sent"
