"""A base for backends that write readable messages to a text stream (console, file)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from mailcore.backend import BaseEmailBackend
from mailcore.results import SendResult

if TYPE_CHECKING:
    from mailcore.message import EmailMessage

__all__ = ["SEPARATOR", "StreamEmailBackend"]

#: The line written after each message.
SEPARATOR = "-" * 79


class StreamEmailBackend(BaseEmailBackend):
    """Writes each message, then a separator line, to ``self.stream``.

    Subclasses set ``self.stream`` in :meth:`open` (returning True when they did) and
    release it in :meth:`close`. A message whose headers are bad raises
    :class:`~mailcore.errors.BadHeaderError` before anything of it is written.
    """

    stream: TextIO | None

    def __init__(self, fail_silently: bool = False, **options: Any) -> None:
        super().__init__(fail_silently=fail_silently, **options)
        self.stream = None
        self._lock = threading.RLock()

    def write_message(self, message: EmailMessage) -> None:
        """Write one message and its separator line, then flush."""
        assert self.stream is not None, "write_message() needs an open stream"
        text = message.serialize().decode(message.encoding or "utf-8", errors="replace")
        self.stream.write(text if text.endswith("\n") else text + "\n")
        self.stream.write(SEPARATOR + "\n")
        self.stream.flush()

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        if not messages:
            return 0
        sent = 0
        with self._lock:
            try:
                with self.batch():
                    for message in messages:
                        self.write_message(message)
                        message.result = SendResult("sent")
                        sent += 1
            except OSError as exc:
                if messages[sent:]:
                    messages[sent].result = SendResult("failed", error=exc)
                if not self.fail_silently:
                    raise
        return sent
