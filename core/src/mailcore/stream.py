"""A base for backends that write readable messages to a stream (console, file)."""

from __future__ import annotations

import codecs
import io
import threading
from collections.abc import Iterable, Sequence
from typing import IO, TYPE_CHECKING, Any, BinaryIO, TextIO, cast

from mailcore.backend import BaseEmailBackend
from mailcore.results import SendResult

if TYPE_CHECKING:
    from mailcore.message import EmailMessage

__all__ = ["SEPARATOR", "StreamEmailBackend"]

#: The line written after each message.
SEPARATOR = "-" * 79
_SEPARATOR_LINE = (SEPARATOR + "\n").encode("ascii")


class StreamEmailBackend(BaseEmailBackend):
    """Writes each message, then a separator line, to ``self.stream``.

    Subclasses set ``self.stream`` in :meth:`open` (returning True when they did) and
    release it in :meth:`close`. A binary stream (such as a file opened ``"wb"``) gets the
    message's bytes as they are; any other stream gets text, decoded with the message's
    ``encoding`` (UTF-8 by default; undecodable bytes replaced). Either way the message is
    written chunk by chunk (:meth:`~mailcore.EmailMessage.iter_serialized`), so a large
    attachment is never held encoded in full. A message whose headers are bad raises
    :class:`~mailcore.errors.BadHeaderError` before anything of it is written.
    """

    stream: TextIO | BinaryIO | None

    def __init__(self, fail_silently: bool = False, **options: Any) -> None:
        super().__init__(fail_silently=fail_silently, **options)
        self.stream = None
        self._lock = threading.RLock()

    def write_message(self, message: EmailMessage) -> None:
        """Write one message and its separator line, then flush."""
        assert self.stream is not None, "write_message() needs an open stream"
        chunks = message.iter_serialized()  # validates everything before a byte is written
        if isinstance(self.stream, io.RawIOBase | io.BufferedIOBase):
            _write_bytes(cast(BinaryIO, self.stream), chunks)
        else:
            _write_text(cast(TextIO, self.stream), chunks, message.encoding or "utf-8")
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
            except BaseException as exc:
                if sent == len(messages):
                    # Closing the batch failed (the file backend's file was not kept).
                    sent = 0
                    for message in messages:
                        message.result = SendResult("failed", error=exc)
                else:
                    messages[sent].result = SendResult("failed", error=exc)
                    for later in messages[sent + 1 :]:
                        later.result = SendResult.not_attempted(exc)
                if not (isinstance(exc, OSError) and self.fail_silently):
                    raise
        return sent


def _write_all(stream: IO[bytes], data: bytes) -> None:
    """Write all of ``data``: an unbuffered stream may take only part of it per call."""
    view = memoryview(data)
    while view:
        written = stream.write(view)
        view = view[len(view) if written is None else written :]


def _write_bytes(stream: IO[bytes], chunks: Iterable[bytes]) -> None:
    last = b"\n"
    for chunk in chunks:
        if chunk:
            _write_all(stream, chunk)
            last = chunk
    if not last.endswith(b"\n"):
        _write_all(stream, b"\n")
    _write_all(stream, _SEPARATOR_LINE)


def _write_text(stream: IO[str], chunks: Iterable[bytes], encoding: str) -> None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    last = "\n"
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            stream.write(text)
            last = text
    text = decoder.decode(b"", final=True)
    if text:
        stream.write(text)
        last = text
    if not last.endswith("\n"):
        stream.write("\n")
    stream.write(SEPARATOR + "\n")
